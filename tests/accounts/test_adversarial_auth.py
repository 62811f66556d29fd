"""An attacker's look at authentication (items 9 to 12 and the credentials beside them): what
tests/accounts/test_access_tokens.py, test_sessions.py, test_password_reset.py,
test_auth_cache.py, tests/scanning/test_websocket_*.py, tests/ops/test_object_access.py and
tests/ops/test_abuse_limits.py do not already prove.

Every refusal is the typed answer of its door (UNAUTHENTICATED, INVALID_TOKEN, a 4403 close,
a 401), never a 500, and leaves nothing changed. Where an attack needs a control to show that
it would have been seen (timing), the control is here too.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from django.conf import settings

from domains.accounts import services
from domains.accounts.models import AuthSession, OneTimeToken, RefreshToken, User
from domains.accounts.services.authentication import session_start
from domains.accounts.tokens import hash_secret, jwt_key
from domains.common.clock import now
from tests.conftest import PASSWORD
from tests.scanning.conftest import server, setup  # noqa: F401 - fixtures of the WebSocket tests
from tests.scanning.test_subscription import SUBSCRIPTION
from tests.support.accounts import CHANGE_PASSWORD, ME, NEW_PASSWORD, REFRESH, RESET_PASSWORD, VERIFY_EMAIL
from tests.support.graphql import GraphQLClient


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def victim(make_user):
    user = make_user("staff", email="victim@example.test")
    pair = session_start(user=user)
    claims = jwt.decode(pair.access_token, jwt_key(), algorithms=["HS256"], issuer=settings.JWT_ISSUER)
    return user, pair, claims


def answer_to(header: str | bytes):
    return GraphQLClient().execute(ME, headers={"Authorization": header})


def assert_unauthenticated(response):
    assert response.status_code == 200, response.body
    assert response.data is None, response.body
    assert [e["extensions"]["code"] for e in response.errors] == ["UNAUTHENTICATED"], response.body


def assert_refused(token: str):
    assert_unauthenticated(answer_to(f"Bearer {token}"))


def test_the_victims_genuine_token_works(victim):
    """The control for this section: what the forgeries below start from is accepted."""
    user, pair, _claims = victim
    assert GraphQLClient().authenticate(pair.access_token).execute(ME).data["me"]["email"] == user.email


# --- JWT: validity window, audience, type ----------------------------------------------------


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_valid_yet_is_refused(victim, claim):
    _user, _pair, claims = victim
    future = int(time.time()) + 3600
    assert_refused(jwt.encode({**claims, claim: future, "exp": future + 300}, jwt_key(), algorithm="HS256"))


def test_a_token_meant_for_an_audience_is_refused(victim):
    """We issue no `aud`: a token carrying one was made for some other service."""
    _user, _pair, claims = victim
    for audience in (settings.JWT_ISSUER, "festival-scanner", ["festival-backend", "other"]):
        assert_refused(jwt.encode({**claims, "aud": audience}, jwt_key(), algorithm="HS256"))


@pytest.mark.parametrize("typ", ["ACCESS", "access ", "refresh", "", None, 1, ["access"]])
def test_only_the_access_type_is_an_access_token(victim, typ):
    _user, _pair, claims = victim
    assert_refused(jwt.encode({**claims, "typ": typ}, jwt_key(), algorithm="HS256"))


@pytest.mark.parametrize("ver", [True, 0.0, "0", None, [0]])
def test_a_version_that_is_not_an_integer_is_refused(victim, ver):
    """`True == 1` in Python: a bool must not pass for the version (the victim is at 0 here)."""
    user, _pair, claims = victim
    User.objects.filter(pk=user.pk).update(token_version=1 if ver is True else 0)
    assert_refused(jwt.encode({**claims, "ver": ver}, jwt_key(), algorithm="HS256"))


# --- JWT: our other keys and our other credentials --------------------------------------------


def _our_other_keys() -> dict[str, bytes | str]:
    """Keys this server holds or publishes for other purposes: none signs an access token."""
    from domains.common.signing import derive_key, public_key_bytes, qr_private_key, qr_public_keys

    (_kid, raw_public), *_ = qr_public_keys()
    return {
        "qr-public-raw": raw_public,
        "qr-public-b64": base64.b64encode(raw_public).decode(),
        "qr-public-urlsafe": base64.urlsafe_b64encode(raw_public).rstrip(b"=").decode(),
        "qr-public-hex": raw_public.hex(),
        "qr-public-of-private": public_key_bytes(qr_private_key().public_key()),
        "download-url-key": derive_key(settings.SECRET_KEY, "download-url-v1"),
        "wallet-token-key": derive_key(settings.WALLET_PASS_TOKEN_SECRET, "passkit-authentication-token-v1"),
        "qr-signing-secret": settings.QR_SIGNING_SECRET,
    }


@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize("key_name", [
    "qr-public-raw", "qr-public-b64", "qr-public-urlsafe", "qr-public-hex", "qr-public-of-private",
    "download-url-key", "wallet-token-key", "qr-signing-secret",
])
def test_hs256_keyed_with_our_public_or_other_keys_is_refused(victim, key_name):
    """The HS/RS confusion: the one public key we hand out (scannerKeys, for offline QR checks)
    and our keys for other purposes, used as an HMAC secret."""
    _user, _pair, claims = victim
    assert_refused(jwt.encode(claims, _our_other_keys()[key_name], algorithm="HS256"))


def test_eddsa_signed_with_our_own_qr_key_is_refused(victim):
    """A genuine signature by a key of ours (the QR key), under another algorithm."""
    from domains.common.signing import qr_private_key

    _user, _pair, claims = victim
    assert_refused(jwt.encode(claims, qr_private_key(), algorithm="EdDSA"))


def test_other_credentials_are_not_bearer_tokens(victim, make_user):
    """A refresh token, a scanner's device token, a PassKit authentication token, a download
    link's token and a reset link's token: none stands for an access token."""
    from domains.common.signing import sign_download
    from domains.scanning.services import scanner_device_register
    from domains.wallet.render import authentication_token
    from tests.scanning import factories

    user, pair, _claims = victim
    gate = factories.gate(factories.festival())
    device_token = scanner_device_register(gate_id=gate.public_id, name="phone", registered_by=user).token
    for token in (
        pair.refresh_token,
        device_token,
        authentication_token("serial-1"),
        sign_download("invoice", str(uuid.uuid4())),
        hash_secret(pair.refresh_token),
    ):
        assert_refused(token)
        assert_unauthenticated(answer_to(token))  # without the scheme
        assert_unauthenticated(answer_to(f"ApplePass {token}"))


# --- JWT: malformed headers never get a 500 --------------------------------------------------


MALFORMED = [
    "Bearer " + _b64(b"[" * 50_000) + ".e30.c2ln",  # a header JSON nested past the recursion limit
    "Bearer " + _b64({"alg": "HS256"}) + "." + _b64(b"[" * 50_000) + ".c2ln",  # the payload
    "Bearer " + _b64(b"\xff\xfe") + ".e30.c2ln",  # a header that is not UTF-8
    "Bearer " + _b64({"alg": "HS256", "b64": False}) + ".e30.c2ln",  # RFC 7797 unencoded payload
    "Bearer " + _b64({"alg": "HS256", "crit": ["exp"]}) + ".e30.c2ln",
    "Bearer " + _b64({"alg": "HS256", "jku": "https://attacker.invalid/jwks", "kid": "../../etc/passwd"}) + ".e30.c2ln",
    "Bearer a.b.c.d.e",
    "Bearer " + "." * 5000,
    "Bearer " + "eyJ" * 300_000,  # ~1 MB
    "Bearer\tabc",
    "bearer " + "x",
    "Bearer  " + "a.b.c",
    "Bearer a.b.c, Bearer d.e.f",
]


@pytest.mark.parametrize("header", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_authorization_headers_are_unauthenticated_never_a_500(db, header):
    assert_unauthenticated(answer_to(header))


def test_a_header_that_is_not_ascii_is_unauthenticated(db):
    assert_unauthenticated(answer_to(b"Bearer \xff\xfe\xfd"))
    assert_unauthenticated(answer_to("Bearer é.é.é".encode("latin-1")))


def test_two_authorization_headers_are_not_two_chances(victim):
    """Duplicate headers reach Django joined with a comma: never read as the valid one."""
    import httpx
    from asgiref.sync import async_to_sync
    from django.core import signals
    from django.db import close_old_connections

    from festival.asgi import application

    _user, pair, _claims = victim

    async def send(headers):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/graphql/", content=json.dumps({"query": ME}),
                                     headers=[("content-type", "application/json"), *headers])

    genuine = ("Authorization", f"Bearer {pair.access_token}")
    # As GraphQLClient.post_raw: Django's end-of-request connection clean-up would throw the
    # test's transaction away.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        for headers in ([("Authorization", "Bearer forged.token.here"), genuine], [genuine, genuine]):
            response = async_to_sync(send)(headers)
            assert response.status_code == 200
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]
        assert async_to_sync(send)([genuine]).json()["data"]["me"]  # the control
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# --- JWT: the session or the user behind a valid token is gone --------------------------------


@pytest.fixture
def cache_on(settings):
    settings.AUTH_CACHE_SECONDS = 60


@pytest.mark.parametrize("gone", ["session", "user"])
def test_the_token_of_a_deleted_session_or_user_is_refused(victim, cache_on, gone):
    """The token is used once first, so that its session sits in the per-process cache."""
    user, pair, _claims = victim
    client = GraphQLClient().authenticate(pair.access_token)
    assert client.execute(ME).data["me"]
    if gone == "session":
        AuthSession.objects.get(pk=pair.session.pk).delete()
    else:
        User.objects.get(pk=user.pk).delete()
    assert_refused(pair.access_token)


# --- refresh rotation -------------------------------------------------------------------------


def _refresh(token: str) -> dict:
    return GraphQLClient().execute(REFRESH, {"token": token}).payload("refreshToken")


def test_an_access_token_is_not_a_refresh_token(victim):
    _user, pair, _claims = victim
    sessions, tokens = AuthSession.objects.count(), RefreshToken.objects.count()
    answer = _refresh(pair.access_token)
    assert [e["code"] for e in answer["errors"]] == ["INVALID_TOKEN"] and answer["accessToken"] is None
    assert (AuthSession.objects.count(), RefreshToken.objects.count()) == (sessions, tokens)
    # ... nor is the stored hash of a refresh token
    assert [e["code"] for e in _refresh(hash_secret(pair.refresh_token))["errors"]] == ["INVALID_TOKEN"]
    assert _refresh(pair.refresh_token)["errors"] == []  # the control: the real one still works


@pytest.mark.parametrize("change", ["role", "erasure", "password_reset"])
def test_refresh_after_a_role_change_an_erasure_or_a_reset_is_refused(victim, change):
    user, pair, _claims = victim
    if change == "role":
        services.user_set_role(user=user, role="attendee")
    elif change == "erasure":
        from domains.accounts.privacy import user_erase

        user_erase(user=user, check_password=False)
    else:
        OneTimeToken.objects.create(user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, token_hash=hash_secret("r"),
                                    expires_at=now() + timedelta(hours=1))
        services.password_reset(token="r", new_password=NEW_PASSWORD)
    answer = _refresh(pair.refresh_token)
    assert [e["code"] for e in answer["errors"]] == ["INVALID_TOKEN"] and answer["refreshToken"] is None
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_replaying_a_token_spent_before_a_logout_stays_refused_and_changes_nothing(victim):
    """Reuse detection on a family that is already revoked: the same answer, the revocation
    (and its reason) as it was."""
    _user, pair, _claims = victim
    second = _refresh(pair.refresh_token)
    GraphQLClient().authenticate(second["accessToken"]).execute("mutation { logout { ok } }")
    assert [e["code"] for e in _refresh(pair.refresh_token)["errors"]] == ["INVALID_TOKEN"]
    session = AuthSession.objects.get(pk=pair.session.pk)
    assert session.revoked_reason == "logout"


# --- one-time tokens --------------------------------------------------------------------------


def _one_time(user, purpose, raw, **kwargs) -> OneTimeToken:
    return OneTimeToken.objects.create(
        user=user, purpose=purpose, token_hash=hash_secret(raw), expires_at=kwargs.pop("expires_at", now() + timedelta(hours=1))
    )


def test_a_verification_link_works_once(gql, make_user):
    user = make_user(email="new@example.test")
    _one_time(user, OneTimeToken.Purpose.EMAIL_VERIFICATION, "verify-raw")
    assert gql.execute(VERIFY_EMAIL, {"token": "verify-raw"}).payload("verifyEmail")["errors"] == []
    verified_at = User.objects.get(pk=user.pk).email_verified_at
    assert gql.execute(VERIFY_EMAIL, {"token": "verify-raw"}).error_codes("verifyEmail") == ["INVALID_TOKEN"]
    assert User.objects.get(pk=user.pk).email_verified_at == verified_at


@pytest.mark.parametrize("purpose", [OneTimeToken.Purpose.PASSWORD_RESET, OneTimeToken.Purpose.EMAIL_VERIFICATION])
def test_the_links_of_a_disabled_account_are_refused(gql, make_user, purpose):
    user = make_user(email="off@example.test")
    _one_time(user, purpose, "raw")
    User.objects.filter(pk=user.pk).update(is_active=False)
    if purpose == OneTimeToken.Purpose.PASSWORD_RESET:
        codes = gql.execute(RESET_PASSWORD, {"token": "raw", "new": NEW_PASSWORD}).error_codes("resetPassword")
    else:
        codes = gql.execute(VERIFY_EMAIL, {"token": "raw"}).error_codes("verifyEmail")
    assert codes == ["INVALID_TOKEN"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.email_verified_at is None


def test_a_reset_link_sent_before_a_password_change_no_longer_works(gql, make_user):
    """The person changed their password since asking for the link (perhaps because their
    mailbox was read by someone else): the old link must not set another one."""
    user = make_user(email="ana@example.test")
    _one_time(user, OneTimeToken.Purpose.PASSWORD_RESET, "older-link")
    client = GraphQLClient().authenticate(session_start(user=user).access_token)
    changed = client.execute(CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}).payload("changePassword")
    assert changed["errors"] == []
    answer = gql.execute(RESET_PASSWORD, {"token": "older-link", "new": "the-attackers-passphrase-1"})
    assert answer.error_codes("resetPassword") == ["INVALID_TOKEN"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuthSession.objects.filter(user=user, revoked_at__isnull=True).count() == 1  # the changer's new session



@pytest.mark.parametrize("usable", [True, False], ids=["new-password", "password-sign-in-disabled"])
def test_a_password_set_in_the_admin_locks_out_the_old_password_s_holders(gql, make_user, usable):
    """Staff answering "my account was taken over" set a new password (or disable password
    sign-in) on the admin's page: the taker's access token, refresh token and reset link stop
    working there and then. Django's own form only saved the password."""
    from django.test import Client

    user = make_user(email="taken@example.test")
    pair = session_start(user=user)
    _one_time(user, OneTimeToken.Purpose.PASSWORD_RESET, "takers-link")
    admin = Client()
    admin.force_login(make_user("admin", is_staff=True, is_superuser=True))
    form = {"password1": "staff-chosen-passphrase-9", "password2": "staff-chosen-passphrase-9", "usable_password": "true"}
    if not usable:
        form = {"usable_password": "false", "unset-password": "1"}  # the page's "disable" button
    page = admin.post(f"/admin/accounts/user/{user.pk}/password/", form)
    assert page.status_code == 302, page.content[:500]

    user.refresh_from_db()
    assert user.has_usable_password() == usable and (not usable or user.check_password("staff-chosen-passphrase-9"))
    assert GraphQLClient().authenticate(pair.access_token).execute(ME).errors  # the access token is dead
    refreshed = gql.execute(REFRESH, {"token": pair.refresh_token})
    assert refreshed.error_codes("refreshToken") == ["INVALID_TOKEN"]
    answer = gql.execute(RESET_PASSWORD, {"token": "takers-link", "new": "the-attackers-passphrase-1"})
    assert answer.error_codes("resetPassword") == ["INVALID_TOKEN"]
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()


