"""Deliveries of one Stripe dispute at the same instant, through the webhook endpoint, on
PostgreSQL with real threads (one connection each, released together by a barrier): the
dispute is applied once (one record, one booking, one void per ticket, one email per
transition), whichever delivery wins. The control shows the race is real: without the order
row lock that `dispute_record` takes first, two first deliveries both insert the dispute and
one of them fails with a 500."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from domains.audit.models import AuditEntry
from domains.notifications.models import OutboundEmail
from domains.orders.models import Dispute, Order, Refund
from domains.payments.webhooks import sign_webhook_payload
from domains.tickets.models import Ticket

from .conftest import event_body
from .racing import run_together
from .test_disputes import dispute_object

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 3
WEBHOOK_SECRET = "whsec_sales_tests"


def _deliver(body: bytes):
    def call():
        signature = sign_webhook_payload(body, WEBHOOK_SECRET, int(time.time()))
        response = Client(raise_request_exception=False).post(
            "/api/payments/webhook/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        return response.status_code

    return call


SCENARIOS = {
    # the same close under four event ids (Stripe's retries of different events, or two endpoints)
    "close-under-four-event-ids": lambda pi: [event_body("charge.dispute.closed", dispute_object(pi, status="lost")) for _ in range(4)],
    # one event delivered four times at once
    "one-event-four-times": lambda pi: [event_body("charge.dispute.closed", dispute_object(pi, status="lost"), event_id=f"evt_same_{pi}")] * 4,
    # created and closed racing: whichever lands first, the dispute ends lost, booked once
    "created-racing-closed": lambda pi: [
        event_body("charge.dispute.created", dispute_object(pi)),
        event_body("charge.dispute.funds_withdrawn", dispute_object(pi)),
        event_body("charge.dispute.closed", dispute_object(pi, status="lost")),
        event_body("charge.dispute.closed", dispute_object(pi, status="lost")),
    ],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_deliveries_of_one_dispute_at_the_same_time_apply_it_once(scenario, make_user, make_type, paid_order, webhook_secret):
    tt = make_type(price_amount=2500, capacity=100)
    for round_ in range(ROUNDS):
        order = paid_order(make_user(), tt, 2)
        bodies = [b.replace(b'"dp_1"', f'"dp_{round_}"'.encode()) for b in SCENARIOS[scenario](order.payment_intent_id)]

        results = run_together([_deliver(b) for b in bodies])

        assert results == [("ok", 200)] * len(bodies), results
        dispute = Dispute.objects.get(stripe_dispute_id=f"dp_{round_}")
        assert dispute.status == "lost" and dispute.order_id == order.pk
        order = Order.objects.get(pk=order.pk)
        assert (order.status, order.refunded_amount) == ("refunded", 5000)
        assert Refund.objects.filter(order=order).count() == 1
        tickets = Ticket.objects.filter(order_line__order=order)
        assert sorted(tickets.values_list("status", "secret_version")) == [("refunded", 2), ("refunded", 2)]
        audits = list(AuditEntry.objects.filter(order=order).values_list("action", flat=True))
        assert audits.count("dispute.closed") == 1 and audits.count("ticket.refunded") == 2
        assert audits.count("dispute.opened") <= 1
        assert OutboundEmail.objects.filter(key=f"dispute-closed:{dispute.public_id}").count() == 1
    tt.refresh_from_db()
    assert tt.sold_count == 0  # every unit given back exactly once


def test_control_without_the_order_lock_two_first_deliveries_collide(make_user, make_type, paid_order, webhook_secret, monkeypatch):
    tt = make_type(price_amount=2500, capacity=10)
    order = paid_order(make_user(), tt, 1)

    def unlocked(pk, related=True):
        found = Order.objects.select_related("festival", "buyer").get(pk=pk)
        time.sleep(0.3)  # both deliveries look for the dispute before either has inserted it
        return found

    monkeypatch.setattr("domains.orders.services._lock_order", unlocked)
    bodies = [event_body("charge.dispute.created", dispute_object(order.payment_intent_id)) for _ in range(2)]

    results = run_together([_deliver(b) for b in bodies])

    assert sorted(results) == [("ok", 200), ("ok", 500)]
    assert Dispute.objects.count() == 1  # the unique id kept the data right; the lock keeps the answers clean
