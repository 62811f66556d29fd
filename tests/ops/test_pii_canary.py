"""Item 24, the PII canary: a marker email, name, password, the tokens and a ticket's QR code
go through registration, login, refresh, checkout, fulfilment emails and gate scans (and a
resolver that crashes with them as variables). None of them may appear in the logs (every
logger at DEBUG, formatted as in production), in any error answer, or in a queue message
(messages carry ids only)."""

from __future__ import annotations

import json
import logging

import dramatiq
import pytest

from domains.common.sealed import unseal
from tests.ops.conftest import JsonLines
from tests.sales.conftest import CONFIRM, CREATE, FakeGateway
from tests.scanning import factories
from tests.scanning.conftest import SCAN

EMAIL = "canary.zq81@example.test"
NAME = "Canarina Zq81Tweety"
SECRET = "Canary-Pw-zq81-xx"


@pytest.fixture
def captured(monkeypatch):
    handler = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    broker = dramatiq.get_broker()
    messages: list[bytes] = []
    original = broker.enqueue

    def enqueue(message, *, delay=None):
        messages.append(message.encode())
        return original(message, delay=delay)

    monkeypatch.setattr(broker, "enqueue", enqueue)
    yield handler.lines, messages
    root.removeHandler(handler)
    root.setLevel(level)


def _errors(response) -> list:
    """Every error the client saw: top-level errors and payload `errors` lists."""
    found = list(response.errors or [])

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "errors" and isinstance(item, list):
                    found.extend(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.data or {})
    return found


def test_the_canary_never_reaches_logs_errors_or_queues(transactional_db, gql, run_jobs, captured, monkeypatch, make_user, token_for):
    from domains.accounts.models import User
    from domains.tickets.models import Ticket
    from domains.tickets.qr import qr_encode
    from tests.support.graphql import GraphQLClient

    lines, messages = captured
    gateway = FakeGateway()
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gateway)
    answers = []

    def call(client, query, variables=None, **kw):
        response = client.execute(query, variables, **kw)
        answers.append(response)
        return response

    # registration (twice: the second is the "account exists" path), a weak password, verification email
    register = "mutation($e: String!, $p: String!, $n: String!) { register(email: $e, password: $p, fullName: $n) { ok errors { code message field } } }"
    call(gql, register, {"e": EMAIL, "p": SECRET, "n": NAME})
    call(gql, register, {"e": EMAIL, "p": SECRET, "n": NAME})
    call(gql, register, {"e": "x" + EMAIL, "p": NAME, "n": NAME})
    run_jobs()
    # login: a wrong password, then the right one; refresh
    login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken errors { code message } } }"
    call(gql, login, {"e": EMAIL, "p": SECRET + "-wrong"})
    tokens = call(gql, login, {"e": EMAIL, "p": SECRET}).payload("login")
    assert tokens["accessToken"], tokens
    refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken errors { code } } }"
    refreshed = call(gql, refresh, {"t": tokens["refreshToken"]}).payload("refreshToken")
    call(gql, refresh, {"t": tokens["refreshToken"]})  # replayed: refused, the family revoked
    call(gql, "mutation($t: String!) { resetPassword(token: $t, newPassword: \"x\") { ok errors { code message } } }", {"t": SECRET})
    call(gql, "mutation($e: String!) { requestPasswordReset(email: $e) { ok errors { code } } }", {"e": EMAIL})
    run_jobs()  # drained before the next request (SQLite: one writer at a time)
    # checkout and fulfilment (confirmation email with tickets and invoice)
    buyer_tokens = call(gql, login, {"e": EMAIL, "p": SECRET}).payload("login")
    buyer = GraphQLClient().authenticate(buyer_tokens["accessToken"])
    fest = factories.festival(status="on_sale", is_current=True)
    tt = factories.ticket_type(fest, capacity=10)
    created = call(buyer, CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]}).payload("createCheckout")
    gateway.set_status(created["paymentIntentId"], "succeeded")
    confirmed = call(buyer, CONFIRM, {"id": created["order"]["id"]}).payload("confirmCheckout")
    assert confirmed["order"]["status"] == "PAID", confirmed
    run_jobs()
    ticket = Ticket.objects.get(holder=User.objects.get(email=EMAIL))
    code = qr_encode(ticket)
    # the gate: admitted, then refused as already used, then a forged code
    staff = make_user("staff")
    gate = factories.gate(fest)
    device, device_token = factories.device(gate, staff)
    staff_client = GraphQLClient().authenticate(token_for(staff))
    for scanned in (code, code, code[:-4] + "AAAA"):
        call(staff_client, SCAN, {"code": scanned, "deviceId": str(device.public_id), "nonce": None}, headers={"X-Device-Token": device_token})
    run_jobs()
    # a resolver crashing with every marker in its variables
    from domains.accounts import services

    monkeypatch.setattr(services, "password_change", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))
    crashed = call(
        GraphQLClient().authenticate(buyer_tokens["accessToken"]),
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }",
        {"c": SECRET, "n": code},
    )
    assert crashed.errors and crashed.errors[0]["message"] == "Internal server error."

    markers = {
        "email": EMAIL,
        "name": NAME,
        "password": SECRET,
        "access token": tokens["accessToken"],
        "refresh token": tokens["refreshToken"],
        "new refresh token": refreshed["refreshToken"],
        "QR code": code,
    }
    logs = "\n".join(lines)
    errors = json.dumps([e for r in answers for e in _errors(r)])
    queued = b"\n".join(messages).decode()
    assert len(lines) > 20 and len(messages) >= 3  # the flows really ran and were captured
    for what, marker in markers.items():
        for place, text in (("logs", logs), ("error answers", errors), ("queue messages", queued)):
            assert marker not in text, f"the {what} appears in the {place}"
            assert marker.lower() not in text.lower(), f"the {what} appears in the {place}"
    for raw in messages:  # ids only: every argument is a number or a UUID-like string
        body = json.loads(raw)
        if body["actor_name"] == "send_password_reset":  # the one exception: an address, sealed
            [sealed] = body["args"]
            assert unseal(sealed, max_age_seconds=60) is not None, body
            continue
        for arg in [*body["args"], *body["kwargs"].values()]:
            assert isinstance(arg, int) or (isinstance(arg, str) and len(arg) <= 64 and "@" not in arg), body