# --- login timing: a known address and an unknown one ---------------------------------------


def _timed_login(email: str) -> float:
    """One wrong-password login, timed at the service (HTTP's noise left out); the throttle's
    counters are emptied first, so that every attempt reaches the password check."""
    from domains.accounts.services.authentication import session_login
    from domains.common.errors import DomainError
    from tests.conftest import _clear_own_cache

    _clear_own_cache(None)
    started = time.perf_counter()
    with pytest.raises(DomainError) as refused:
        session_login(email=email, password="wrong-password-123", client_ip="198.51.100.7")
    elapsed = time.perf_counter() - started
    assert refused.value.details[0].code == "INVALID_CREDENTIALS"
    return elapsed


@pytest.fixture
def measurable_hashing(settings, monkeypatch):
    """A PBKDF2 hasher slow enough (a few ms) that skipping the hash shows in the medians; the
    tests' MD5 hasher takes microseconds, lost in the noise."""
    import domains.accounts.services.authentication as authentication

    settings.PASSWORD_HASHERS = ["tests.accounts.hashers.MeasurablePBKDF2Hasher"]
    monkeypatch.setattr(authentication, "_DUMMY_HASH", None)  # made again under this hasher


def _medians(make_user, rounds=25) -> tuple[float, float]:
    make_user(email="known@example.test")
    _timed_login("nobody@example.test")  # the dummy hash is made on first use: not timed
    known, unknown = [], []
    for _ in range(rounds):  # interleaved, so that load on the machine hits both alike
        known.append(_timed_login("known@example.test"))
        unknown.append(_timed_login("nobody@example.test"))
    return statistics.median(known), statistics.median(unknown)


