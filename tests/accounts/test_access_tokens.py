"""Item 9 (forged and misused JWTs are refused) and item 11 (logout, password change and reset,
and a role change end old access tokens on the next request)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from domains.accounts import services
from domains.accounts.services.authentication import session_start
from domains.accounts.tokens import jwt_key
from tests.conftest import PASSWORD
from tests.support.accounts import CHANGE_PASSWORD, LOGIN, LOGOUT, ME, NEW_PASSWORD, is_authenticated
from tests.support.graphql import GraphQLClient


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.fixture
def victim(make_user):
    user = make_user("attendee", email="victim@example.test")
    pair = session_start(user=user)
    claims = jwt.decode(pair.access_token, jwt_key(), algorithms=["HS256"], issuer=settings.JWT_ISSUER)
    return user, pair, claims


def me_as(token: str):
    return GraphQLClient().authenticate(token).execute(ME)


def assert_refused(token: str):
    response = me_as(token)
    assert response.status_code == 200
    assert response.data is None, response.body
    assert [e["extensions"]["code"] for e in response.errors] == ["UNAUTHENTICATED"]


def test_the_genuine_token_works(victim):
    user, pair, _claims = victim
    assert me_as(pair.access_token).data["me"]["email"] == user.email


def test_alg_none_is_refused(victim):
    _user, _pair, claims = victim
    for alg in ("none", "None", "NONE"):
        assert_refused(f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}.")


@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_another_hmac_algorithm_with_the_real_key_is_refused(victim, algorithm):
    _user, _pair, claims = victim
    assert_refused(jwt.encode(claims, jwt_key(), algorithm=algorithm))


def test_rs256_with_a_random_key_is_refused(victim):
    _user, _pair, claims = victim
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_refused(jwt.encode(claims, key, algorithm="RS256"))


def test_a_token_signed_with_another_secret_is_refused(victim):
    _user, _pair, claims = victim
    assert_refused(jwt.encode(claims, "not-our-secret-" * 4, algorithm="HS256"))
    assert_refused(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256"))  # the raw secret, not the derived key


def test_expired_token_is_refused(victim):
    _user, _pair, claims = victim
    past = int(time.time()) - 3600
    assert_refused(jwt.encode({**claims, "iat": past - 300, "exp": past}, jwt_key(), algorithm="HS256"))


def test_wrong_issuer_is_refused(victim):
    _user, _pair, claims = victim
    assert_refused(jwt.encode({**claims, "iss": "someone-else"}, jwt_key(), algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "sub", "sid", "ver", "typ"])
def test_a_token_missing_a_required_claim_is_refused(victim, missing):
    _user, _pair, claims = victim
    assert_refused(jwt.encode({k: v for k, v in claims.items() if k != missing}, jwt_key(), algorithm="HS256"))


def test_edited_claims_with_the_old_signature_are_refused(victim, make_user):
    _user, pair, claims = victim
    other = make_user("admin")
    header, _payload, signature = pair.access_token.split(".")
    for edit in ({"role": "admin"}, {"sub": str(other.public_id)}, {"ver": claims["ver"] + 1}, {"exp": claims["exp"] + 86400}):
        assert_refused(f"{header}.{_b64({**claims, **edit})}.{signature}")
    # the header's algorithm edited, signature kept
    assert_refused(f"{_b64({**_unb64(header), 'alg': 'HS512'})}.{pair.access_token.split('.')[1]}.{signature}")


def test_validly_signed_claims_for_another_user_or_session_are_refused(victim, make_user):
    """Even with our key, a token must match a live session of the same user."""
    _user, _pair, claims = victim
    other = make_user("admin")
    assert_refused(jwt.encode({**claims, "sub": str(other.public_id)}, jwt_key(), algorithm="HS256"))
    assert_refused(jwt.encode({**claims, "sid": str(uuid.uuid4())}, jwt_key(), algorithm="HS256"))
    assert_refused(jwt.encode({**claims, "sub": "not-a-uuid"}, jwt_key(), algorithm="HS256"))
    assert_refused(jwt.encode({**claims, "ver": "0"}, jwt_key(), algorithm="HS256"))


def test_a_refresh_token_is_not_an_access_token(victim):
    _user, pair, claims = victim
    assert_refused(pair.refresh_token)
    assert_refused(jwt.encode({**claims, "typ": "refresh"}, jwt_key(), algorithm="HS256"))


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic dXNlcjpwYXNz", "garbage", "Bearer " + "x" * 10_000, "Bearer ...."],
)
def test_garbage_authorization_headers_are_refused(db, header):
    response = GraphQLClient().execute(ME, headers={"Authorization": header})
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.errors] == ["UNAUTHENTICATED"]


def test_a_broken_token_does_not_block_public_operations(gql, make_user):
    make_user(email="ana@example.test")
    response = gql.execute(LOGIN, {"email": "ana@example.test", "password": PASSWORD}, headers={"Authorization": "Bearer expired.or.forged"})
    assert response.payload("login")["errors"] == []


# --- item 11: old access tokens die on the next request --------------------------------------


def test_logout_kills_the_access_token(victim):
    _user, pair, _claims = victim
    client = GraphQLClient().authenticate(pair.access_token)
    assert client.execute(LOGOUT).payload("logout")["ok"] is True
    assert_refused(pair.access_token)


def test_password_change_kills_old_access_tokens(victim):
    user, pair, _claims = victim
    elsewhere = session_start(user=user).access_token
    client = GraphQLClient().authenticate(pair.access_token)
    new_pair = client.execute(CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}).payload("changePassword")
    assert_refused(pair.access_token)
    assert_refused(elsewhere)
    assert is_authenticated(GraphQLClient().authenticate(new_pair["accessToken"]))


def test_password_reset_kills_old_access_tokens(victim):
    from datetime import timedelta

    from domains.accounts.models import OneTimeToken
    from domains.accounts.tokens import hash_secret
    from domains.common.clock import now

    user, pair, _claims = victim
    OneTimeToken.objects.create(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, token_hash=hash_secret("r"), expires_at=now() + timedelta(hours=1)
    )
    services.password_reset(token="r", new_password=NEW_PASSWORD)
    assert_refused(pair.access_token)


@pytest.mark.parametrize("new_role", ["staff", "admin", "vendor"])
def test_role_change_kills_old_access_tokens(victim, new_role):
    user, pair, _claims = victim
    services.user_set_role(user=user, role=new_role)
    assert_refused(pair.access_token)
    fresh = session_start(user=user).access_token
    assert me_as(fresh).data["me"]["role"] == new_role.upper()


def test_a_disabled_user_is_refused_at_once(victim):
    from domains.accounts.models import User

    user, pair, _claims = victim
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_refused(pair.access_token)
