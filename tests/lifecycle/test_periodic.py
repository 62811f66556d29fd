"""The scheduler (workers/periodic.py, manage.py run_periodic, manage.py serve's thread): one
tick returns an expired checkout hold and an expired upgrade hold to sale and re-enqueues a
pending email, whether the jobs run inline or through the workers; live holds stay."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from domains.common.clock import now
from domains.notifications.models import OutboundEmail
from domains.orders import services as orders
from domains.orders.models import Order
from domains.tickets.models import Ticket
from domains.upgrades import services as upgrades
from domains.upgrades.models import Upgrade
from workers import periodic


def _past():
    return now() - timedelta(seconds=1)


@pytest.fixture
def expired(make_user, make_type, paid_order, gateway):
    """An expired checkout hold (2 units), an expired upgrade hold (1 unit) and a live checkout
    hold (1 unit) that must stay."""
    day = make_type(name="Day", tier_rank=10, capacity=10)
    vip = make_type(name="VIP", tier_rank=30, capacity=10, price_amount=9000)
    stale = orders.checkout_create(buyer=make_user(), lines=[orders.CheckoutLine(day.public_id, 2)]).order
    Order.objects.filter(pk=stale.pk).update(expires_at=_past())
    stale.holds.update(expires_at=_past())
    live = orders.checkout_create(buyer=make_user(), lines=[orders.CheckoutLine(day.public_id, 1)]).order
    holder = make_user()
    ticket = Ticket.objects.get(order_line__order=paid_order(holder, day, 1))
    up = upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=vip.public_id).upgrade
    Upgrade.objects.filter(pk=up.pk).update(expires_at=_past())
    day.refresh_from_db()
    vip.refresh_from_db()
    assert (day.held_count, vip.held_count) == (3, 1)
    return day, vip, stale, live, up


def _assert_released(day, vip, stale, live, up):
    for row in (day, vip, stale, live, up):
        row.refresh_from_db()
    assert stale.status == "expired" and live.status == "pending"
    assert up.status == "expired" and up.holds_capacity is False
    assert (day.held_count, vip.held_count) == (1, 0)  # only the live checkout is still held


@pytest.mark.django_db
def test_one_inline_tick_releases_expired_checkout_and_upgrade_holds(expired):
    results = periodic.tick(inline=True)
    assert results == {"release_expired_holds": 1, "release_expired_upgrade_holds": 1, "resend_pending_emails": 0}
    _assert_released(*expired)
    assert periodic.tick(inline=True)["release_expired_holds"] == 0  # nothing left: idempotent


@pytest.mark.django_db
def test_a_pending_email_older_than_the_cutoff_is_enqueued_again(make_user, settings, monkeypatch):
    from domains.notifications.services import email_enqueue
    from workers import emails

    settings.PERIODIC_EMAIL_RESEND_AFTER_SECONDS = 60
    email_enqueue(key="lost-1", to_email="a@example.test", template="comp_tickets", context={})
    email_enqueue(key="recent-1", to_email="b@example.test", template="comp_tickets", context={})
    OutboundEmail.objects.filter(key="lost-1").update(created_at=now() - timedelta(seconds=120))
    sent = []
    monkeypatch.setattr(emails.send_email, "send", lambda pk: sent.append(pk))
    assert periodic.tick(inline=True)["resend_pending_emails"] == 1
    assert sent == [OutboundEmail.objects.get(key="lost-1").pk]


@pytest.mark.django_db(transaction=True)
def test_an_enqueued_tick_is_done_by_the_workers(expired):
    import dramatiq
    from dramatiq import Worker

    results = periodic.tick(inline=False)
    assert set(results.values()) == {"enqueued"}
    for row in expired[2:]:
        row.refresh_from_db()
    assert expired[2].status == "pending" and expired[4].status == "pending"  # nothing ran yet
    broker = dramatiq.get_broker()
    worker = Worker(broker, worker_timeout=50, worker_threads=1)  # one thread: SQLite has one writer
    worker.start()
    try:
        for queue in ("maintenance", "email"):
            broker.join(queue, timeout=20_000)
        worker.join()
    finally:
        worker.stop()
    _assert_released(*expired)


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others(expired, monkeypatch):
    def broken():
        raise RuntimeError("database hiccup")

    jobs = list(periodic.JOBS)
    jobs[0] = periodic.PeriodicJob(jobs[0].name, jobs[0].actor, broken)
    monkeypatch.setattr(periodic, "JOBS", tuple(jobs))
    results = periodic.tick(inline=True)
    assert results["release_expired_holds"] == "failed" and results["release_expired_upgrade_holds"] == 1


@pytest.mark.django_db
def test_run_periodic_once_inline_from_the_command_line(expired):
    out = StringIO()
    call_command("run_periodic", "--once", "--inline", stdout=out)
    assert out.getvalue().split() == ["release_expired_holds=1", "release_expired_upgrade_holds=1", "resend_pending_emails=0"]
    _assert_released(*expired)


def test_the_loop_ticks_every_interval_until_stopped(monkeypatch):
    ticks = []
    stop = threading.Event()

    def fake_tick(*, inline):
        ticks.append(inline)
        if len(ticks) == 3:
            stop.set()
        return {}

    monkeypatch.setattr(periodic, "tick", fake_tick)
    monkeypatch.setattr(periodic, "connection", type("C", (), {"close": staticmethod(lambda: None)}))
    thread = threading.Thread(target=periodic.run_forever, kwargs={"every": 0.01, "inline": True, "stop": stop})
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and ticks == [True, True, True]


def test_serve_runs_the_periodic_jobs_in_a_daemon_thread(settings, monkeypatch):
    import uvicorn

    settings.DRAMATIQ_IN_PROCESS_WORKER = False
    settings.PERIODIC_IN_PROCESS = True
    settings.PERIODIC_EVERY_SECONDS = 3600
    ticks = []
    monkeypatch.setattr(periodic, "tick", lambda *, inline: ticks.append(inline) or {})
    seen = {}

    def fake_run(app, **kwargs):  # while the server would run
        thread = next(t for t in threading.enumerate() if t.name == "periodic-jobs")
        seen["daemon"] = thread.daemon
        seen["thread"] = thread

    monkeypatch.setattr(uvicorn, "run", fake_run)
    call_command("serve", "--no-localstripe", stdout=StringIO())
    assert seen["daemon"] is True and ticks[:1] == [True]
    seen["thread"].join(5)
    assert not seen["thread"].is_alive()  # stopped when the server stops
