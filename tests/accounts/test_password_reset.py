"""requestPasswordReset and resetPassword: emailed single-use links, same answer for everyone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domains.accounts.models import OneTimeToken
from domains.notifications.models import OutboundEmail
from tests.conftest import PASSWORD
from tests.support.accounts import LOGIN, NEW_PASSWORD, REQUEST_RESET, RESET_PASSWORD, is_authenticated, token_in
from tests.support.graphql import GraphQLClient

OK = {"data": {"requestPasswordReset": {"ok": True, "errors": []}}}


def test_reset_by_email_link(gql, make_user, run_jobs, outbox, token_for):
    user = make_user(email="ana@example.test")
    old_client = GraphQLClient().authenticate(token_for(user))
    assert gql.execute(REQUEST_RESET, {"email": "ANA@example.test"}).body == OK
    run_jobs()
    [message] = outbox.messages()
    assert message["To"] == "ana@example.test"
    token = token_in(message)

    assert gql.execute(RESET_PASSWORD, {"token": token, "new": NEW_PASSWORD}).payload("resetPassword") == {"ok": True, "errors": []}
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.email_verified_at is not None, "reading the reset email proves the address"
    assert not is_authenticated(old_client), "a reset ends every session"
    # the link works once
    again = gql.execute(RESET_PASSWORD, {"token": token, "new": "yet-another-passphrase-7"})
    assert again.error_codes("resetPassword") == ["INVALID_TOKEN"]
    assert gql.execute(LOGIN, {"email": "ana@example.test", "password": NEW_PASSWORD}).payload("login")["errors"] == []


def test_unknown_and_disabled_addresses_get_the_same_answer_and_no_email(gql, make_user, run_jobs, outbox):
    make_user(email="off@example.test", is_active=False)
    for address in ("nobody@example.test", "off@example.test", "not even an email"):
        response = gql.execute(REQUEST_RESET, {"email": address})
        assert response.status_code == 200 and response.body == OK
    run_jobs()
    assert outbox.messages() == []
    assert not OneTimeToken.objects.exists()


def test_one_reset_email_per_account_per_interval(gql, make_user, run_jobs, outbox, settings):
    make_user(email="ana@example.test")
    make_user(email="bob@example.test")
    for _ in range(5):
        assert gql.execute(REQUEST_RESET, {"email": "ana@example.test"}).body == OK
    assert gql.execute(REQUEST_RESET, {"email": "bob@example.test"}).body == OK
    run_jobs()
    assert sorted(m["To"] for m in outbox.messages()) == ["ana@example.test", "bob@example.test"]
    assert settings.PASSWORD_RESET_EMAIL_INTERVAL == 15 * 60


def _reset_token(user, raw="raw-reset-token", **kwargs):
    from domains.accounts.tokens import hash_secret
    from domains.common.clock import now

    OneTimeToken.objects.create(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, token_hash=hash_secret(raw),
        expires_at=kwargs.get("expires_at", now() + timedelta(hours=1)),
    )
    return raw


@pytest.mark.parametrize(
    ("token", "new", "code"),
    [
        ("garbage", NEW_PASSWORD, "INVALID_TOKEN"),
        ("", NEW_PASSWORD, "INVALID_TOKEN"),
        ("raw-reset-token", "short", "PASSWORD_TOO_WEAK"),
        ("raw-reset-token", "x" * 10_000, "PASSWORD_TOO_WEAK"),
    ],
)
def test_reset_password_errors_change_nothing(gql, make_user, token, new, code):
    user = make_user()
    _reset_token(user)
    response = gql.execute(RESET_PASSWORD, {"token": token, "new": new})
    assert {e["code"] for e in response.payload("resetPassword")["errors"]} == {code}
    assert response.payload("resetPassword")["ok"] is False
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # a weak password did not spend the link
    assert OneTimeToken.objects.get().used_at is None


def test_reset_password_refuses_an_expired_link(gql, make_user):
    from domains.common.clock import now

    user = make_user()
    raw = _reset_token(user, expires_at=now() - timedelta(seconds=1))
    assert gql.execute(RESET_PASSWORD, {"token": raw, "new": NEW_PASSWORD}).error_codes("resetPassword") == ["TOKEN_EXPIRED"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_verification_token_cannot_reset_a_password(gql, make_user):
    from domains.accounts.tokens import hash_secret
    from domains.common.clock import now

    user = make_user()
    OneTimeToken.objects.create(
        user=user, purpose=OneTimeToken.Purpose.EMAIL_VERIFICATION, token_hash=hash_secret("verify-raw"),
        expires_at=now() + timedelta(hours=1),
    )
    response = gql.execute(RESET_PASSWORD, {"token": "verify-raw", "new": NEW_PASSWORD})
    assert response.error_codes("resetPassword") == ["INVALID_TOKEN"]


def test_using_one_link_spends_the_others(gql, make_user):
    user = make_user()
    first = _reset_token(user, "first-raw")
    second = _reset_token(user, "second-raw")
    assert gql.execute(RESET_PASSWORD, {"token": second, "new": NEW_PASSWORD}).payload("resetPassword")["ok"] is True
    assert gql.execute(RESET_PASSWORD, {"token": first, "new": "yet-another-passphrase-7"}).error_codes("resetPassword") == ["INVALID_TOKEN"]


def test_reset_email_context_is_wiped_after_sending(gql, make_user, run_jobs):
    make_user(email="ana@example.test")
    gql.execute(REQUEST_RESET, {"email": "ana@example.test"})
    run_jobs()
    email = OutboundEmail.objects.get()
    assert email.sensitive and email.status == "sent" and email.context == {}
