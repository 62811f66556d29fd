"""`scanStatsUpdated` end to end: uvicorn serving festival.asgi in a thread of this process, a
real WebSocket client speaking graphql-transport-ws, scans committed over HTTP."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import httpx
import pytest
from django.db import connection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from domains.tickets.qr import qr_encode
from tests.scanning.conftest import SCAN

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIPTION = "subscription($e: ID) { scanStatsUpdated(eventId: $e) { admittedTickets admissions refusals { key count } } }"


@contextmanager
def _open(server, token, origin=None):
    with connect(f"ws://{server}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=5, origin=origin) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        yield ws


def _recv(ws, timeout=5.0) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] not in ("ping", "pong"):
            return message


def _scan(server, setup, ticket, nonce):
    # SQLite's shared-cache in-memory test database answers "table is locked" (not retried by
    # its busy timeout) when the subscription reads while a scan writes; a scanner retries
    # with the same nonce, which is safe. PostgreSQL never needs the retry.
    for _attempt in range(5):
        response = httpx.post(
            f"http://{server}/graphql/",
            json={"query": SCAN, "variables": {"code": qr_encode(ticket), "deviceId": str(setup["device"].public_id), "nonce": nonce}},
            headers={"Authorization": f"Bearer {setup['staff_token']}", "X-Device-Token": setup["device_token"]},
            timeout=10,
        )
        data = response.json().get("data")
        if data and data["scanCommit"]["result"]:
            return data["scanCommit"]["result"]["verdict"]
        assert connection.vendor == "sqlite", response.text
        time.sleep(0.2)
    raise AssertionError(response.text)


def test_staff_receives_current_then_updated_stats(server, setup):
    # One admission before anyone listens: a late client gets it at once.
    assert _scan(server, setup, setup["tickets"][0], "n0") == "ADMITTED"
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"e": str(setup["festival"].public_id)}}}))
        first = _recv(ws)
        assert first["type"] == "next" and first["payload"]["data"]["scanStatsUpdated"]["admittedTickets"] == 1

        assert _scan(server, setup, setup["tickets"][1], "n1") == "ADMITTED"
        assert _scan(server, setup, setup["tickets"][1], "n1b") == "ALREADY_USED"
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = _recv(ws, timeout=10)["payload"]["data"]["scanStatsUpdated"]
            seen.append(stats)
            if stats["admittedTickets"] == 2 and stats["refusals"]:
                break
        assert seen[-1]["admittedTickets"] == 2 and seen[-1]["refusals"] == [{"key": "ALREADY_USED", "count": 1}]

        # A burst of scans: pushes are coalesced, and the last one shows the final figures.
        started = time.monotonic()
        for i, ticket in enumerate(setup["tickets"][2:]):
            _scan(server, setup, ticket, f"burst{i}")
        burst_seconds = time.monotonic() - started
        pushes = []
        deadline = time.monotonic() + 10  # generous: the machine running this may be loaded
        while time.monotonic() < deadline and not (pushes and pushes[-1]["admittedTickets"] == 12):
            try:
                pushes.append(_recv(ws, timeout=max(0.1, deadline - time.monotonic()))["payload"]["data"]["scanStatsUpdated"])
            except TimeoutError:
                break
        burst_seconds = time.monotonic() - started
        assert pushes and pushes[-1]["admittedTickets"] == 12
        assert len(pushes) <= 2 + int((burst_seconds + 2) / 0.3), (len(pushes), burst_seconds)


def test_attendee_connection_init_is_refused(server, setup):
    with _open(server, setup["attendee_token"]) as ws, pytest.raises(ConnectionClosed) as closed:
        _recv(ws)
    assert closed.value.rcvd.code == 4403
    with connect(f"ws://{server}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=5) as anonymous:
        anonymous.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            _recv(anonymous)
    assert closed.value.rcvd.code == 4403


def test_resolver_exception_reaches_the_client_as_a_generic_message(server, setup, monkeypatch, caplog):
    import domains.scanning.selectors as selectors

    def broken(**kwargs):
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(selectors, "scan_stats", broken)
    _assert_masked_over_the_socket(server, setup, SUBSCRIPTION, caplog)


@pytest.mark.parametrize(
    "target, query",
    [
        # graphql-core's subscribe itself failing, outside any field.
        ("subscribe", SUBSCRIPTION),
        # A query sent over the socket: graphql-core's execute failing, outside any field.
        ("execute", "query { __typename }"),
    ],
)
def test_an_exception_outside_any_field_is_masked_over_the_socket(server, setup, monkeypatch, caplog, target, query):
    """Over HTTP such an error slipped past MaskErrors (the view masks it now); strawberry's stream
    path hands every result, these included, to the extensions' on_stream_result first."""
    import strawberry.schema.schema as strawberry_schema

    def broken(*args, **kwargs):
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(strawberry_schema, target, broken)
    _assert_masked_over_the_socket(server, setup, query, caplog)


