"""Concurrency on PostgreSQL: no overselling, exactly-once fulfilment. Threads each use their own
database connection and start together at a threading.Barrier."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from domains.common.errors import DomainError
from domains.orders import services
from domains.orders.models import InventoryHold, Order, OrderLine, OrderStatusChange
from domains.orders.webhooks import stripe_webhook_receive
from domains.payments.webhooks import sign_webhook_payload
from domains.tickets.models import Ticket, TicketType

from .conftest import WEBHOOK_SECRET, event_body, pi_object

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_parallel(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def outcome(result) -> str:
    if isinstance(result, DomainError):
        return str(result.code)
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"
    return "ok"


def test_200_buyers_for_50_tickets(make_user, make_type, fake_gateway):
    tt = make_type(capacity=60, per_order_limit=4)
    TicketType.objects.filter(pk=tt.pk).update(sold_count=10)  # 50 left
    buyers = [make_user() for _ in range(200)]

    results = run_parallel(
        200, lambda i: services.checkout_create(buyer=buyers[i], lines=[services.CheckoutLine(tt.public_id, 1)])
    )
    counts = Counter(outcome(r) for r in results)
    assert counts == {"ok": 50, "SOLD_OUT": 150}, counts

    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (10, 50)
    # No half-made orders: every order has its line and its hold, and only the winners have one.
    assert Order.objects.count() == 50
    assert OrderLine.objects.count() == 50 and InventoryHold.objects.filter(status="active").count() == 50
    assert Order.objects.filter(payment_intent_id__isnull=True).count() == 0

    for order in Order.objects.all():
        services.order_fulfil(order_id=order.pk, payment=fake_gateway.set_status(order.payment_intent_id, "succeeded"), source="test")
    assert Ticket.objects.count() == 50
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (60, 0)


def test_control_without_the_conditional_update_oversells(make_type):
    """The same rush with read-then-write (what the conditional UPDATE replaces) sells more
    than there is: this is the race the real code closes."""
    tt = make_type(capacity=60)
    TicketType.objects.filter(pk=tt.pk).update(sold_count=10)

    def unsafe_reserve(i):
        from django.db import transaction

        with transaction.atomic():
            row = TicketType.objects.get(pk=tt.pk)
            if row.capacity - row.sold_count - row.held_count < 1:
                raise DomainError("SOLD_OUT", "sold out")
            time.sleep(0.005)  # any work between the read and the write
            TicketType.objects.filter(pk=tt.pk).update(held_count=row.held_count + 1)
        return True

    results = run_parallel(200, unsafe_reserve)
    granted = sum(1 for r in results if r is True)
    assert granted > 50, granted  # oversold: more buyers were told yes than there were tickets


def _signed(body: bytes) -> str:
    return sign_webhook_payload(body, WEBHOOK_SECRET, int(time.time()))


def test_same_webhook_ten_times_at_once_fulfils_once(make_user, make_type, fake_gateway, webhook_secret):
    from domains.notifications.models import OutboundEmail

    tt = make_type(capacity=10)
    order = services.checkout_create(buyer=make_user(), lines=[services.CheckoutLine(tt.public_id, 2)]).order
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    body = event_body("payment_intent.succeeded", pi_object(info), event_id="evt_concurrent")

    results = run_parallel(10, lambda i: stripe_webhook_receive(payload=body, signature_header=_signed(body)))
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.duplicate for r in results) == [False] + [True] * 9
    assert Ticket.objects.filter(order_line__order=order).count() == 2
    assert OutboundEmail.objects.filter(key=f"order-confirmation:{order.public_id}").count() == 1
    assert OrderStatusChange.objects.filter(order=order, to_status="paid").count() == 1


def test_same_success_under_ten_different_event_ids_at_once_fulfils_once(make_user, make_type, fake_gateway, webhook_secret):
    tt = make_type(capacity=10)
    order = services.checkout_create(buyer=make_user(), lines=[services.CheckoutLine(tt.public_id, 3)]).order
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    bodies = [event_body("payment_intent.succeeded", pi_object(info)) for _ in range(10)]
    results = run_parallel(10, lambda i: stripe_webhook_receive(payload=bodies[i], signature_header=_signed(bodies[i])))
    assert all(not isinstance(r, Exception) for r in results), results
    assert Ticket.objects.filter(order_line__order=order).count() == 3
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (3, 0)


def test_confirm_racing_the_webhook_fulfils_once(make_user, make_type, fake_gateway, webhook_secret):
    tt = make_type(capacity=200)
    for _ in range(50):  # catalogue item 15: 50 repetitions
        buyer = make_user()
        order = services.checkout_create(buyer=buyer, lines=[services.CheckoutLine(tt.public_id, 2)]).order
        info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
        body = event_body("payment_intent.succeeded", pi_object(info))

        def act(i, body=body, buyer=buyer, order=order):
            if i == 0:
                return stripe_webhook_receive(payload=body, signature_header=_signed(body))
            return services.checkout_confirm(buyer=buyer, order_public_id=order.public_id)

        results = run_parallel(2, act)
        assert all(not isinstance(r, Exception) for r in results), results
        assert Ticket.objects.filter(order_line__order=order).count() == 2
        assert OrderStatusChange.objects.filter(order=order, to_status="paid").count() == 1
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (100, 0)


def _pending_order_without_intent(make_user, make_type, fake_gateway) -> Order:
    tt = make_type(capacity=10, per_order_limit=4)
    result = services.checkout_create(buyer=make_user(), lines=[services.CheckoutLine(tt.public_id, 1)])
    Order.objects.filter(pk=result.order.pk).update(payment_intent_id=None)
    result.order.payments.all().delete()
    fake_gateway.create_calls = 0
    return result.order


def _slow_creates(fake_gateway, monkeypatch):
    """Every create takes 0.2 s, so ten callers overlap inside it unless the row lock queues them."""
    create = fake_gateway.create_payment_intent

    def slow(**kwargs):
        time.sleep(0.2)
        return create(**kwargs)

    monkeypatch.setattr(fake_gateway, "create_payment_intent", slow)


def test_ten_ensure_payment_intents_at_once_create_one(make_user, make_type, fake_gateway, monkeypatch):
    order = _pending_order_without_intent(make_user, make_type, fake_gateway)
    _slow_creates(fake_gateway, monkeypatch)
    results = run_parallel(10, lambda i: services.ensure_payment_intent(order_id=order.pk))
    assert [outcome(r) for r in results] == ["ok"] * 10
    assert fake_gateway.create_calls == 1
    assert len({r.id for r in results}) == 1
    order.refresh_from_db()
    assert order.payment_intent_id == results[0].id and order.payments.count() == 1


def test_control_without_the_order_lock_every_caller_creates(make_user, make_type, fake_gateway, monkeypatch):
    """The same ten callers with the lock taken out of ensure_payment_intent: each one calls the
    provider (the idempotency key is all that stops ten PaymentIntents), so the lock is what the
    test above measures."""
    order = _pending_order_without_intent(make_user, make_type, fake_gateway)
    _slow_creates(fake_gateway, monkeypatch)
    monkeypatch.setattr(services, "_lock_order", lambda pk, related=True: Order.objects.get(pk=pk))
    run_parallel(10, lambda i: services.ensure_payment_intent(order_id=order.pk))
    assert fake_gateway.create_calls > 1
