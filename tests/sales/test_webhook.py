"""The Stripe webhook shim: signatures, replays, each event type, events we cannot apply."""

from __future__ import annotations

import time

import pytest

from domains.orders.models import Order, Refund, WebhookEvent
from domains.tickets.models import Ticket

from .conftest import WEBHOOK_SECRET, event_body, pi_object, post_webhook
from .helpers import checkout


@pytest.fixture
def pending(make_user, make_type, fake_gateway, webhook_secret):
    tt = make_type(capacity=10, price_amount=2500)
    user = make_user()
    order = checkout(user, tt, 2)
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    return order, info, tt


@pytest.mark.django_db
@pytest.mark.parametrize(
    "variant",
    ["missing", "wrong_secret", "body_changed", "old_timestamp", "future_timestamp", "garbage_header"],
)
def test_bad_signatures_are_refused_and_nothing_is_stored(variant, pending):
    order, info, _ = pending
    body = event_body("payment_intent.succeeded", pi_object(info))
    now = int(time.time())
    if variant == "missing":
        response = post_webhook(body, header="")
    elif variant == "wrong_secret":
        response = post_webhook(body, secret="whsec_wrong")
    elif variant == "body_changed":
        from domains.payments.webhooks import sign_webhook_payload

        header = sign_webhook_payload(body, WEBHOOK_SECRET, now)
        response = post_webhook(body.replace(b'"amount": 5000', b'"amount": 1'), header=header)
    elif variant == "old_timestamp":
        response = post_webhook(body, timestamp=now - 400)
    elif variant == "future_timestamp":
        response = post_webhook(body, timestamp=now + 400)
    else:
        response = post_webhook(body, header="nonsense")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    order.refresh_from_db()
    assert order.status == "pending" and not Ticket.objects.exists()