def _assert_masked_over_the_socket(server, setup, query, caplog):
    """Subscribing as staff, the first answer carries only the generic message; the secret was
    raised (and logged), not merely never reached."""
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"e": str(setup["festival"].public_id)}}}))
        raw = ws.recv(timeout=5)
        assert "secret-internal-detail" not in raw, raw
        message = json.loads(raw)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["message"] for e in errors] == ["Internal server error."]
    assert "secret-internal-detail" in caplog.text


def test_only_graphql_transport_ws_is_spoken(server, setup):
    """The older graphql-ws protocol is refused at the handshake, before any message."""
    with connect(f"ws://{server}/graphql/", subprotocols=["graphql-ws"], open_timeout=5) as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as closed:
            _recv(ws)
        assert closed.value.rcvd.code == 4406


def test_a_socket_that_never_authenticates_is_closed(server, setup, settings):
    settings.WS_CONNECTION_INIT_TIMEOUT = 1
    with connect(f"ws://{server}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            _recv(ws, timeout=10)
        assert closed.value.rcvd.code == 4408
        assert 0.9 <= time.monotonic() - started < 8


def test_the_sites_own_origin_may_open_the_dashboards_socket(server, setup, settings):
    """A browser on FRONTEND_URL (or CORS_EXTRA_ORIGINS) sends that Origin with the handshake."""
    settings.CORS_ALLOWED_ORIGINS = ["https://festival.example", "https://staff.festival.example/"]
    for origin in ("https://festival.example", "https://staff.festival.example"):
        with _open(server, setup["staff_token"], origin=origin) as ws:
            assert _recv(ws)["type"] == "connection_ack"


def test_a_foreign_origin_is_refused_at_the_handshake(server, setup, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://festival.example"]
    with pytest.raises(InvalidStatus) as refused, _open(server, setup["staff_token"], origin="https://evil.example"):
        pass
    assert refused.value.response.status_code == 403


def test_an_unknown_event_is_a_typed_refusal(server, setup):
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        unknown = "00000000-0000-4000-8000-000000000000"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"e": unknown}}}))
        message = _recv(ws)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [("Event not found.", "NOT_FOUND")]


def test_the_subscribers_of_a_festival_share_each_reading_of_the_figures(server, setup, monkeypatch):
    """Ten dashboards, one scan: the figures are computed a few times for all of them (the
    reading after the prompt and the follow-up, each once or twice depending on when the
    dashboards ask), not twice per dashboard (20)."""
    import contextlib as ctx
    import threading as th

    import domains.scanning.selectors as selectors
    from domains.scanning import notify

    real, calls, lock = selectors.scan_stats, [], th.Lock()

    def counting(**kwargs):
        with lock:
            calls.append(1)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "scan_stats", counting)
    variables = {"e": str(setup["festival"].public_id)}
    with ctx.ExitStack() as stack:
        sockets = [stack.enter_context(_open(server, setup["staff_token"])) for _ in range(10)]
        for ws in sockets:
            assert _recv(ws)["type"] == "connection_ack"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": variables}}))
        for ws in sockets:
            assert _recv(ws)["payload"]["data"]["scanStatsUpdated"]["admittedTickets"] == 0
        time.sleep(notify.FOLLOW_UP + 1)  # the follow-up readings after the first figures are over
        with lock:
            calls.clear()
        assert _scan(server, setup, setup["tickets"][0], "shared") == "ADMITTED"
        for ws in sockets:
            assert _recv(ws, timeout=10)["payload"]["data"]["scanStatsUpdated"]["admittedTickets"] == 1
        time.sleep(notify.FOLLOW_UP + 1)
    assert 1 <= len(calls) <= 6, len(calls)
