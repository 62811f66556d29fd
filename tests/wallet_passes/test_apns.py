"""APNs "pass updated" pushes: request shape, and delivery through a recording transport."""

from __future__ import annotations

import pytest

from domains.wallet.passes.apns import (
    ApnsRequest,
    HttpxApnsTransport,
    build_apns_push_request,
    send_pass_update,
    should_unregister,
)

TOKEN = "a1b2c3d4" * 8
TOPIC = "pass.org.example.festival"


class RecordingTransport:
    def __init__(self, statuses: dict[str, int] | None = None) -> None:
        self.sent: list[ApnsRequest] = []
        self.statuses = statuses or {}

    def send(self, request: ApnsRequest) -> int:
        self.sent.append(request)
        return self.statuses.get(request.url.rsplit("/", 1)[1], 200)


def test_production_request():
    request = build_apns_push_request(TOKEN, TOPIC, production=True)
    assert request.method == "POST"
    assert request.url == f"https://api.push.apple.com/3/device/{TOKEN}"
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    assert request.body == b"{}"


def test_sandbox_request():
    request = build_apns_push_request(TOKEN, TOPIC, production=False)
    assert request.url == f"https://api.sandbox.push.apple.com/3/device/{TOKEN}"


@pytest.mark.parametrize("token, topic", [
    ("not-hex/../x", TOPIC),
    ("", TOPIC),
    (TOKEN, "org.example.app"),
])
def test_rejects_bad_token_or_topic(token, topic):
    with pytest.raises(ValueError):
        build_apns_push_request(token, topic, production=True)


def test_send_pass_update_reports_status_per_token():
    gone = "ff" * 32
    transport = RecordingTransport({gone: 410})
    statuses = send_pass_update(transport, [TOKEN, gone], TOPIC)
    assert statuses == {TOKEN: 200, gone: 410}
    assert [r.url.rsplit("/", 1)[1] for r in transport.sent] == [TOKEN, gone]
    assert all(r.body == b"{}" and r.headers["apns-topic"] == TOPIC for r in transport.sent)
    assert [t for t, s in statuses.items() if should_unregister(s)] == [gone]


def test_httpx_transport_explains_missing_h2(tmp_path, monkeypatch):
    # h2 is a production dependency; hide it to check the message a broken install gets.
    import sys

    monkeypatch.setitem(sys.modules, "h2", None)
    transport = HttpxApnsTransport(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    with pytest.raises(RuntimeError, match="h2"):
        transport.send(build_apns_push_request(TOKEN, TOPIC, production=True))
