"""One ASGI application: HTTP (Django: /graphql/, /api/, /admin/) and WebSocket
subscriptions on /graphql/ (graphql-transport-ws through Django Channels)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import uuid
from urllib.parse import urlsplit

import django
from channels.db import database_sync_to_async
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.urls import re_path
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")
django.setup()

django_http = get_asgi_application()

from domains.accounts.services.authentication import authenticate_claims  # noqa: E402
from domains.accounts.tokens import AccessClaims, InvalidAccessToken  # noqa: E402
from festival.logging import bind  # noqa: E402
from schema.context import Viewer, viewer_from_authorization  # noqa: E402
from schema.extensions import mask_errors  # noqa: E402
from schema.permissions import STAFF_ROLES  # noqa: E402
from schema.schema import schema  # noqa: E402

SUBSCRIBER_ROLES = frozenset(STAFF_ROLES)

log = logging.getLogger(__name__)


def reauthenticate(claims: AccessClaims) -> Viewer | None:
    """The socket's viewer now, by HTTP's rules (`authenticate_claims`, through the same
    per-process cache: one MGET of versions in Redis when nothing changed): a logout, a password
    or role change, a deactivation or an erasure refuses the socket as it refuses the next
    request. None when refused.

    Expiry is deliberately not a reason: a dashboard stays open for hours, an access token lives
    minutes, and graphql-transport-ws has no way to hand the socket a refreshed one. The claims
    of the token shown at connection_init are checked, so the socket lives as long as its
    session, like the refresh token its client holds."""
    try:
        user, session = authenticate_claims(claims)
    except InvalidAccessToken:
        return None
    return Viewer(user, session)


def websocket_origins() -> tuple[str, ...]:
    """Browsers send an Origin with every WebSocket handshake, and strawberry refuses any origin
    but the server's own unless listed: the dashboard is served from the site's origins
    (FRONTEND_URL and CORS_EXTRA_ORIGINS, the CORS list), so those may connect. Others are
    still refused (403), although a socket only acts for the token sent in connection_init."""
    origins = []
    for url in settings.CORS_ALLOWED_ORIGINS:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(origins)


def protocol_violation(message: object) -> str | None:
    """Why a client's message is not one graphql-transport-ws defines (the socket is closed with
    4400 and this reason), or None. strawberry indexes messages without checking their shape: a
    frame that is not an object, an id that is not a string, a payload or query of another type
    raised TypeError in its handler, which then ignored every later message. The shapes are the
    protocol's (a non-empty query, as over HTTP, where the same request is a 400)."""
    if not isinstance(message, dict):
        return "WebSocket message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "Message type must be a string"
    if kind not in ("subscribe", "complete"):
        return None  # connection_init, ping and pong strawberry checks; unknown types it refuses
    if not isinstance(message.get("id"), str) or not message["id"]:
        return "Operation id must be a non-empty string"
    if kind == "complete":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "Subscribe payload must be an object"
    if not isinstance(payload.get("query"), str) or not payload["query"]:
        return "Subscribe query must be a non-empty string"
    if not isinstance(payload.get("operationName"), (str, type(None))):
        return "Subscribe operationName must be a string or null"
    for field in ("variables", "extensions"):
        if not isinstance(payload.get(field), (dict, type(None))):
            return f"Subscribe {field} must be an object or null"
    return None


class FestivalTransportWSHandler(BaseGraphQLTransportWSHandler):
    """strawberry's graphql-transport-ws handler, with every client message checked first, a
    document that does not parse answered as an `error` message for its operation, and the viewer
    authenticated again before every operation (FestivalWSConsumer.reauthenticate).

    `_send_result_stream` and `_get_pre_execution_close_reason` are strawberry's internals (0.341):
    tests/scanning/test_websocket_robustness.py fails if an upgrade renames or reshapes them."""

    async def handle_message(self, message) -> None:
        if (reason := protocol_violation(message)) is not None:
            await self.handle_invalid_message(reason)
            return
        if message["type"] == "subscribe" and self.connection_acknowledged:
            # Before the operation starts: a viewer refused since connection_init (logout, role
            # change, deactivation) is answered by the field's permissions (UNAUTHENTICATED,
            # FORBIDDEN), as over HTTP, and the socket is then closed (run_operation).
            await self.view.reauthenticate(self.context)
        await super().handle_message(message)

    async def run_operation(self, operation) -> None:
        try:
            await super().run_operation(operation)
        finally:
            # Its refusal (an `error`, or `next` with errors and `complete`) has been sent: a
            # viewer who may subscribe to nothing any more keeps no socket, as at connection_init.
            if self.view.refused:
                await self.view.close_refused()

    async def _send_result_stream(self, operation, result_source) -> None:
        try:
            await super()._send_result_stream(operation, result_source)
        except GraphQLError as error:
            # strawberry turns a parse error into a pre-execution error only when its own parse
            # raises it; ParserCache (schema/extensions.py) parses in its on_parse hook, outside
            # that try, so the syntax error (or MaxTokensLimiter's) ends the stream as an
            # exception: over HTTP Schema.execute catches it, here strawberry logged "Exception in
            # worker task" and sent a bare `complete`. Logged as a refusal, masked like any answer.
            self.schema.process_errors([error])
            await operation.send_initial_errors(mask_errors([error]))

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # strawberry closes the whole socket (4400) for a syntax error in one operation, when the
        # error reaches it as a result (strawberry's own parse, without ParserCache): answer it
        # as above instead, an `error` message, and the dashboard's other subscriptions go on.
        if isinstance(error, GraphQLSyntaxError):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)


