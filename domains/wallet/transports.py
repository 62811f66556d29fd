"""How pass updates leave the building: APNs pushes and Google Wallet REST calls.

Chosen by settings so that tests and development never reach Apple or Google:
WALLET_APNS_TRANSPORT / WALLET_GOOGLE_TRANSPORT = "apns" / "http" (real), "log" (development:
log the request, answer 200), or a dotted path to a zero-argument factory returning a transport
(tests use one that records every request).
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
import time
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from domains.wallet.passes import google
from domains.wallet.passes.apns import ApnsRequest, ApnsTransport, HttpxApnsTransport

log = logging.getLogger(__name__)


class LoggingApnsTransport:
    def send(self, request: ApnsRequest) -> int:
        # The token identifies a device: log only its tail.
        log.info("wallet: APNs push (not sent, development) to …%s topic %s", request.url[-6:], request.headers.get("apns-topic"))
        return 200


def _pem_file(source: str | bytes, name: str) -> str:
    """ssl wants files: a path is used as is, PEM contents are written once to a private file."""
    if isinstance(source, str) and not source.lstrip().startswith("-----BEGIN"):
        return source
    folder = tempfile.mkdtemp(prefix="wallet-apns-")  # 0700
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source if isinstance(source, bytes) else source.encode())
    return path


@functools.lru_cache(maxsize=2)
def _real_apns_transport(cert_source, key_source, password: str) -> HttpxApnsTransport:
    # One client per process: APNs wants senders to keep their HTTP/2 connection open.
    return HttpxApnsTransport(_pem_file(cert_source, "cert.pem"), _pem_file(key_source, "key.pem"),
                              key_password=password or None, timeout=settings.WALLET_HTTP_TIMEOUT)


def apns_transport() -> ApnsTransport:
    choice = settings.WALLET_APNS_TRANSPORT
    if choice == "log":
        return LoggingApnsTransport()
    if choice == "apns":
        from domains.wallet.credentials import apple_credentials

        certs = apple_credentials().certificates
        return _real_apns_transport(settings.APPLE_PASS_CERTIFICATE or certs.certificate_pem,
                                    settings.APPLE_PASS_KEY or certs.private_key_pem, settings.APPLE_PASS_KEY_PASSWORD)
    return import_string(choice)()


class GoogleTransport(Protocol):
    """Sends a google.JsonRequest or google.FormRequest; returns (HTTP status, parsed JSON body)."""

    def send(self, request: google.JsonRequest | google.FormRequest) -> tuple[int, dict]: ...


class LoggingGoogleTransport:
    def send(self, request):
        log.info("wallet: Google Wallet %s %s (not sent, development)", request.method, request.url.split("?")[0])
        if isinstance(request, google.FormRequest):
            return 200, {"access_token": "development", "expires_in": 3600}
        return 200, {}


class HttpxGoogleTransport:
    def __init__(self, timeout: float) -> None:
        import httpx

        self._client = httpx.Client(timeout=timeout)

    def send(self, request):
        if isinstance(request, google.FormRequest):
            response = self._client.request(request.method, request.url, headers=request.headers, data=request.form_body)
        else:
            response = self._client.request(request.method, request.url, headers=request.headers, json=request.json_body)
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}


@functools.lru_cache(maxsize=1)
def _real_google_transport(timeout: int) -> HttpxGoogleTransport:
    return HttpxGoogleTransport(timeout)


def google_transport() -> GoogleTransport:
    choice = settings.WALLET_GOOGLE_TRANSPORT
    if choice == "log":
        return LoggingGoogleTransport()
    if choice == "http":
        return _real_google_transport(settings.WALLET_HTTP_TIMEOUT)
    return import_string(choice)()


class GoogleApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


_token_lock = threading.Lock()
_token_cache: dict[str, tuple[str, float]] = {}


def google_access_token(transport: GoogleTransport, service_account: dict) -> str:
    """An OAuth access token for the Wallet API, reused until a minute before it expires."""
    email = service_account["client_email"]
    with _token_lock:
        cached = _token_cache.get(email)
        if cached and cached[1] > time.time() + 60:
            return cached[0]
    status, body = transport.send(google.build_service_account_token_request(service_account))
    token = body.get("access_token")
    if status != 200 or not token:
        raise GoogleApiError(status, f"Google token endpoint answered {status}")
    with _token_lock:
        _token_cache[email] = (token, time.time() + int(body.get("expires_in", 3600)))
    return token


def google_patch_object(transport: GoogleTransport, service_account: dict, object_id: str, changes: dict) -> int:
    """PATCH an EventTicketObject; returns the status (404: the user never saved it)."""
    token = google_access_token(transport, service_account)
    status, _ = transport.send(google.build_object_patch_request(object_id, changes, token))
    if status == 401:  # token revoked or expired early: forget it, the retry fetches another
        with _token_lock:
            _token_cache.pop(service_account["client_email"], None)
    return status