def test_login_takes_as_long_for_an_unknown_address_as_for_a_known_one(make_user, measurable_hashing):
    known, unknown = _medians(make_user)
    assert known > 0.002, "the hasher must be measurable for this test to mean anything"
    assert abs(known - unknown) < 0.25 * known, (known, unknown)


def test_control_an_unknown_address_that_skipped_the_hash_would_be_seen(make_user, measurable_hashing, monkeypatch):
    import domains.accounts.services.authentication as authentication

    monkeypatch.setattr(authentication, "check_password", lambda *a, **k: False)
    known, unknown = _medians(make_user)
    assert abs(known - unknown) >= 0.25 * known, (known, unknown)


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
    from tests.wallet.conftest import create_apple, create_google

    settings.WALLET_DEV_DIR = tmp_path / "wallet-dev"
    settings.WALLET_DEV_CREDENTIALS = True
    for name in ("APPLE_PASS_CERTIFICATE", "APPLE_PASS_KEY", "APPLE_WWDR_CERTIFICATE", "GOOGLE_WALLET_ISSUER_ID",
                 "GOOGLE_WALLET_SERVICE_ACCOUNT"):
        setattr(settings, name, "")
    settings.WALLET_APNS_TRANSPORT = "tests.wallet.transports.recording_apns"
    settings.WALLET_GOOGLE_TRANSPORT = "tests.wallet.transports.recording_google"
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
