"""Who is asking: the request context for HTTP and WebSocket, the viewer, the client address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from strawberry.types import Info

from domains.accounts.models import AuthSession, User
from domains.accounts.services import authenticate_access_token
from domains.accounts.tokens import InvalidAccessToken
from domains.common.authcache import RequestVersions
from festival.logging import bind


@dataclass
class Viewer:
    user: User
    session: AuthSession


_UNRESOLVED = object()


@dataclass
class FestivalContext:
    """HTTP context. The viewer is resolved on first use: public queries pay nothing."""

    request: HttpRequest
    response: HttpResponse
    _viewer: Any = field(default=_UNRESOLVED)
    # Set when an Authorization header was present but refused (expired, revoked, forged).
    auth_error: str | None = None
    # Versions of cached credentials read for this request (one MGET for the viewer and the
    # scanner's device, domains/common/authcache.py).
    auth_versions: RequestVersions = field(default_factory=RequestVersions)

    # strawberry_django helpers read context.request / context["request"]
    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    @property
    def viewer(self) -> Viewer | None:
        if self._viewer is _UNRESOLVED:
            from domains.scanning.services.devices import device_scopes_for_token

            # A scanner sends its device token too: its device's version comes in the same read.
            self.auth_versions.want(device_scopes_for_token(self.request.headers.get("X-Device-Token")))
            self._viewer, self.auth_error = viewer_from_authorization(
                self.request.headers.get("Authorization", ""), versions=self.auth_versions
            )
        return self._viewer


def viewer_from_authorization(header: str, *, versions: RequestVersions | None = None) -> tuple[Viewer | None, str | None]:
    """(viewer, None) for a valid `Bearer <access token>`; (None, reason) otherwise."""
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "invalid"
    try:
        user, session = authenticate_access_token(token.strip(), versions=versions)
    except InvalidAccessToken as exc:
        return None, exc.reason
    bind(user_id=str(user.public_id))
    return Viewer(user, session), None


def get_viewer(info: Info) -> Viewer | None:
    context = info.context
    if isinstance(context, FestivalContext):
        return context.viewer
    # WebSocket: festival/asgi.py authenticates at connection_init and stores the viewer.
    return context.get("viewer") if isinstance(context, dict) else None


def require_viewer(info: Info) -> Viewer:
    viewer = get_viewer(info)
    if viewer is None:  # permission classes run first; this guards a forgotten one
        raise PermissionError("authentication required")
    return viewer


def client_ip(info_or_request) -> str:
    """The socket peer, or the first untrusted hop of X-Forwarded-For behind a trusted proxy;
    over HTTP (a request) and over a WebSocket (the ASGI scope of its connection) alike."""
    request = info_or_request
    if isinstance(info_or_request, Info):
        context = info_or_request.context
        request = context.request if isinstance(context, FestivalContext) else None
        if request is None:
            scope = getattr(context.get("request"), "scope", {}) if isinstance(context, dict) else {}
            return client_ip_of_scope(scope)
    return _behind_proxies(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def client_ip_of_scope(scope: dict) -> str:
    """`client_ip` of an ASGI connection: behind the proxy every WebSocket's peer is the proxy,
    and all of them would share one address's limits."""
    forwarded = b",".join(value for name, value in scope.get("headers", ()) if name.lower() == b"x-forwarded-for")
    return _behind_proxies((scope.get("client") or [""])[0], forwarded.decode("latin-1"))


def _behind_proxies(peer: str, forwarded_for: str) -> str:
    """Walking X-Forwarded-For from the right (the hop our proxy appended), the first address
    outside the trusted networks; the peer when every hop is trusted.

    A hop is an address, with a port if the proxy appends one (`1.2.3.4:5678`,
    `[2001:db8::1]:443`, as some load balancers do): the port is dropped, so that one client is
    one address. A hop that is no address (`unknown`, a client's own text when the client sits
    in the proxies' range, a scoped `fe80::1%eth0`) ends the walk as the end of the list would:
    nobody we trust vouched for it. It was returned as the client's "address", which the PassKit
    log stores in an inet column (the report was refused with a 400) and which rate limits key
    on. An address is returned in its one canonical spelling, so that two spellings of one IPv6
    address are one client."""
    peer = peer or "unknown"
    trusted = settings.TRUSTED_PROXIES
    if not trusted or not _in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        if not _in_networks(address, trusted):
            return address
    return peer


def _address(text: str) -> str | None:
    """The IP address a hop names, canonical and without its port; None when it names none."""
    host = text
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        host, _, rest = text[1:].partition("]")
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
    elif text.count(":") == 1:  # IPv4:port (a bare IPv6 address has several colons)
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if getattr(ip, "scope_id", None):  # a zone of the proxy's own host: no client's address
        return None
    return str(ip)


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def user_agent(info: Info) -> str:
    context = info.context
    if isinstance(context, FestivalContext):
        return context.request.headers.get("User-Agent", "")[:200]
    return ""
