"""An attacker's look at authentication (items 9 to 12 and the credentials beside them): what
tests/accounts/test_access_tokens.py, test_sessions.py, test_password_reset.py,
test_auth_cache.py, tests/scanning/test_websocket_*.py, tests/ops/test_object_access.py and
tests/ops/test_abuse_limits.py do not already prove, at the token doors (the others:
test_adversarial_doors.py).

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
