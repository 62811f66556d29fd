"""An attacker's look at the other doors (the token doors are in test_adversarial_auth.py):
the WebSocket's connection_init, scanner device tokens, the Apple PassKit web service, and the
client address behind X-Forwarded-For that per-address limits count.

Every refusal is the typed answer of its door (a 4403 close, UNAUTHENTICATED, a 401), never a
500, and leaves nothing changed.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from django.conf import settings

from domains.accounts.models import User
from domains.accounts.services.authentication import session_start
from domains.accounts.tokens import jwt_key
from domains.common.clock import now
from tests.scanning.conftest import server, setup  # noqa: F401 - fixtures of the WebSocket tests
from tests.scanning.test_subscription import SUBSCRIPTION
from tests.support.graphql import GraphQLClient

# --- WebSocket (graphql-transport-ws) --------------------------------------------------------
# Revocation while subscribed: tests/scanning/test_websocket_revocation.py. An attendee and an
# anonymous connection_init: tests/scanning/test_subscription.py. Here: the rest of the door.



def _ws(server):  # noqa: F811
    from websockets.sync.client import connect

    return connect(f"ws://{server}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=5)


def _close_code(ws, timeout=5.0) -> tuple[int, list[dict]]:
    """The close code the server sends, and the messages before it (pings and pongs left out)."""
    from websockets.exceptions import ConnectionClosed

    seen = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            message = json.loads(ws.recv(timeout=timeout))
            if message["type"] not in ("ping", "pong"):
                seen.append(message)
    assert closed.value.rcvd is not None, "dropped without a close frame"
    return closed.value.rcvd.code, seen


def _init(ws, header: str) -> None:
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": header}}))


def _subscribe(ws, op_id="1") -> None:
    ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))


def _expired_token(user) -> str:
    pair = session_start(user=user)
    claims = jwt.decode(pair.access_token, jwt_key(), algorithms=["HS256"], issuer=settings.JWT_ISSUER)
    past = int(time.time()) - 600
    return jwt.encode({**claims, "iat": past - 300, "exp": past}, jwt_key(), algorithm="HS256")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("credential", ["expired", "vendor", "refresh", "device", "staff-disabled"])
def test_connection_init_with_a_credential_that_is_not_a_live_staff_token_is_4403(server, setup, make_user, credential):  # noqa: F811
    staff = make_user("staff")
    header = {
        "expired": lambda: f"Bearer {_expired_token(staff)}",
        "vendor": lambda: f"Bearer {session_start(user=make_user('vendor')).access_token}",
        "refresh": lambda: f"Bearer {session_start(user=staff).refresh_token}",
        "device": lambda: f"Bearer {setup['device_token']}",
        "staff-disabled": lambda: f"Bearer {session_start(user=staff).access_token}",
    }[credential]()
    if credential == "staff-disabled":
        User.objects.filter(pk=staff.pk).update(is_active=False)
    with _ws(server) as ws:
        _init(ws, header)
        code, seen = _close_code(ws)
    assert code == 4403 and seen == [], (code, seen)


@pytest.mark.django_db(transaction=True)
def test_control_a_live_staff_token_is_acknowledged(server, setup):  # noqa: F811
    with _ws(server) as ws:
        _init(ws, f"Bearer {setup['staff_token']}")
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"


@pytest.mark.django_db(transaction=True)
def test_an_operation_before_connection_init_closes_with_4401_and_runs_nothing(server, setup):  # noqa: F811
    with _ws(server) as ws:
        _subscribe(ws)
        code, seen = _close_code(ws)
    assert code == 4401 and seen == [], (code, seen)


@pytest.mark.django_db(transaction=True)
def test_a_second_connection_init_closes_the_socket_with_4429(server, setup, make_user):  # noqa: F811
    """The second init could otherwise swap the socket's viewer (to another token, a forged one,
    or none) after it was acknowledged."""
    with _ws(server) as ws:
        _init(ws, f"Bearer {setup['staff_token']}")
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        _init(ws, f"Bearer {session_start(user=make_user('admin')).access_token}")
        code, seen = _close_code(ws)
    assert code == 4429 and seen == [], (code, seen)


# --- scanner devices --------------------------------------------------------------------------
# A revoked device, a wrong token, another device's token: tests/scanning/test_scan_verdicts.py
# (test_scans_are_staff_only_and_need_a_valid_device); a scan naming another gate than its
# device's: test_a_scan_naming_another_gate_than_the_devices_is_refused_and_admits_nothing.

BATCH = """mutation($d: ID!, $s: [OfflineScanInput!]!) { scanCommitBatch(deviceId: $d, scans: $s) {
  results { result { verdict } } errors { code field } } }"""


@pytest.fixture
def gate_world(make_user, token_for):
    from domains.tickets.qr import qr_encode
    from tests.scanning import factories

    home, elsewhere = factories.festival(), factories.festival()
    staff = make_user("staff")
    home_device, home_token = factories.device(factories.gate(home, "Home"), staff)
    other_device, other_token = factories.device(factories.gate(elsewhere, "Elsewhere"), staff)
    ticket = factories.ticket(factories.ticket_type(home), make_user("attendee"))
    client = GraphQLClient().authenticate(token_for(staff))
    return {"client": client, "ticket": ticket, "code": qr_encode(ticket), "home": (home_device, home_token),
            "other": (other_device, other_token)}


def _scan(world, device, token):
    from schema.scanning.documents import SCAN_COMMIT

    return world["client"].execute(
        SCAN_COMMIT, {"code": world["code"], "deviceId": str(device.public_id), "nonce": uuid.uuid4().hex},
        headers={"X-Device-Token": token},
    ).payload("scanCommit")


def test_a_device_of_another_festivals_gate_admits_no_one_here(gate_world):
    from domains.scanning.models import ScanLog

    assert _scan(gate_world, *gate_world["other"])["result"]["verdict"] == "INVALID"
    assert not ScanLog.objects.filter(ticket=gate_world["ticket"], verdict="ADMITTED").exists()
    assert _scan(gate_world, *gate_world["home"])["result"]["verdict"] == "ADMITTED"  # the control


def test_an_offline_upload_by_a_revoked_device_is_refused_and_writes_nothing(gate_world):
    from domains.scanning.models import ScanLog
    from domains.scanning.services import scanner_device_revoke

    device, token = gate_world["home"]
    scanner_device_revoke(device_id=device.public_id, revoked_by=None)
    payload = gate_world["client"].execute(
        BATCH,
        {"d": str(device.public_id), "s": [{"code": gate_world["code"], "scannedAt": now().isoformat(), "nonce": "n1"}]},
        headers={"X-Device-Token": token},
    ).payload("scanCommitBatch")
    assert payload["results"] is None and [e["code"] for e in payload["errors"]] == ["DEVICE_NOT_AUTHORISED"]
    assert not ScanLog.objects.exists()


def test_an_access_token_is_not_a_device_token(gate_world, token_for):
    from domains.scanning.models import ScanLog

    device, _token = gate_world["home"]
    staff_token = gate_world["client"].token
    payload = _scan(gate_world, device, staff_token)
    assert payload["result"] is None and [e["code"] for e in payload["errors"]] == ["DEVICE_NOT_AUTHORISED"]
    assert not ScanLog.objects.exists()


# --- Apple PassKit web service ----------------------------------------------------------------
# Signed download links (tampered, expired, another object, another kind) and the .pkpass link:
# tests/ops/test_object_access.py. No token and a wrong one: tests/wallet/test_passkit.py.


@pytest.fixture
def two_apple_passes(settings, tmp_path, make_user, token_for):
    """Two Apple passes of two holders (and a Google pass of the first), dev credentials."""
    import datetime as dt

    from domains.events.models import Festival
    from domains.tickets.models import Ticket, TicketType
    from domains.wallet.models import WalletPass
    from tests.support.wallet import use_dev_wallet
    from tests.wallet.conftest import create_apple, create_google

    use_dev_wallet(settings, tmp_path / "wallet-dev")
    festival = Festival.objects.create(slug="summer", name="Summer", starts_on=dt.date(2026, 7, 10),
                                       ends_on=dt.date(2026, 7, 12), timezone="Europe/Berlin", is_current=True)
    ticket_type = TicketType.objects.create(festival=festival, name="Weekend", price_amount=100, currency="EUR", capacity=9)
    passes = []
    for _ in range(2):
        holder = make_user("attendee")
        ticket = Ticket.objects.create(ticket_type=ticket_type, holder=holder)
        client = GraphQLClient().authenticate(token_for(holder))
        passes.append(WalletPass.objects.get(public_id=create_apple(client, ticket)["walletPass"]["id"]))
        if not _:
            google = WalletPass.objects.get(public_id=create_google(client, ticket)["walletPass"]["id"])
    return passes[0], passes[1], google


def _passkit(method, path, token, body=None):
    return GraphQLClient().post_raw(json.dumps(body) if body is not None else b"", method=method, path=path,
                                    headers={"Authorization": f"ApplePass {token}"})


def test_a_pass_token_opens_its_own_pass_only(two_apple_passes):
    """Pass A's genuine token against pass B's serial (and the Google pass's, whose derived
    token is genuine too): 401 everywhere, no registration made or removed."""
    from domains.wallet.credentials import apple_credentials
    from domains.wallet.models import PassKitDeviceRegistration
    from domains.wallet.render import authentication_token

    mine, theirs, google = two_apple_passes
    type_id = apple_credentials().pass_type_identifier
    base = "/api/wallet/passkit/v1"
    device = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    PassKitDeviceRegistration.objects.create(device_library_identifier="victimsphone", wallet_pass=theirs, push_token="0f" * 32)
    my_token = authentication_token(mine.serial_number)
    for serial, token in ((theirs.serial_number, my_token), (google.serial_number, authentication_token(google.serial_number))):
        assert _passkit("GET", f"{base}/passes/{type_id}/{serial}", token).status_code == 401
        registration = f"{base}/devices/{device}/registrations/{type_id}/{serial}"
        assert _passkit("POST", registration, token, {"pushToken": "0f" * 32}).status_code == 401
        assert _passkit("DELETE", f"{base}/devices/victimsphone/registrations/{type_id}/{serial}", token).status_code == 401
    assert list(PassKitDeviceRegistration.objects.values_list("device_library_identifier", "wallet_pass")) == [
        ("victimsphone", theirs.pk)
    ]
    # the control: the token opens its own pass
    assert _passkit("GET", f"{base}/passes/{type_id}/{mine.serial_number}", my_token).status_code == 200


# --- the client address behind X-Forwarded-For -----------------------------------------------

LOGIN_ANY = 'mutation($e: String!) { login(email: $e, password: "wrong-password-123") { errors { code } } }'


def _login_codes(email: str, forwarded: str | None) -> list[str]:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return [e["code"] for e in GraphQLClient().execute(LOGIN_ANY, {"e": email}, headers=headers).payload("login")["errors"]]


@pytest.fixture
def three_logins_per_address(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {"ip": (3, 60)}}


def test_without_a_trusted_proxy_a_forwarded_header_changes_no_address(db, settings, three_logins_per_address):
    """The test client's socket peer is 127.0.0.1: what it claims in X-Forwarded-For is ignored."""
    settings.TRUSTED_PROXIES = []
    for n in range(3):
        assert _login_codes(f"u{n}@example.test", f"203.0.113.{n}") == ["INVALID_CREDENTIALS"]
    for forwarded in ("203.0.113.99", "198.51.100.1, 203.0.113.99", "not-an-address", ""):
        assert _login_codes("x@example.test", forwarded) == ["RATE_LIMITED"], forwarded


