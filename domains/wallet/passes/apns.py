"""Apple Push Notification requests that tell Wallet a pass has changed.

Wallet's update protocol: when a ticket changes (voided, transferred, upgraded), the server
sends a push to every device registered for the pass; the device then calls our web service
(`webServiceURL`) to fetch the new `.pkpass`. The push itself carries nothing:

- it goes to `POST /3/device/<pushToken>` over HTTP/2, production host `api.push.apple.com`
  (the sandbox host exists for app pushes; Wallet devices register production tokens);
- the topic (`apns-topic`) is the pass type identifier, not an app bundle id;
- the payload is an empty JSON dictionary `{}`; alert text comes from `changeMessage` in
  pass.json, never from the push;
- authentication is TLS with the Pass Type ID certificate and key (the same ones that sign the
  pass), which is why `HttpxApnsTransport` takes a certificate, not a JWT.

We send `apns-push-type: background` with `apns-priority: 5` because Apple recommends a push
type on every request and requires priority 5 for background pushes. A 410 status means the
token is no longer valid: the registration should be deleted (see `should_unregister`).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Protocol

PRODUCTION_HOST = "api.push.apple.com"
SANDBOX_HOST = "api.sandbox.push.apple.com"
EMPTY_PAYLOAD = b"{}"
_TOKEN = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True)
class ApnsRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = EMPTY_PAYLOAD


def build_apns_push_request(push_token: str, topic: str, *, production: bool = True
                            ) -> ApnsRequest:
    """The "pass updated" push for one registered device; `topic` is the pass type id."""
    if not _TOKEN.match(push_token or ""):
        # Tokens are hex; anything else would build a different URL path than intended.
        raise ValueError("push token must be a hexadecimal string")
    if not topic.startswith("pass."):
        raise ValueError("topic must be the pass type identifier (pass.…)")
    host = PRODUCTION_HOST if production else SANDBOX_HOST
    return ApnsRequest(
        method="POST",
        url=f"https://{host}/3/device/{push_token.lower()}",
        headers={
            "apns-topic": topic,
            "apns-push-type": "background",
            "apns-priority": "5",
            "content-type": "application/json",
        },
        body=EMPTY_PAYLOAD,
    )


def should_unregister(status: int) -> bool:
    """410 Gone: the device no longer accepts pushes for this token; drop the registration."""
    return status == 410


class ApnsTransport(Protocol):
    """Something that delivers an ApnsRequest and returns the HTTP status."""

    def send(self, request: ApnsRequest) -> int: ...


class HttpxApnsTransport:
    """Sends pushes with httpx over HTTP/2, authenticated by the Pass Type ID certificate.

    APNs only speaks HTTP/2, so production needs the `h2` package (`httpx[http2]`); it is
    imported on first use so that this module, and tests using a fake transport, work
    without it. The client is created lazily and reused: APNs asks senders to keep
    connections open rather than reconnecting for each push.
    """

    def __init__(self, cert_path: str, key_path: str, *, key_password: str | None = None,
                 timeout: float = 10.0) -> None:
        self._cert_path, self._key_path = cert_path, key_path
        self._key_password, self._timeout = key_password, timeout
        self._client = None

    def _get_client(self):
        if self._client is None:
            try:
                import h2  # noqa: F401
            except ImportError as exc:
                raise RuntimeError("APNs needs HTTP/2: install the 'h2' package") from exc
            import httpx

            # An SSL context rather than httpx's `cert=` argument, deprecated since 0.28.
            context = ssl.create_default_context()
            context.load_cert_chain(self._cert_path, self._key_path, self._key_password)
            self._client = httpx.Client(http2=True, verify=context, timeout=self._timeout)
        return self._client

    def send(self, request: ApnsRequest) -> int:
        response = self._get_client().request(request.method, request.url,
                                              headers=request.headers, content=request.body)
        return response.status_code

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def send_pass_update(transport: ApnsTransport, push_tokens: list[str], topic: str, *,
                     production: bool = True) -> dict[str, int]:
    """Push to every token; return status per token so the caller can prune 410s."""
    return {token: transport.send(build_apns_push_request(token, topic, production=production))
            for token in push_tokens}
