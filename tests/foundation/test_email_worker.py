"""The email worker: one email per key however often it is enqueued or delivered (dramatiq#431),
nothing sent for a rolled-back transaction (item 22), and a failed send is retried."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from domains.notifications.models import OutboundEmail
from domains.notifications.services import email_deliver, email_enqueue
from workers.emails import send_email


def enqueue(key="test:1", to="ana@example.test"):
    return email_enqueue(key=key, to_email=to, template="account_exists", context={"full_name": "Ana"})


def test_the_same_key_is_one_email(run_jobs, outbox):
    with transaction.atomic():
        first = enqueue()
        second = enqueue()
    assert first.pk == second.pk and OutboundEmail.objects.count() == 1
    enqueue()  # later, in another transaction
    run_jobs()
    assert len(outbox.messages()) == 1


def test_a_message_delivered_twice_sends_one_email(run_jobs, outbox):
    with transaction.atomic():
        email = enqueue()
    run_jobs()
    # the broker redelivers the same message (a worker died before acking, a delayed retry...)
    send_email.send(email.pk)
    send_email.send(email.pk)
    run_jobs()
    assert len(outbox.messages()) == 1
    email.refresh_from_db()
    assert email.status == "sent" and email.attempts == 1


def test_the_actor_called_twice_sends_one_email(db, outbox):
    email = enqueue()
    send_email(email.pk)
    send_email(email.pk)
    assert len(outbox.messages()) == 1
    assert outbox.messages()[0]["X-Festival-Email-Key"] == "test:1"


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(run_jobs, outbox):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        enqueue()
        raise Abort
    run_jobs()
    assert outbox.messages() == []
    assert not OutboundEmail.objects.exists()


def test_a_failed_send_is_retried_and_sends_once(db, outbox, monkeypatch):
    from workers.email_backends import OutboxBackend

    email = enqueue()
    original = OutboxBackend.send_messages
    calls = {"n": 0}

    def flaky(self, messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("provider down")
        return original(self, messages)

    monkeypatch.setattr(OutboxBackend, "send_messages", flaky)
    with pytest.raises(ConnectionError):
        email_deliver(outbound_email_id=email.pk)
    email.refresh_from_db()
    assert email.status == "pending"
    assert email_deliver(outbound_email_id=email.pk) is True
    assert email_deliver(outbound_email_id=email.pk) is False
    assert len(outbox.messages()) == 1


def test_the_actor_is_declared_with_retries_and_a_time_limit():
    assert send_email.options["max_retries"] >= 1
    assert send_email.options["time_limit"] > 0


def test_queue_messages_carry_ids_only(db):
    email = enqueue()
    message = send_email.message(email.pk)
    assert message.args == (email.pk,) and message.kwargs == {}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_one_email(outbox):
    email = enqueue()
    barrier = threading.Barrier(2)
    results = []

    def deliver():
        try:
            barrier.wait()
            results.append(email_deliver(outbound_email_id=email.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False, True]
    assert len(outbox.messages()) == 1
