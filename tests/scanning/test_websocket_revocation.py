"""An open WebSocket is no older credential than an HTTP request: once a staff member logs out,
is demoted or deactivated, a new `subscribe` on their socket is refused (UNAUTHENTICATED or
FORBIDDEN, as over HTTP), a running `scanStatsUpdated` ends with that refusal within a few
seconds, and the socket is closed with 4403 (festival/asgi.py `FestivalWSConsumer.reauthenticate`,
schema/scanning/subscriptions.py `_still_permitted`).

An access token that merely expires while the socket is open does not end it: the socket lives as
long as its session (see festival/asgi.py `reauthenticate`), and a revocation is still caught."""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

# The fixtures `server` and `setup` are tests/scanning/conftest.py's; the helpers test_subscription's.
from tests.scanning.test_subscription import SUBSCRIPTION, _open, _recv, _scan

pytestmark = pytest.mark.django_db(transaction=True)

CHECK = 1.0  # seconds between re-checks of a running subscription, for these tests (5 in production)
ENDS_WITHIN = 8.0  # the bound the tests allow (CHECK, the periodic read's timing, a loaded machine)


@pytest.fixture(autouse=True)
def quick_recheck(monkeypatch):
    from schema.scanning import subscriptions

    monkeypatch.setattr(subscriptions, "REAUTHENTICATE", CHECK)


@pytest.fixture
def staff(make_user, token_for):
    user = make_user("staff")
    return user, token_for(user)


def _subscribe(ws, setup, op_id="1"):
    variables = {"e": str(setup["festival"].public_id)}
    ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIPTION, "variables": variables}}))


@contextmanager
def _subscribed_and_idle(server, token, setup):
    """Two acknowledged sockets of one staff token: one running the subscription (its first
    figures received), one idle."""
    with _open(server, token) as running, _open(server, token) as idle:
        assert _recv(running)["type"] == "connection_ack"
        assert _recv(idle)["type"] == "connection_ack"
        _subscribe(running, setup)
        assert _recv(running)["type"] == "next"
        yield running, idle


def _refusal(ws, op_id, timeout) -> tuple[list[str], int | None]:
    """The error codes sent for `op_id` until it ends, and the socket's close code (None if it
    stays open). Figures sent before the refusal are skipped."""
    codes: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = _recv(ws, timeout=max(0.1, deadline - time.monotonic()))
            if message.get("id") != op_id:
                continue
            if message["type"] == "error":
                codes += [e.get("extensions", {}).get("code") for e in message["payload"]]
                break
            if message["type"] == "next" and message["payload"].get("errors"):
                codes += [e.get("extensions", {}).get("code") for e in message["payload"]["errors"]]
            if message["type"] == "complete":
                break
    except TimeoutError:
        return codes, None
    except ConnectionClosed as closed:
        return codes, closed.rcvd.code if closed.rcvd else -1
    try:  # after the refusal, the close
        while True:
            _recv(ws, timeout=max(0.5, deadline - time.monotonic()))
    except TimeoutError:
        return codes, None
    except ConnectionClosed as closed:
        return codes, closed.rcvd.code if closed.rcvd else -1


def _logout(server, user, token):
    response = httpx.post(
        f"http://{server}/graphql/", json={"query": "mutation { logout { ok } }"},
        headers={"Authorization": f"Bearer {token}"}, timeout=10,
    )
    assert response.json()["data"]["logout"]["ok"] is True, response.text


def _demote(server, user, token):
    from domains.accounts.services import user_set_role

    user_set_role(user=user, role="attendee")


def _deactivate(server, user, token):
    user.is_active = False
    user.save()  # as the admin does: the post_save signal makes cached look-ups reload


def _role_edited_in_place(server, user, token):
    # The admin's form: a save of the role alone leaves the token valid (no token_version bump),
    # so the viewer is authenticated but no longer staff: FORBIDDEN, as over HTTP.
    user.role = "attendee"
    user.save()


