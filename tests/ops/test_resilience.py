"""In-process halves of the fault tests (tests/faults run the real outages): a lost database
connection answers 503 RETRY_LATER; rate limits fail open without the cache; an email whose
job cannot be enqueued stays pending and `resend_pending_emails` enqueues it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import OperationalError, transaction


def test_a_lost_database_connection_is_a_503_retry_later(as_user, monkeypatch):
    from schema.accounts import queries

    client = as_user("attendee")

    def gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(queries, "user_export", gone)
    response = client.execute("{ exportMyData }")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.errors[0]["extensions"]["code"] == "RETRY_LATER"
    assert "closed the connection" not in str(response.body) and "Traceback" not in str(response.body)


def test_rate_limits_fail_open_when_the_cache_is_down(monkeypatch, caplog):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from domains.common import ratelimit

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(ratelimit, "_hit", down)
    assert ratelimit.hit("x", limit=1, window=60).allowed
    ratelimit.enforce("x", limit=0, window=60)  # no RateLimited
    assert "rate limit not counted" in caplog.text

    monkeypatch.setattr(ratelimit.cache, "add", down)
    assert ratelimit.claim("y", owner="a", window=60) and ratelimit.claim("y", owner="b", window=60)


def test_a_claimed_slot_is_its_owners_until_the_window_ends(db):
    from domains.common import ratelimit

    assert ratelimit.claim("z", owner="a", window=60)
    assert ratelimit.claim("z", owner="a", window=60)  # the same work, again
    assert not ratelimit.claim("z", owner="b", window=60)


def test_an_email_whose_job_cannot_be_enqueued_stays_pending_and_is_resent(db, monkeypatch, caplog, django_capture_on_commit_callbacks):
    from domains.notifications.models import OutboundEmail
    from domains.notifications.services import email_enqueue
    from workers.emails import send_email

    sent = []

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(send_email, "send", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = email_enqueue(key="lost:1", to_email="l@example.test", template="account_exists", context={})
    assert "email job not enqueued" in caplog.text
    assert OutboundEmail.objects.get(pk=row.pk).status == "pending"

    monkeypatch.setattr(send_email, "send", lambda pk: sent.append(pk))
    call_command("resend_pending_emails", "--older-than", "60")
    assert sent == []  # too recent: its first job may still be on its way
    OutboundEmail.objects.filter(pk=row.pk).update(created_at=row.created_at - dt.timedelta(minutes=5))
    call_command("resend_pending_emails", "--older-than", "60")
    assert sent == [row.pk]


@pytest.mark.django_db
def test_the_resend_actor_is_declared_with_a_time_limit():
    from workers.emails import resend_pending_emails

    assert resend_pending_emails.options["time_limit"] > 0
