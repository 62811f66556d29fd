"""Recording transports for pass updates (settings.WALLET_*_TRANSPORT point at the factories)."""

from __future__ import annotations

import threading

from domains.wallet.passes import google


class RecordingApnsTransport:
    def __init__(self) -> None:
        self.sent = []
        self.statuses: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, request) -> int:
        with self._lock:
            self.sent.append(request)
        return self.statuses.get(request.url.rsplit("/", 1)[1], 200)


class RecordingGoogleTransport:
    def __init__(self) -> None:
        self.sent = []
        self.patch_status = 200
        self._lock = threading.Lock()

    def send(self, request):
        with self._lock:
            self.sent.append(request)
        if isinstance(request, google.FormRequest):
            return 200, {"access_token": "ya29.test-token", "expires_in": 3600}
        return self.patch_status, {}

    @property
    def patches(self):
        return [r for r in self.sent if isinstance(r, google.JsonRequest)]


APNS = RecordingApnsTransport()
GOOGLE = RecordingGoogleTransport()


def recording_apns() -> RecordingApnsTransport:
    return APNS


def recording_google() -> RecordingGoogleTransport:
    return GOOGLE


def reset() -> None:
    APNS.sent.clear()
    APNS.statuses.clear()
    GOOGLE.sent.clear()
    GOOGLE.patch_status = 200
