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


def _reset_request_footprint(gql, email):
    """The SQL the request ran and the messages it queued."""
    import dramatiq
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    broker = dramatiq.get_broker()
    queued = []
    original = broker.enqueue

    def enqueue(message, *, delay=None):
        queued.append(message)
        return original(message, delay=delay)

    broker.enqueue = enqueue
    try:
        with CaptureQueriesContext(connection) as queries:
            assert gql.execute(REQUEST_RESET, {"email": email}).body == OK
    finally:
        del broker.enqueue
    return [q["sql"] for q in queries.captured_queries], queued


def test_a_registered_and_an_unknown_address_cost_the_request_the_same_work(
    transactional_db, gql, make_user, outbox, request
):
    """No timing oracle: the request neither reads nor writes anything about the address; it
    queues one job either way, and the address in it is sealed, never in the clear."""
    make_user(email="ana@example.test")
    known_sql, known_jobs = _reset_request_footprint(gql, "ana@example.test")
    unknown_sql, unknown_jobs = _reset_request_footprint(gql, "nobody@example.test")

    assert known_sql == unknown_sql == []
    assert [m.actor_name for m in known_jobs] == [m.actor_name for m in unknown_jobs] == ["send_password_reset"]
    for message in known_jobs + unknown_jobs:
        assert b"example.test" not in message.encode()
    assert not OneTimeToken.objects.exists()  # nothing is decided before the job runs

    request.getfixturevalue("run_jobs")()  # the worker starts only now: it would enqueue emails of its own
    assert [m["To"] for m in outbox.messages()] == ["ana@example.test"]
    assert OneTimeToken.objects.count() == 1


def test_with_the_broker_down_the_reset_is_done_in_the_request(
    gql, make_user, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from workers.accounts import send_password_reset

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(send_password_reset, "send", broker_down)
    user = make_user(email="ana@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert gql.execute(REQUEST_RESET, {"email": "ana@example.test"}).body == OK
    assert "password reset job not enqueued" in caplog.text
    assert OneTimeToken.objects.get().user == user
    assert OutboundEmail.objects.get().to_email == "ana@example.test"  # delivered by its own job, or resent


def test_a_reset_job_older_than_its_time_to_live_or_not_sealed_by_us_sends_nothing(make_user, settings, monkeypatch):
    import time

    from domains.accounts.services.passwords import password_reset_email_send
    from domains.common.sealed import seal

    make_user(email="ana@example.test")
    sealed = seal("ana@example.test")
    later = time.time() + settings.PASSWORD_RESET_REQUEST_MAX_AGE + 61
    monkeypatch.setattr("cryptography.fernet.time.time", lambda: later)
    password_reset_email_send(sealed_email=sealed)
    monkeypatch.undo()
    password_reset_email_send(sealed_email="ana@example.test")  # a message someone put in the queue by hand
    settings.SECRET_KEY = "another-key-" + "x" * 50
    password_reset_email_send(sealed_email=sealed)
    assert not OneTimeToken.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_a_reset_job_retried_after_its_transaction_failed_still_sends(make_user, monkeypatch):
    """The account's one reset email of the interval belongs to the request: the job's retry
    (dramatiq retries a failed job) is not refused as a second request. It was: the limit was
    counted before the transaction, so a failure there lost the email for 15 minutes."""
    from django.db import DatabaseError

    from domains.accounts.services import passwords
    from domains.common.sealed import seal

    make_user(email="ana@example.test")
    sealed = seal("ana@example.test")
    real = passwords.email_enqueue

    def down(**kwargs):
        raise DatabaseError("injected")

    monkeypatch.setattr(passwords, "email_enqueue", down)
    with pytest.raises(DatabaseError):
        passwords.password_reset_email_send(sealed_email=sealed)
    assert not OneTimeToken.objects.exists()

    monkeypatch.setattr(passwords, "email_enqueue", real)
    passwords.password_reset_email_send(sealed_email=sealed)  # the retry
    assert OneTimeToken.objects.count() == 1 and OutboundEmail.objects.count() == 1
    passwords.password_reset_email_send(sealed_email=seal("ana@example.test"))  # another request: limited
    assert OneTimeToken.objects.count() == 1 and OutboundEmail.objects.count() == 1
