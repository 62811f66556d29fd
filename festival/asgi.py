"""One ASGI application: HTTP (Django: /graphql/, /api/, /admin/) and WebSocket
subscriptions on /graphql/ (graphql-transport-ws through Django Channels)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from urllib.parse import urlsplit

import django
from channels.db import database_sync_to_async
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.urls import re_path
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")
django.setup()

django_http = get_asgi_application()

from festival.logging import bind  # noqa: E402
from schema.context import viewer_from_authorization  # noqa: E402
from schema.permissions import STAFF_ROLES  # noqa: E402
from schema.schema import schema  # noqa: E402

SUBSCRIBER_ROLES = frozenset(STAFF_ROLES)


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


class FestivalWSConsumer(GraphQLWSConsumer):
    """Authenticates once, at connection_init, with the same Bearer token as HTTP.

    Speaks graphql-transport-ws only, the protocol our dashboard uses; the older graphql-ws
    protocol (strawberry's other default) is one more handler to keep safe for no client."""

    def __init__(self, *args, **kwargs):
        # Built per connection, so the timeout is the settings' value now (an operator's, a test's).
        kwargs["subscription_protocols"] = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        kwargs["connection_init_wait_timeout"] = dt.timedelta(seconds=settings.WS_CONNECTION_INIT_TIMEOUT)
        kwargs["allowed_origins"] = websocket_origins()
        super().__init__(*args, **kwargs)

    async def on_ws_connect(self, context):
        # Logs of this connection's operations carry an id of their own, like an HTTP request's.
        bind(request_id=uuid.uuid4().hex, transport="websocket")
        params = context.get("connection_params") or {}
        header = params.get("Authorization") or params.get("authorization") or ""
        if not isinstance(header, str):
            raise ConnectionRejectionError()
        viewer, error = await database_sync_to_async(viewer_from_authorization)(header)
        if error is not None:
            raise ConnectionRejectionError({"reason": "invalid token"})
        # Every subscription today is a staff dashboard (scanStatsUpdated): refuse anyone else
        # at connection_init rather than keep idle sockets of people who can subscribe to nothing.
        if viewer is None or viewer.user.role not in SUBSCRIBER_ROLES:
            raise ConnectionRejectionError({"reason": "forbidden"})
        context["viewer"] = viewer
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
