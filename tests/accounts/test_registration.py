"""register and verifyEmail through /graphql/, with the emails they send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domains.accounts.models import OneTimeToken, User
from domains.notifications.models import OutboundEmail
from tests.conftest import PASSWORD
from tests.support.accounts import LOGIN, REGISTER, VERIFY_EMAIL, token_in

GOOD = "a-long-enough-passphrase"


def test_register_creates_attendee_and_sends_verification(gql, run_jobs, outbox):
    response = gql.execute(REGISTER, {"email": "  New.Person@Example.TEST ", "password": GOOD, "fullName": "New Person"})
    assert response.payload("register") == {"ok": True, "errors": []}
    user = User.objects.get()
    assert user.email == "new.person@example.test"
    assert user.role == "attendee" and user.email_verified_at is None
    run_jobs()
    [message] = outbox.messages()
    assert message["To"] == "new.person@example.test"
    token = token_in(message)
    assert token not in str(OutboundEmail.objects.get().context), "secret context is wiped once sent"

    verified = gql.execute(VERIFY_EMAIL, {"token": token}).payload("verifyEmail")
    assert verified["errors"] == []
    assert verified["user"]["emailVerified"] is True
    # single use
    again = gql.execute(VERIFY_EMAIL, {"token": token})
    assert again.error_codes("verifyEmail") == ["INVALID_TOKEN"]
    # and the new account can log in
    login = gql.execute(LOGIN, {"email": "new.person@example.test", "password": GOOD}).payload("login")
    assert login["errors"] == [] and login["accessToken"]



def test_an_address_saved_in_another_spelling_is_stored_normalised(gql, make_user):
    """The admin or a shell saving "Mixed@Example.TEST" stores it as every look-up spells it:
    its owner can log in, and registering it again answers as for any known address. It used
    to be stored as typed: the login found no account and the registration crashed on the
    case-insensitive unique constraint."""
    user = User(email=" Mixed.Case@Example.TEST ", full_name="Mixed")
    user.set_password(PASSWORD)
    user.save()
    user.refresh_from_db()
    assert user.email == "mixed.case@example.test"
    login = gql.execute(LOGIN, {"email": "Mixed.Case@Example.test", "password": PASSWORD}).payload("login")
    assert login["errors"] == [] and login["accessToken"]
    again = gql.execute(REGISTER, {"email": "mixed.case@example.test", "password": GOOD, "fullName": "Someone"})
    assert again.payload("register") == {"ok": True, "errors": []}
    assert User.objects.filter(email__iexact="mixed.case@example.test").count() == 1


def test_register_existing_email_answers_like_a_new_one(gql, make_user, run_jobs, outbox):
    make_user(email="taken@example.test")
    new = gql.execute(REGISTER, {"email": "fresh@example.test", "password": GOOD})
    existing = gql.execute(REGISTER, {"email": "Taken@Example.test", "password": GOOD})
    assert new.status_code == existing.status_code == 200
    assert new.body == {"data": {"register": {"ok": True, "errors": []}}}
    assert existing.body == new.body
    assert User.objects.filter(email="taken@example.test").count() == 1
    run_jobs()
    subjects = {m["To"]: m["Subject"] for m in outbox.messages()}
    assert set(subjects) == {"fresh@example.test", "taken@example.test"}
    assert "token=" not in [m for m in outbox.messages() if m["To"] == "taken@example.test"][0].get_content()
    # the owner of the existing account keeps their password
    assert User.objects.get(email="taken@example.test").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"email": "not-an-email", "password": GOOD}, "INVALID_EMAIL", "email"),
        ({"email": "", "password": GOOD}, "INVALID_EMAIL", "email"),
        ({"email": "a" * 10_000 + "@example.test", "password": GOOD}, "INVALID_EMAIL", "email"),
        ({"email": "short@example.test", "password": "short"}, "PASSWORD_TOO_WEAK", "password"),
        ({"email": "common@example.test", "password": "password123"}, "PASSWORD_TOO_WEAK", "password"),
        ({"email": "numeric@example.test", "password": "12345678901234"}, "PASSWORD_TOO_WEAK", "password"),
        ({"email": "long@example.test", "password": "x" * 10_000}, "PASSWORD_TOO_WEAK", "password"),
        ({"email": "name@example.test", "password": GOOD, "fullName": "n" * 10_000}, "INVALID_INPUT", "fullName"),
    ],
)
def test_register_rejects_bad_input(gql, db, variables, code, field):
    response = gql.execute(REGISTER, variables)
    errors = response.payload("register")["errors"]
    assert response.payload("register")["ok"] is False
    assert {e["code"] for e in errors} == {code}
    assert {e["field"] for e in errors} == {field}
    assert not User.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_verify_email_rejects_garbage_and_expired_tokens(gql, db, run_jobs, outbox):
    assert gql.execute(VERIFY_EMAIL, {"token": "garbage"}).error_codes("verifyEmail") == ["INVALID_TOKEN"]
    gql.execute(REGISTER, {"email": "late@example.test", "password": GOOD})
    run_jobs()
    token = token_in(outbox.messages()[0])
    OneTimeToken.objects.update(expires_at=OneTimeToken.objects.get().created_at - timedelta(seconds=1))
    assert gql.execute(VERIFY_EMAIL, {"token": token}).error_codes("verifyEmail") == ["TOKEN_EXPIRED"]
    assert User.objects.get().email_verified_at is None


def test_a_reset_token_does_not_verify_email(gql, make_user, db):
    from domains.accounts.tokens import hash_secret
    from domains.common.clock import now

    user = make_user()
    OneTimeToken.objects.create(
        user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, token_hash=hash_secret("reset-raw"),
        expires_at=now() + timedelta(hours=1),
    )
    assert gql.execute(VERIFY_EMAIL, {"token": "reset-raw"}).error_codes("verifyEmail") == ["INVALID_TOKEN"]