def test_behind_a_trusted_proxy_only_the_hop_it_appended_counts(db, settings, three_logins_per_address):
    """The proxy appends the address it saw; whatever the client put before it is the
    client's own text. Rotating that text must not make a new address."""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    for n in range(3):
        assert _login_codes(f"u{n}@example.test", f"10.9.8.{n}, 203.0.113.7") == ["INVALID_CREDENTIALS"]
    for spoofed in ("198.51.100.1, 203.0.113.7", "127.0.0.1, 203.0.113.7", "garbage,, 203.0.113.7", "203.0.113.7"):
        assert _login_codes("x@example.test", spoofed) == ["RATE_LIMITED"], spoofed
    # the control: another client behind the same proxy has its own allowance
    assert _login_codes("x@example.test", "203.0.113.7, 203.0.113.8") == ["INVALID_CREDENTIALS"]


def test_the_growing_login_delay_per_address_is_not_escaped_by_a_forwarded_header(db, settings):
    """The login throttle's own per-address failures (domains/accounts/throttling.py) read
    the same address."""
    settings.TRUSTED_PROXIES = []
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {}}
    settings.LOGIN_THROTTLE_FREE_IP_FAILURES = 3  # the third failure shuts the address
    for n in range(3):
        assert _login_codes(f"u{n}@example.test", f"203.0.113.{n}") == ["INVALID_CREDENTIALS"]
    assert _login_codes("fresh@example.test", "192.0.2.55") == ["RATE_LIMITED"]


def test_a_websocket_behind_a_trusted_proxy_is_the_client_the_proxy_saw(settings):
    """Over a WebSocket the address comes from the connection's ASGI scope, by the same rule as
    over HTTP: behind the proxy, the hop it appended (every socket's peer is the proxy, so all
    dashboards would otherwise share one address's limits); without a trusted proxy, the peer."""
    from schema.context import client_ip_of_scope

    def scope(peer, *forwarded):
        return {"client": [peer, 50000], "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip_of_scope(scope("10.0.0.2", "198.51.100.1, 203.0.113.7")) == "203.0.113.7"
    assert client_ip_of_scope(scope("10.0.0.2", "203.0.113.7, 10.0.0.9")) == "203.0.113.7"  # two proxies
    assert client_ip_of_scope(scope("203.0.113.50", "198.51.100.1")) == "203.0.113.50"  # not from the proxy
    assert client_ip_of_scope({"headers": []}) == "unknown"
    settings.TRUSTED_PROXIES = []
    assert client_ip_of_scope(scope("10.0.0.2", "203.0.113.7")) == "10.0.0.2"
