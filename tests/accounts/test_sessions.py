"""login, refreshToken, logout, me, updateMe, changePassword through /graphql/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domains.accounts.models import AuthSession, RefreshToken, User
from tests.conftest import PASSWORD
from tests.support.accounts import (
    CHANGE_PASSWORD,
    LOGIN,
    LOGOUT,
    ME,
    NEW_PASSWORD,
    REFRESH,
    UPDATE_ME,
    is_authenticated,
)
from tests.support.graphql import GraphQLClient


def login(gql, email, password=PASSWORD) -> dict:
    return gql.execute(LOGIN, {"email": email, "password": password}).payload("login")


def signed_in(access_token) -> GraphQLClient:
    return GraphQLClient().authenticate(access_token)


def test_login_returns_a_working_token_pair(gql, make_user):
    user = make_user(email="ana@example.test", full_name="Ana")
    payload = login(gql, " ANA@example.test ")
    assert payload["errors"] == []
    assert payload["accessTokenExpiresIn"] == 300
    assert payload["user"]["email"] == "ana@example.test" and payload["user"]["role"] == "ATTENDEE"
    assert payload["refreshToken"] and payload["refreshToken"] != payload["accessToken"]
    me = signed_in(payload["accessToken"]).execute(ME)
    assert me.data["me"]["id"] == str(user.public_id)
    # only the hash of the refresh token is stored
    assert not RefreshToken.objects.filter(token_hash=payload["refreshToken"]).exists()


@pytest.mark.parametrize(
    ("email", "password"),
    [("ana@example.test", "wrong-password-123"), ("nobody@example.test", PASSWORD), ("", ""), ("ana@example.test", "")],
)
def test_login_refuses_bad_credentials_with_one_answer(gql, make_user, email, password):
    make_user(email="ana@example.test")
    payload = login(gql, email, password)
    assert payload == {
        "accessToken": None,
        "refreshToken": None,
        "accessTokenExpiresIn": None,
        "user": None,
        "errors": [{"code": "INVALID_CREDENTIALS", "message": "Email or password is wrong.", "field": None, "retryAfter": None}],
    }
    assert not AuthSession.objects.exists()


def test_login_refuses_a_disabled_account_like_a_wrong_password(gql, make_user):
    make_user(email="off@example.test", is_active=False)
    payload = login(gql, "off@example.test")
    assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
    assert payload["errors"][0]["message"] == "Email or password is wrong."


def test_refresh_rotates_and_each_token_is_single_use(gql, make_user):
    make_user(email="ana@example.test")
    first = login(gql, "ana@example.test")
    second = gql.execute(REFRESH, {"token": first["refreshToken"]}).payload("refreshToken")
    assert second["errors"] == []
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert is_authenticated(signed_in(second["accessToken"]))
    third = gql.execute(REFRESH, {"token": second["refreshToken"]}).payload("refreshToken")
    assert third["errors"] == [] and is_authenticated(signed_in(third["accessToken"]))


@pytest.mark.parametrize("token", ["", "garbage", "x" * 10_000])
def test_refresh_refuses_unknown_tokens(gql, db, token):
    response = gql.execute(REFRESH, {"token": token})
    assert response.error_codes("refreshToken") == ["INVALID_TOKEN"]
    assert response.payload("refreshToken")["errors"][0]["field"] == "refreshToken"


def test_refresh_refuses_an_expired_token(gql, make_user):
    make_user(email="ana@example.test")
    pair = login(gql, "ana@example.test")
    RefreshToken.objects.update(expires_at=RefreshToken.objects.get().created_at - timedelta(seconds=1))
    assert gql.execute(REFRESH, {"token": pair["refreshToken"]}).error_codes("refreshToken") == ["TOKEN_EXPIRED"]


def test_refresh_refuses_a_disabled_user(gql, make_user):
    user = make_user(email="ana@example.test")
    pair = login(gql, "ana@example.test")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert gql.execute(REFRESH, {"token": pair["refreshToken"]}).error_codes("refreshToken") == ["INVALID_TOKEN"]
    assert not is_authenticated(signed_in(pair["accessToken"]))


def test_replaying_a_spent_refresh_token_revokes_the_family(gql, make_user):
    make_user(email="ana@example.test")
    other_session = login(gql, "ana@example.test")
    first = login(gql, "ana@example.test")
    second = gql.execute(REFRESH, {"token": first["refreshToken"]}).payload("refreshToken")
    # the thief (or a confused client) replays the spent token
    assert gql.execute(REFRESH, {"token": first["refreshToken"]}).error_codes("refreshToken") == ["INVALID_TOKEN"]
    # the whole family is dead: the newer refresh token and every access token of the session
    assert gql.execute(REFRESH, {"token": second["refreshToken"]}).error_codes("refreshToken") == ["INVALID_TOKEN"]
    assert not is_authenticated(signed_in(second["accessToken"]))
    assert not is_authenticated(signed_in(first["accessToken"]))
    # another login of the same person is a different family and lives on
    assert is_authenticated(signed_in(other_session["accessToken"]))
    assert AuthSession.objects.get(revoked_at__isnull=False).revoked_reason == "refresh_reuse"


def test_logout_ends_the_session(gql, make_user):
    make_user(email="ana@example.test")
    pair = login(gql, "ana@example.test")
    other = login(gql, "ana@example.test")
    client = signed_in(pair["accessToken"])
    assert client.execute(LOGOUT).payload("logout") == {"ok": True, "errors": []}
    assert not is_authenticated(client)
    assert gql.execute(REFRESH, {"token": pair["refreshToken"]}).error_codes("refreshToken") == ["INVALID_TOKEN"]
    assert is_authenticated(signed_in(other["accessToken"])), "logout ends this session only"
    # logging out again with the dead token is refused
    again = client.execute(LOGOUT)
    assert again.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("document", [ME, LOGOUT, UPDATE_ME, CHANGE_PASSWORD])
def test_anonymous_callers_get_unauthenticated(gql, db, document):
    variables = {"current": "x", "new": "y"} if document is CHANGE_PASSWORD else {}
    response = gql.execute(document, variables)
    assert response.status_code == 200
    assert response.data is None
    [error] = response.errors
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "Authentication required."


def test_me(as_user):
    client = as_user("vendor", email="v@example.test", full_name="Vera")
    me = client.execute(ME).data["me"]
    assert me == {
        "id": str(client.user.public_id), "email": "v@example.test", "fullName": "Vera", "phone": "",
        "role": "VENDOR", "emailVerified": False,
    }


def test_update_me_changes_name_and_phone_only(as_user):
    client = as_user()
    payload = client.execute(UPDATE_ME, {"fullName": "  Ana Lopez ", "phone": "+34 (600) 123-456"}).payload("updateMe")
    assert payload["errors"] == []
    assert payload["user"]["fullName"] == "Ana Lopez" and payload["user"]["phone"] == "+34 (600) 123-456"
    # omitted arguments stay as they are
    payload = client.execute(UPDATE_ME, {"phone": ""}).payload("updateMe")
    assert payload["user"]["fullName"] == "Ana Lopez" and payload["user"]["phone"] == ""
    client.user.refresh_from_db()
    assert client.user.full_name == "Ana Lopez" and client.user.role == "attendee"


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"fullName": "n" * 10_000}, "fullName"), ({"phone": "call me maybe"}, "phone"), ({"phone": "1" * 33}, "phone")],
)
def test_update_me_rejects_bad_input(as_user, variables, field):
    client = as_user(full_name="Before")
    response = client.execute(UPDATE_ME, variables)
    assert response.error_codes("updateMe") == ["INVALID_INPUT"]
    assert response.payload("updateMe")["errors"][0]["field"] == field
    client.user.refresh_from_db()
    assert client.user.full_name == "Before" and client.user.phone == ""


def test_change_password_ends_every_session_and_returns_a_new_pair(gql, make_user):
    make_user(email="ana@example.test")
    here = login(gql, "ana@example.test")
    elsewhere = login(gql, "ana@example.test")
    client = signed_in(here["accessToken"])
    payload = client.execute(CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}).payload("changePassword")
    assert payload["errors"] == [] and payload["accessToken"]
    assert is_authenticated(signed_in(payload["accessToken"]))
    assert not is_authenticated(client)
    assert not is_authenticated(signed_in(elsewhere["accessToken"]))
    for old in (here, elsewhere):
        assert gql.execute(REFRESH, {"token": old["refreshToken"]}).error_codes("refreshToken") == ["INVALID_TOKEN"]
    assert login(gql, "ana@example.test")["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert login(gql, "ana@example.test", NEW_PASSWORD)["errors"] == []


@pytest.mark.parametrize(
    ("current", "new", "code", "field"),
    [
        ("wrong-password-1", NEW_PASSWORD, "INVALID_CREDENTIALS", "currentPassword"),
        (PASSWORD, "short", "PASSWORD_TOO_WEAK", "newPassword"),
        (PASSWORD, "x" * 10_000, "PASSWORD_TOO_WEAK", "newPassword"),
    ],
)
def test_change_password_errors_change_nothing(as_user, current, new, code, field):
    client = as_user()
    response = client.execute(CHANGE_PASSWORD, {"current": current, "new": new})
    errors = response.payload("changePassword")["errors"]
    assert {e["code"] for e in errors} == {code} and {e["field"] for e in errors} == {field}
    assert response.payload("changePassword")["accessToken"] is None
    assert is_authenticated(client)
    client.user.refresh_from_db()
    assert client.user.check_password(PASSWORD)