@pytest.mark.django_db
def test_same_event_five_times_fulfils_once(pending, outbox):
    from domains.notifications.models import OutboundEmail

    order, info, tt = pending
    body = event_body("payment_intent.succeeded", pi_object(info), event_id="evt_same")
    answers = [post_webhook(body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    # A different event id for the same success (Stripe may send both) changes nothing either.
    assert post_webhook(event_body("payment_intent.succeeded", pi_object(info))).status_code == 200
    order.refresh_from_db()
    assert order.status == "paid"
    assert Ticket.objects.filter(order_line__order=order).count() == 2
    assert OutboundEmail.objects.filter(key=f"order-confirmation:{order.public_id}").count() == 1
    assert WebhookEvent.objects.count() == 2
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (2, 0)


@pytest.mark.django_db
def test_payment_failed_fails_order_and_releases_hold_and_late_failure_changes_nothing(make_user, make_type, fake_gateway, webhook_secret):
    tt = make_type(capacity=10)
    order = checkout(make_user(), tt, 3)
    info = fake_gateway.intents[order.payment_intent_id]
    failed = pi_object(info, status="requires_payment_method", last_payment_error={"code": "card_declined", "message": "Declined"})
    assert post_webhook(event_body("payment_intent.payment_failed", failed)).status_code == 200
    order.refresh_from_db()
    tt.refresh_from_db()
    assert order.status == "failed" and tt.held_count == 0
    assert order.payments.get().failure_code == "card_declined"

    # Paid order: a late failure event changes nothing.
    order2 = checkout(make_user(), tt, 1)
    info2 = fake_gateway.set_status(order2.payment_intent_id, "succeeded")
    post_webhook(event_body("payment_intent.succeeded", pi_object(info2)))
    post_webhook(event_body("payment_intent.payment_failed", pi_object(info2, status="requires_payment_method")))
    order2.refresh_from_db()
    assert order2.status == "paid"
    assert Ticket.objects.filter(order_line__order=order2, status="valid").count() == 1


@pytest.mark.django_db
def test_unknown_order_and_amount_mismatch_are_flagged_for_staff(pending, fake_gateway):
    order, info, _ = pending
    unknown = dict(pi_object(info), id="pi_unknown", metadata={})
    assert post_webhook(event_body("payment_intent.succeeded", unknown)).status_code == 200
    assert WebhookEvent.objects.get(payload__data__object__id="pi_unknown").outcome == "needs_attention"

    wrong = pi_object(info, amount=1)
    assert post_webhook(event_body("payment_intent.succeeded", wrong)).status_code == 200
    order.refresh_from_db()
    assert order.status == "needs_attention"
    assert not Ticket.objects.exists()
    assert WebhookEvent.objects.filter(outcome="needs_attention").count() == 2


@pytest.mark.django_db
def test_unhandled_event_types_are_acknowledged(webhook_secret):
    response = post_webhook(event_body("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == "ignored"


def charge_refunded(info, refunds, amount_refunded, pi_id=None):
    return {
        "id": "ch_fake",
        "object": "charge",
        "payment_intent": pi_id or info.id,
        "amount": info.amount,
        "amount_refunded": amount_refunded,
        "currency": info.currency,
        "metadata": {},
        "refunds": {"object": "list", "data": refunds},
    }


@pytest.mark.django_db
def test_charge_refunded_records_refund_and_voids_tickets(pending):
    order, info, tt = pending
    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    tickets = list(Ticket.objects.filter(order_line__order=order).order_by("id"))
    partial = [{"id": "re_1", "amount": 2500, "currency": "eur", "metadata": {"ticket_ids": str(tickets[0].public_id)}}]
    body = event_body("charge.refunded", charge_refunded(info, partial, 2500))
    assert post_webhook(body).status_code == 200
    assert post_webhook(event_body("charge.refunded", charge_refunded(info, partial, 2500))).status_code == 200  # other event id, same refund
    order.refresh_from_db()
    assert order.status == "partially_refunded" and order.refunded_amount == 2500
    assert Refund.objects.count() == 1
    first, second = (Ticket.objects.get(pk=t.pk) for t in tickets)
    assert first.status == "refunded" and first.secret_version == 2 and second.status == "valid"
    tt.refresh_from_db()
    assert tt.sold_count == 1  # the refunded ticket went back on sale

    full = partial + [{"id": "re_2", "amount": 2500, "currency": "eur", "metadata": {}}]
    post_webhook(event_body("charge.refunded", charge_refunded(info, full, 5000)))
    order.refresh_from_db()
    assert order.status == "refunded"
    assert not Ticket.objects.filter(order_line__order=order, status="valid").exists()


@pytest.mark.django_db
def test_refund_before_success_asks_stripe_and_ends_as_stripe_says(pending):
    order, info, _ = pending
    refunds = [{"id": "re_early", "amount": 5000, "currency": "eur", "metadata": {}}]
    assert post_webhook(event_body("charge.refunded", charge_refunded(info, refunds, 5000))).status_code == 200
    order.refresh_from_db()
    assert order.status == "refunded"
    assert Ticket.objects.filter(order_line__order=order).count() == 2
    assert not Ticket.objects.filter(order_line__order=order, status="valid").exists()
    # The success arriving afterwards does not resurrect anything.
    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    order.refresh_from_db()
    assert order.status == "refunded"
    assert Ticket.objects.filter(order_line__order=order).count() == 2



@pytest.mark.django_db
def test_a_refund_of_an_order_stripe_does_not_report_paid_releases_its_held_units(make_user, make_type, fake_gateway, webhook_secret):
    """Asked, Stripe does not say the payment succeeded (so nothing is fulfilled), yet the refund
    is recorded: the order leaves pending, and its held units go back to sale with it (the
    expiry job only looks at pending orders, so they stayed held for good)."""
    from domains.orders.models import InventoryHold

    tt = make_type(capacity=10, price_amount=2500)
    order = checkout(make_user(), tt, 2)
    info = fake_gateway.set_status(order.payment_intent_id, "processing")
    refunds = [{"id": "re_odd", "amount": 5000, "currency": "eur", "metadata": {}}]
    assert post_webhook(event_body("charge.refunded", charge_refunded(info, refunds, 5000))).status_code == 200
    order.refresh_from_db()
    tt.refresh_from_db()
    assert order.status == "refunded" and not Ticket.objects.filter(order_line__order=order).exists()
    assert (tt.held_count, tt.sold_count) == (0, 0)
    assert not InventoryHold.objects.filter(order=order, status=InventoryHold.Status.ACTIVE).exists()


@pytest.mark.django_db
def test_refund_of_a_duplicate_payment_keeps_the_order_paid(pending):
    order, info, _ = pending
    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    dup = dict(pi_object(info), id="pi_duplicate")
    post_webhook(event_body("payment_intent.succeeded", dup))
    refunds = [{"id": "re_dup", "amount": 5000, "currency": "eur", "metadata": {}}]
    post_webhook(event_body("charge.refunded", charge_refunded(info, refunds, 5000, pi_id="pi_duplicate")))
    order.refresh_from_db()
    assert order.status == "paid"
    assert Ticket.objects.filter(order_line__order=order, status="valid").count() == 2
    assert Refund.objects.get().provider_refund_id == "re_dup"


@pytest.mark.django_db
def test_payment_after_expiry_resells_if_capacity_remains_else_flags(make_user, make_type, fake_gateway, webhook_secret):
    from datetime import timedelta

    from domains.common.clock import now
    from domains.orders.services import holds_release_expired

    tt = make_type(capacity=2)
    order = checkout(make_user(), tt, 2)
    Order.objects.filter(pk=order.pk).update(expires_at=now() - timedelta(seconds=1))
    order.holds.update(expires_at=now() - timedelta(seconds=1))
    assert holds_release_expired() == 1
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    other = checkout(make_user(), tt, 1)  # someone took one of the two
    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    order.refresh_from_db()
    assert order.status == "needs_attention" and not Ticket.objects.filter(order_line__order=order).exists()
    tt.refresh_from_db()
    assert tt.sold_count + tt.held_count <= tt.capacity
    assert other.status == "pending"
