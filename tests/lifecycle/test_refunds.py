"""Staff refunds through GraphQL: part of an order, whole order, amounts, scanned tickets,
the charge.refunded webhook replayed afterwards, and each error."""

from __future__ import annotations

import pytest

from domains.audit.models import AuditEntry
from domains.orders.models import Order, Refund, WebhookEvent
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_decode, qr_encode

from .conftest import admit, event_body, post_webhook

pytestmark = pytest.mark.django_db

REFUND = """mutation($o: UUID!, $r: String!, $t: [UUID!], $a: Int, $ov: Boolean! = false) {
  refundOrder(orderId: $o, reason: $r, ticketIds: $t, amount: $a, overrideScanned: $ov) {
    refunded { amount currency } voidedTicketIds
    order { order { status refunded { amount } total { amount } } tickets { id status secretVersion } history { action actorEmail reason } }
    errors { code field } } }"""


def _charge_refunded(order, gateway, refunds):
    obj = {
        "id": "ch_fake",
        "object": "charge",
        "payment_intent": order.payment_intent_id,
        "amount_refunded": sum(r.amount for r in refunds),
        "currency": "eur",
        "refunds": {"data": [{"id": r.id, "amount": r.amount, "currency": "eur", "metadata": r.metadata} for r in refunds]},
    }
    return event_body("charge.refunded", obj)


@pytest.fixture
def four(as_user, make_type, paid_order):
    buyer = as_user()
    tt = make_type(capacity=10, price_amount=2500)
    order = paid_order(buyer.user, tt, 4)
    tickets = list(Ticket.objects.filter(order_line__order=order).order_by("pk"))
    return buyer, tt, order, tickets


def test_refund_two_of_four_then_webhook_replay_changes_nothing(four, as_user, gateway, webhook_secret, verdict_of):
    buyer, tt, order, tickets = four
    staff = as_user("staff")
    codes = {t.pk: qr_encode(t) for t in tickets}
    tt.refresh_from_db()
    assert tt.sold_count == 4
    chosen = [str(t.public_id) for t in tickets[:2]]
    out = staff.execute(REFUND, {"o": str(order.public_id), "r": "customer cannot come", "t": chosen}).payload("refundOrder")
    assert out["errors"] == []
    assert out["refunded"] == {"amount": 5000, "currency": "EUR"}
    assert sorted(out["voidedTicketIds"]) == sorted(chosen)
    assert out["order"]["order"]["status"] == "PARTIALLY_REFUNDED"
    assert out["order"]["order"]["refunded"]["amount"] == 5000
    statuses = {t["id"]: t["status"] for t in out["order"]["tickets"]}
    assert sorted(statuses.values()) == ["REFUNDED", "REFUNDED", "VALID", "VALID"]
    tt.refresh_from_db()
    assert tt.sold_count == 2  # capacity back by two
    for t in tickets:
        t.refresh_from_db()
    for t in tickets[:2]:
        assert t.status == "refunded" and qr_decode(codes[t.pk]).version != t.secret_version
        assert verdict_of(codes[t.pk]) == "VOIDED"
    for t in tickets[2:]:
        assert t.status == "valid" and verdict_of(codes[t.pk]) == "ADMITTED"
    assert gateway.refund_calls == 1
    refund = Refund.objects.get(order=order)
    assert refund.provider_refund_id and refund.created_by == staff.user and refund.amount == 5000
    history = out["order"]["history"]
    assert {"action": "order.refunded", "actorEmail": staff.user.email, "reason": "customer cannot come"} in history
    assert sum(1 for h in history if h["action"] == "ticket.refunded") == 2

    # Stripe's charge.refunded (localstripe sends none: built and signed here), twice.
    body = _charge_refunded(order, gateway, list(gateway.refunds.values()))
    assert post_webhook(body).status_code == 200
    assert post_webhook(body).status_code == 200
    body2 = _charge_refunded(order, gateway, list(gateway.refunds.values()))  # another event id, same refund
    assert post_webhook(body2).status_code == 200
    assert [e.outcome for e in WebhookEvent.objects.filter(type="charge.refunded")] == ["ignored", "ignored"]
    order.refresh_from_db()
    tt.refresh_from_db()
    assert (order.status, order.refunded_amount, tt.sold_count) == ("partially_refunded", 5000, 2)
    assert Refund.objects.filter(order=order).count() == 1
    assert Ticket.objects.filter(order_line__order=order, status="valid").count() == 2
    assert gateway.refund_calls == 1

    # The rest: the order becomes refunded.
    rest = staff.execute(REFUND, {"o": str(order.public_id), "r": "all of it"}).payload("refundOrder")
    assert rest["errors"] == [] and rest["refunded"]["amount"] == 5000
    assert rest["order"]["order"]["status"] == "REFUNDED"
    tt.refresh_from_db()
    assert tt.sold_count == 0
    again = staff.execute(REFUND, {"o": str(order.public_id), "r": "again"}).payload("refundOrder")
    assert [e["code"] for e in again["errors"]] == ["ORDER_NOT_REFUNDABLE"]


