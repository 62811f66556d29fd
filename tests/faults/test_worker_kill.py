"""Item 21: a worker killed (SIGKILL) in the middle of an email job. The Redis broker keeps the
message in the dead worker's ack set; another worker's maintenance sees the dead worker's
heartbeat go stale (DRAMATIQ_HEARTBEAT_TIMEOUT_MS) and puts the message back on the queue.
The email row was locked by the killed worker's transaction, which PostgreSQL rolled back when
its connection died, so the redelivery sends it, once."""

from __future__ import annotations

import signal
import time

import pytest

from tests.faults.services import django_script, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases=[])]

ENQUEUE = """
from django.db import transaction
from domains.notifications.services import email_enqueue
with transaction.atomic():
    row = email_enqueue(key="kill:{key}", to_email="kill@example.test", template="account_exists", context={{"full_name": "K"}})
print(row.pk)
"""


def test_a_worker_killed_mid_send_is_redelivered_and_sends_once(stack):
    pg, redis_, env, var_dir = stack
    env = {**env, "EMAIL_BACKEND": "tests.faults.slow_backend.SlowOutboxBackend"}
    slow = {**env, "SLOW_EMAIL_SECONDS": "30"}
    rescuer = {**env, "SLOW_EMAIL_SECONDS": "0", "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "2000", "DRAMATIQ_MAINTENANCE_CHANCE": "1000000"}
    outbox, sending = var_dir / "outbox", var_dir / "sending"

    pk = int(django_script(env, ENQUEUE.format(key="1")).strip())
    doomed = start_worker(slow, var_dir, "doomed")
    try:
        wait_for(lambda: sending.exists() and any(sending.iterdir()), 40, "the worker to start sending")
        doomed.signal(signal.SIGKILL)
        doomed.popen.wait(10)
    finally:
        doomed.stop()
    assert not outbox.exists() or not list(outbox.glob("*.eml")), "nothing went out before the kill"
    status = pg.query(f"SELECT status, attempts FROM notifications_outboundemail WHERE id = {pk}")
    assert status == [("pending", 0)]  # the killed transaction rolled back

    started = time.monotonic()
    rescue = start_worker(rescuer, var_dir, "rescuer")
    try:
        wait_for(lambda: len(list(outbox.glob("*.eml"))) >= 1, 40, "the redelivered email")
        time.sleep(1.5)  # room for a duplicate to show up, if there were one
    finally:
        rescue.stop()
    emails = list(outbox.glob("*.eml"))
    assert len(emails) == 1, [p.read_text()[:200] for p in emails]
    assert "kill:1" in emails[0].read_text()
    assert pg.query(f"SELECT status, attempts FROM notifications_outboundemail WHERE id = {pk}") == [("sent", 1)]
    assert time.monotonic() - started < 40


def test_a_worker_stopped_mid_send_finishes_the_job_first(stack):
    """A deploy stops workers with SIGTERM to the main process (Process.stop, as docker does):
    the job in flight completes, sent once and marked sent. (A SIGTERM to the whole process
    group reaches each worker process twice, itself and through its parent, and the second
    exits in the middle of the job: the email written, its row left pending for a resend.)"""
    pg, redis_, env, var_dir = stack
    slow = {**env, "EMAIL_BACKEND": "tests.faults.slow_backend.SlowOutboxBackend", "SLOW_EMAIL_SECONDS": "3"}
    sending, outbox = var_dir / "sending", var_dir / "outbox"

    pk = int(django_script(env, ENQUEUE.format(key="stop")).strip())
    worker = start_worker(slow, var_dir, "stopped")
    try:
        wait_for(lambda: sending.exists() and any(sending.iterdir()), 40, "the worker to start sending")
    finally:
        worker.stop(timeout=30)
    assert pg.query(f"SELECT status FROM notifications_outboundemail WHERE id = {pk}") == [("sent",)]
    assert len(list(outbox.glob("*.eml"))) == 1