def close_reason(reason: str | None) -> str | None:
    """A close frame's reason is at most 123 bytes of UTF-8; strawberry's quote the client
    ("Unknown message type: ...", an operation name), which may be longer or hold a lone
    surrogate, and the close itself then failed (no close frame at all)."""
    if not reason:
        return reason
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= 123:
        return encoded.decode("utf-8")
    return encoded[:120].decode("utf-8", "ignore") + "..."


class FestivalWSConsumer(GraphQLWSConsumer):
    """Authenticates at connection_init, with the same Bearer token as HTTP, and again before
    every operation, and while a subscription runs at most every few seconds (it asks through
    context["reauthenticate"]: schema/scanning/subscriptions.py REAUTHENTICATE). See the function
    `reauthenticate` for what an expiring token means to an open socket.

    Speaks graphql-transport-ws only, the protocol our dashboard uses; the older graphql-ws
    protocol (strawberry's other default) is one more handler to keep safe for no client."""

    graphql_transport_ws_handler_class = FestivalTransportWSHandler

    def __init__(self, *args, **kwargs):
        # Built per connection, so the timeout is the settings' value now (an operator's, a test's).
        kwargs["subscription_protocols"] = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        kwargs["connection_init_wait_timeout"] = dt.timedelta(seconds=settings.WS_CONNECTION_INIT_TIMEOUT)
        kwargs["allowed_origins"] = websocket_origins()
        super().__init__(*args, **kwargs)
        self._claims: AccessClaims | None = None
        self._auth_checked = 0.0  # event-loop time of the last check
        self._auth_lock = asyncio.Lock()  # the socket's operations share one check at a time
        self._closed_refused = False
        self.refused = False

    async def reauthenticate(self, context, max_age: float = 0.0) -> Viewer | None:
        """context["viewer"] checked again (if its last check is older than `max_age` seconds)
        and replaced: None once refused, and then for good. The field's permissions decide
        from it, as ever. Sets `refused` when the viewer may subscribe to nothing any more."""
        async with self._auth_lock:
            viewer = context.get("viewer")
            loop = asyncio.get_running_loop()
            if viewer is None or loop.time() - self._auth_checked < max_age:
                return viewer
            try:
                viewer = await database_sync_to_async(reauthenticate)(self._claims)
            except Exception:  # the database unreachable: as for the figures, keep and retry later
                log.warning("websocket viewer re-check failed", exc_info=True)
                return viewer
            self._auth_checked = loop.time()
            context["viewer"] = viewer
            if viewer is None or viewer.user.role not in SUBSCRIBER_ROLES:
                self.refused = True
            return viewer

    async def close_refused(self) -> None:
        if not self._closed_refused:
            self._closed_refused = True
            await self.close(code=4403, reason="Forbidden")

    def decode_json(self, data):
        try:
            return super().decode_json(data)
        except RecursionError:
            # Nested deeper than the interpreter's recursion limit ('[' * 1000): strawberry only
            # answers JSONDecodeError (close 4400), anything else went unhandled.
            raise json.JSONDecodeError("JSON nested too deeply", data if isinstance(data, str) else "", 0) from None

    async def close(self, code=None, reason=None):
        await super().close(code=code, reason=close_reason(reason))

    async def on_ws_connect(self, context):
        # Logs of this connection's operations carry an id of their own, like an HTTP request's.
        bind(request_id=uuid.uuid4().hex, transport="websocket")
        params = context.get("connection_params") or {}
        header = params.get("Authorization") or params.get("authorization") or ""
        if not isinstance(header, str):
            raise ConnectionRejectionError()
        if not header.isascii():
            # A token is ASCII (a JWT). JSON may carry any text, a lone surrogate included, which
            # PyJWT cannot even encode (UnicodeEncodeError); HTTP headers never hold one.
            raise ConnectionRejectionError({"reason": "invalid token"})
        viewer, error = await database_sync_to_async(viewer_from_authorization)(header)
        if error is not None:
            raise ConnectionRejectionError({"reason": "invalid token"})
        # Every subscription today is a staff dashboard (scanStatsUpdated): refuse anyone else
        # at connection_init rather than keep idle sockets of people who can subscribe to nothing.
        if viewer is None or viewer.user.role not in SUBSCRIBER_ROLES:
            raise ConnectionRejectionError({"reason": "forbidden"})
        context["viewer"] = viewer
        # Checked again later (`reauthenticate`); subscriptions ask through the context.
        # What the token claimed, as authenticated just now (the same version, or it was refused).
        self._claims = AccessClaims(viewer.user.public_id, viewer.session.id, viewer.user.token_version)
        self._auth_checked = asyncio.get_running_loop().time()
        context["reauthenticate"] = lambda max_age=0.0: self.reauthenticate(context, max_age)
        return None


application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": URLRouter(
            [re_path(r"^graphql/?$", FestivalWSConsumer.as_asgi(schema=schema, keep_alive=True, keep_alive_interval=15))]
        ),
    }
)

from festival.gc_tuning import settle_after_start  # noqa: E402

settle_after_start()
