"""Bad input on the WebSocket (/graphql/, graphql-transport-ws) gets a clear answer and never an
unhandled exception in the server: a message the protocol does not define closes the socket with
4400, a token that cannot be one is refused with 4403, and a document that does not parse is an
`error` message for its operation (the socket stays usable). Nothing the client sends is logged
at ERROR (that is for server faults: it pages and reaches Sentry)."""

from __future__ import annotations

import json
import logging

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# The fixtures `server` and `setup` are tests/scanning/conftest.py's; the helpers test_subscription's.
from tests.scanning.test_subscription import SUBSCRIPTION, _open, _recv
from tests.support.logs import RecordCollector

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_errors(server):
    """Every record at ERROR or above, uvicorn's own included ("Exception in ASGI application":
    its logger does not propagate to the root, where caplog listens)."""
    handler = RecordCollector()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.records
    for logger in loggers:
        logger.removeHandler(handler)


def _described(records) -> list[str]:
    return [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}" for r in records]


def _connect(server):
    return connect(f"ws://{server}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=5)


def _closed_with(ws, timeout=5.0) -> int:
    """The close code the server sends next (messages before it, pings and pongs, are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "the connection was dropped without a close frame"
    return closed.value.rcvd.code


NOT_OBJECTS = ["[]", "5", '"x"', "null", "true", "[" * 1000 + "]" * 1000, '{"type": "ping", "payload": ' + "[" * 1000 + "]" * 1000 + "}"]


@pytest.mark.parametrize("frame", NOT_OBJECTS, ids=["list", "number", "string", "null", "true", "nested-list", "nested-payload"])
def test_a_frame_that_is_not_a_json_object_closes_with_4400_before_init(server, server_errors, frame):
    with _connect(server) as ws:
        ws.send(frame)
        assert _closed_with(ws) == 4400
    assert not server_errors, _described(server_errors)


@pytest.mark.parametrize("frame", NOT_OBJECTS, ids=["list", "number", "string", "null", "true", "nested-list", "nested-payload"])
def test_a_frame_that_is_not_a_json_object_closes_with_4400_after_ack(server, setup, server_errors, frame):
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(frame)
        assert _closed_with(ws) == 4400
    assert not server_errors, _described(server_errors)


_SUBSCRIBE_TYPENAME = {"query": "subscription { __typename }"}
MALFORMED = [
    pytest.param({"type": ["connection_init"]}, id="type-list"),
    pytest.param({"type": None}, id="type-null"),
    pytest.param({"type": "x" * 500}, id="type-long"),
    pytest.param({"type": "\ud800"}, id="type-surrogate"),
    pytest.param({"id": ["1"], "type": "subscribe", "payload": _SUBSCRIBE_TYPENAME}, id="id-list"),
    pytest.param({"id": {"a": 1}, "type": "complete"}, id="complete-id-object"),
    pytest.param({"id": 1, "type": "subscribe", "payload": _SUBSCRIBE_TYPENAME}, id="id-number"),
    pytest.param({"id": "1", "type": "subscribe", "payload": "subscription { __typename }"}, id="payload-string"),
    pytest.param({"id": "1", "type": "subscribe", "payload": None}, id="payload-null"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": 5}}, id="query-number"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": ["{ x"]}}, id="query-list"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": {"a": 1}}}, id="query-object"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": None}}, id="query-null"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": "x"}}, id="variables-string"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": [1]}}, id="variables-list"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "operationName": 5}}, id="operation-name-number"),
    pytest.param({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "extensions": "x"}}, id="extensions-string"),
]


@pytest.mark.parametrize("message", MALFORMED)
def test_a_message_the_protocol_does_not_define_closes_with_4400(server, setup, server_errors, message):
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps(message))
        assert _closed_with(ws) == 4400
    assert not server_errors, _described(server_errors)


@pytest.mark.parametrize("header", ["Bearer \ud800", "Bearer abc\udfff.def", "\ud800", "Bearer é.é.é", "Bearer \x00"])
def test_a_token_that_cannot_be_one_is_refused_with_4403(server, setup, server_errors, header):
    with _connect(server) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": header}}))
        assert _closed_with(ws) == 4403
    assert not server_errors, _described(server_errors)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("{ x", "Syntax Error: Expected Name, found <EOF>."),
        ("subscription { scanStatsUpdated(", "Syntax Error: Expected Name, found <EOF>."),
        ("\ud800", "Syntax Error: Invalid character: U+D800."),
    ],
)
def test_a_document_that_does_not_parse_is_an_error_message_and_the_socket_stays_usable(server, setup, server_errors, query, expected):
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "bad", "type": "subscribe", "payload": {"query": query}}))
        message = _recv(ws)
        assert message["type"] == "error" and message["id"] == "bad", message
        assert [e["message"] for e in message["payload"]] == [expected]
        # The socket still serves: the same id may be used again, for a valid subscription.
        ws.send(json.dumps({"id": "bad", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": {"e": str(setup["festival"].public_id)}}}))
        first = _recv(ws)
        assert first["type"] == "next" and first["id"] == "bad", first
        assert first["payload"]["data"]["scanStatsUpdated"]["admittedTickets"] == 0
    assert not server_errors, _described(server_errors)


def test_a_document_over_the_token_limit_is_an_error_message(server, setup, server_errors, settings):
    settings.GRAPHQL_MAX_TOKENS = 10
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { " + "__typename " * 20 + "}"}}))
        message = _recv(ws)
        assert message["type"] == "error" and message["id"] == "1", message
        assert [e["message"] for e in message["payload"]] == ["Syntax Error: Document contains more than 10 tokens. Parsing aborted."]
    assert not server_errors, _described(server_errors)


@pytest.mark.parametrize("name", ["Nope", "N" * 500], ids=["short", "long"])
def test_an_unknown_operation_name_closes_with_4400(server, setup, server_errors, name):
    """As over HTTP, where the same request is a 400. strawberry's close reason quotes the name,
    `Unknown operation named "..."`; the consumer cuts it to the 123 bytes a close frame holds."""
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION, "operationName": name}}))
        with pytest.raises(ConnectionClosed) as closed:
            _recv(ws)
    assert closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason.startswith('Unknown operation named "N')
    assert not server_errors, _described(server_errors)


def test_a_syntax_error_from_strawberrys_own_parse_is_an_error_message_too(server, setup, server_errors, monkeypatch):
    """Without ParserCache strawberry parses inside its own error handling and hands the syntax
    error to the handler as a result, which strawberry answers by closing the whole socket (4400):
    answered like the case above instead (the same answer whichever extension parses)."""
    from strawberry.extensions import ParserCache

    from schema.schema import schema

    kept = [factory for factory in schema.extensions if not isinstance(factory(), ParserCache)]
    assert len(kept) == len(schema.extensions) - 1
    monkeypatch.setattr(schema, "extensions", kept)
    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ x"}}))
        message = _recv(ws)
        assert message["type"] == "error" and message["id"] == "1", message
        assert [e["message"] for e in message["payload"]] == ["Syntax Error: Expected Name, found <EOF>."]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"
    assert not server_errors, _described(server_errors)


def test_a_close_reason_fits_a_close_frame():
    from festival.asgi import close_reason

    assert close_reason(None) is None and close_reason("Forbidden") == "Forbidden"
    assert close_reason("Unknown message type: \ud800") == "Unknown message type: ?"
    long = close_reason("Unknown message type: " + "é" * 200)
    assert len(long.encode()) <= 123 and long.endswith("...") and long.startswith("Unknown message type: éé")


def test_an_idle_socket_stays_open(server, setup, server_errors):
    """A dashboard with no scans for a while keeps its socket (the server sends nothing)."""
    import time

    with _open(server, setup["staff_token"]) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        for _ in range(3):
            time.sleep(4)
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "pong"
    assert not server_errors, _described(server_errors)