def test_goodwill_amount_keeps_tickets(four, as_user, gateway):
    buyer, tt, order, tickets = four
    staff = as_user("staff")
    out = staff.execute(REFUND, {"o": str(order.public_id), "r": "late stage", "a": 1000}).payload("refundOrder")
    assert out["errors"] == [] and out["voidedTicketIds"] == []
    assert out["order"]["order"]["status"] == "PARTIALLY_REFUNDED"
    assert Ticket.objects.filter(order_line__order=order, status="valid").count() == 4


def test_scanned_ticket_needs_the_override(four, as_user, gateway, gate):
    buyer, tt, order, tickets = four
    staff = as_user("staff")
    assert admit(tickets[0], gate).verdict == "ADMITTED"
    variables = {"o": str(order.public_id), "r": "left early", "t": [str(tickets[0].public_id)]}
    refused = staff.execute(REFUND, variables).payload("refundOrder")
    assert [e["code"] for e in refused["errors"]] == ["REFUND_TICKET_SCANNED"]
    assert gateway.refund_calls == 0
    ok = staff.execute(REFUND, {**variables, "ov": True}).payload("refundOrder")
    assert ok["errors"] == [] and ok["voidedTicketIds"] == [str(tickets[0].public_id)]
    assert AuditEntry.objects.get(action="order.refunded").data["override_scanned"] is True


def test_refund_errors(four, as_user, gateway, make_user, paid_order):
    buyer, tt, order, tickets = four
    staff = as_user("staff")
    oid = str(order.public_id)

    def codes(**v):
        return [e["code"] for e in staff.execute(REFUND, {"o": oid, "r": "why", **v}).payload("refundOrder")["errors"]]

    assert codes(r=" ") == ["REASON_REQUIRED"]
    assert codes(o="00000000-0000-0000-0000-000000000000") == ["ORDER_NOT_FOUND"]
    other = paid_order(make_user(), tt, 1)
    foreign = Ticket.objects.get(order_line__order=other)
    assert codes(t=[str(foreign.public_id)]) == ["TICKET_NOT_FOUND"]
    assert codes(a=0) == ["REFUND_AMOUNT_INVALID"]
    assert codes(a=10001) == ["REFUND_AMOUNT_INVALID"]
    assert codes(t=[str(tickets[0].public_id)]) == []
    assert codes(t=[str(tickets[0].public_id)]) == ["TICKET_NOT_VALID"]
    Order.objects.filter(pk=order.pk).update(status="pending")
    assert codes() == ["ORDER_NOT_REFUNDABLE"]


def test_declined_refund_changes_nothing(four, as_user, gateway, monkeypatch):
    from domains.payments.gateway import PaymentGatewayError, PaymentGatewayUnavailable

    buyer, tt, order, tickets = four
    staff = as_user("staff")

    def boom(**kw):
        raise PaymentGatewayError("charge_already_refunded", "already refunded")

    monkeypatch.setattr(gateway, "create_refund", boom)
    out = staff.execute(REFUND, {"o": str(order.public_id), "r": "x"}).payload("refundOrder")
    assert [e["code"] for e in out["errors"]] == ["REFUND_DECLINED"]

    def down(**kw):
        raise PaymentGatewayUnavailable("gateway_unavailable", "timeout")

    monkeypatch.setattr(gateway, "create_refund", down)
    out = staff.execute(REFUND, {"o": str(order.public_id), "r": "x"}).payload("refundOrder")
    assert [e["code"] for e in out["errors"]] == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    assert Ticket.objects.filter(order_line__order=order, status="valid").count() == 4
    assert not Refund.objects.exists() and not AuditEntry.objects.filter(action="order.refunded").exists()
