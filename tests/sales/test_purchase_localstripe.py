"""The purchase flow end to end: GraphQL -> localstripe (real HTTP) -> signed webhook to a live
server -> tickets -> confirmation email with PDFs, sent by the real worker."""

from __future__ import annotations

import pytest

from domains.orders.gateway import get_gateway
from domains.orders.models import Order, WebhookEvent
from domains.payments.gateway import PaymentDeclined
from domains.tickets.models import Ticket

from .conftest import CONFIRM, CREATE, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def pay(pi_id: str, card_pm: str = "pm_card_visa"):
    """What the browser does with the client secret (Stripe.js): attach a card and confirm."""
    gateway = get_gateway()
    gateway.client.v1.payment_intents.update(pi_id, {"payment_method": card_pm})
    return gateway.confirm_payment_intent(pi_id)


def test_purchase_end_to_end_with_webhook_email_and_pdfs(localstripe, as_user, make_type, run_jobs, outbox):
    tt = make_type(capacity=10, price_amount=7900)
    client = as_user()
    created = client.execute(CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 2}]}).payload("createCheckout")
    assert created["errors"] == []
    pi_id = created["paymentIntentId"]
    assert created["clientSecret"].startswith(pi_id)
    order = Order.objects.get(public_id=created["order"]["id"])
    assert order.payment_intent_id == pi_id

    assert pay(pi_id).status == "succeeded"
    # localstripe delivers payment_intent.succeeded, signed, about a second later.
    wait_until(lambda: Order.objects.get(pk=order.pk).status == "paid", timeout=20)
    event = WebhookEvent.objects.get(type="payment_intent.succeeded", order=order)
    assert event.outcome == "processed"
    assert Ticket.objects.filter(order_line__order=order, holder=client.user, status="valid").count() == 2

    # The client coming back afterwards finds the work done.
    confirmed = client.execute(CONFIRM, {"id": str(order.public_id)}).payload("confirmCheckout")
    assert confirmed["errors"] == [] and confirmed["order"]["status"] == "PAID"
    assert Ticket.objects.filter(order_line__order=order).count() == 2

    run_jobs()
    messages = outbox.messages()
    assert len(messages) == 1
    message = messages[0]
    assert order.number in message["Subject"]
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {f"tickets-{order.number}.pdf", "invoice-TESTFEST-000001.pdf"}
    assert all(content.startswith(b"%PDF") for content in attachments.values())


def test_confirm_before_webhook_fulfils_once(localstripe, as_user, make_type):
    tt = make_type(capacity=10)
    client = as_user()
    created = client.execute(CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]}).payload("createCheckout")
    pay(created["paymentIntentId"])
    confirmed = client.execute(CONFIRM, {"id": created["order"]["id"]}).payload("confirmCheckout")
    assert confirmed["errors"] == [] and confirmed["paymentStatus"] == "succeeded"
    order = Order.objects.get(public_id=created["order"]["id"])
    wait_until(lambda: WebhookEvent.objects.filter(order=order, type="payment_intent.succeeded").exists(), timeout=20)
    assert WebhookEvent.objects.get(order=order).outcome == "ignored"
    assert Ticket.objects.filter(order_line__order=order).count() == 1
    assert [h.to_status for h in order.status_history.all()] == ["pending", "paid"]


def test_declined_card_fails_the_order_and_returns_the_tickets(localstripe, as_user, make_type):
    tt = make_type(capacity=3)
    client = as_user()
    created = client.execute(CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 3}]}).payload("createCheckout")
    gateway = get_gateway()
    pm = gateway.client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4000000000000341", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    with pytest.raises(PaymentDeclined):
        pay(created["paymentIntentId"], pm.id)
    order = Order.objects.get(public_id=created["order"]["id"])
    wait_until(lambda: Order.objects.get(pk=order.pk).status == "failed", timeout=20)
    tt.refresh_from_db()
    assert tt.held_count == 0 and tt.sold_count == 0
    assert not Ticket.objects.exists()
    again = client.execute(CONFIRM, {"id": created["order"]["id"]}).payload("confirmCheckout")
    assert [e["code"] for e in again["errors"]] == ["ORDER_NOT_PAYABLE"]