def _http_code(server, token) -> str:
    """What HTTP answers the same token for a staff-only query, now."""
    response = httpx.post(
        f"http://{server}/graphql/",
        json={"query": "query($e: ID) { scanStats(eventId: $e) { admittedTickets } }"},
        headers={"Authorization": f"Bearer {token}"}, timeout=10,
    )
    return response.json()["errors"][0]["extensions"]["code"]


CHANGES = [
    pytest.param(_logout, "UNAUTHENTICATED", id="logout"),
    pytest.param(_demote, "UNAUTHENTICATED", id="demoted"),
    pytest.param(_deactivate, "UNAUTHENTICATED", id="deactivated"),
    pytest.param(_role_edited_in_place, "FORBIDDEN", id="role-edited-in-place"),
]


@pytest.mark.parametrize("change, code", CHANGES)
def test_a_refused_viewer_loses_new_and_running_subscriptions(server, setup, staff, change, code):
    user, token = staff
    with _subscribed_and_idle(server, token, setup) as (running, idle):

        change(server, user, token)
        if change is not _logout:  # (logging out is itself an HTTP request with the token)
            assert _http_code(server, token) == code

        # A new subscribe is refused at once, with HTTP's code, and the socket closed.
        _subscribe(idle, setup, "2")
        codes, closed = _refusal(idle, "2", timeout=5)
        assert codes == [code]
        assert closed == 4403

        # The running subscription ends within the bound.
        started = time.monotonic()
        codes, closed = _refusal(running, "1", timeout=ENDS_WITHIN)
        assert closed == 4403, (codes, closed)
        assert codes == [code]
        assert time.monotonic() - started < ENDS_WITHIN


def test_control_without_a_change_both_go_on(server, setup, staff):
    """The same scenario with nothing revoked: the new subscribe is answered with figures and the
    running one outlives several re-checks and still gets the next scan's figures."""
    _user, token = staff
    with _subscribed_and_idle(server, token, setup) as (running, idle):

        _subscribe(idle, setup, "2")
        first = _recv(idle)
        assert first["type"] == "next" and "errors" not in first["payload"], first

        codes, closed = _refusal(running, "1", timeout=3 * CHECK + 1)
        assert (codes, closed) == ([], None)
        assert _scan(server, setup, setup["tickets"][0], "control") == "ADMITTED"
        message = _recv(running, timeout=10)
        assert message["type"] == "next" and message["payload"]["data"]["scanStatsUpdated"]["admittedTickets"] == 1


def test_an_expired_access_token_keeps_the_socket_but_not_past_a_logout(server, setup, staff, settings):
    """Access tokens live minutes, dashboards hours: expiry is checked at connection_init only.
    After it, subscriptions go on (running and new ones); a logout still ends them."""
    from domains.accounts.services import session_logout
    from domains.accounts.services.authentication import session_start

    user, _ = staff
    ttl = settings.JWT_ACCESS_TTL
    settings.JWT_ACCESS_TTL = dt.timedelta(seconds=-2)  # valid for the decoder's leeway: 2-3 s
    pair = session_start(user=user)
    settings.JWT_ACCESS_TTL = ttl
    with _open(server, pair.access_token) as ws:
        assert _recv(ws)["type"] == "connection_ack"
        _subscribe(ws, setup)
        assert _recv(ws)["type"] == "next"

        time.sleep(4)  # expired now, and re-checked since
        assert _http_code(server, pair.access_token) == "UNAUTHENTICATED"
        codes, closed = _refusal(ws, "1", timeout=CHECK + 1)
        assert (codes, closed) == ([], None)
        _subscribe(ws, setup, "2")
        first = _recv(ws)
        assert first["type"] == "next" and first["id"] == "2" and "errors" not in first["payload"], first

        session_logout(session_id=pair.session.id)
        codes, closed = _refusal(ws, "1", timeout=ENDS_WITHIN)
        assert codes == ["UNAUTHENTICATED"] and closed == 4403, (codes, closed)
