"""Stripe disputes (chargebacks) through the real webhook endpoint with signed events: staff are
told and see the dispute while the tickets stay valid; lost, the tickets are voided and the
money booked as a refund; won, nothing changes; replays, late, out-of-order and re-identified
events end as the most advanced status says (domains/orders/disputes.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from domains.audit.models import AuditEntry
from domains.notifications.models import OutboundEmail
from domains.notifications.services import email_deliver
from domains.orders.models import Dispute, OrderStatusChange, Refund, WebhookEvent
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_encode
from domains.upgrades import services as upgrades

from .conftest import event_body, pi_object, post_webhook

pytestmark = pytest.mark.django_db

DUE = 1_900_000_000  # 2030-03-17
STAFF_ORDER = """query($id: UUID!) { staffOrder(id: $id) { order { status refunded { amount } }
  disputes { stripeDisputeId status isOpen amount { amount currency } reason evidenceDueBy openedAt closedAt upgradeId }
  history { action reason } } }"""
DISPUTED = """query($d: StaffDisputeFilter) { staffOrders(filter: {disputed: $d}) { edges { node { number } } } }"""


def dispute_object(pi_id, *, status="needs_response", dispute_id="dp_1", amount=5000, reason="fraudulent", charge="ch_fake", **extra):
    """A Stripe Dispute as Stripe sends it (fields we do not read included)."""
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": DUE - 21 * 86400,
        "currency": "eur",
        "evidence": {"customer_name": None, "uncategorized_text": None},
        "evidence_details": {"due_by": DUE, "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi_id,
        "reason": reason,
        "status": status,
        **extra,
    }


def send(event_type, obj, event_id=None):
    response = post_webhook(event_body(event_type, obj, event_id=event_id))
    assert response.status_code == 200, response.text
    return response.json()


def outcomes():
    return list(WebhookEvent.objects.filter(type__startswith="charge.dispute.").order_by("received_at", "id").values_list("outcome", "note"))


def tickets_of(order):
    return list(Ticket.objects.filter(order_line__order=order).order_by("pk"))


@pytest.fixture
def two_ticket_order(make_user, make_type, paid_order, webhook_secret):
    tt = make_type(name="Weekend", price_amount=2500, capacity=10)
    order = paid_order(make_user(), tt, 2)  # 5000 EUR minor units
    return order, tt


def test_dispute_created_flags_the_order_for_staff_emails_them_and_keeps_the_tickets_valid(
    two_ticket_order, as_user, festival, outbox, verdict_of, paid_order, make_user
):
    order, tt = two_ticket_order
    undisputed = paid_order(make_user(), tt, 1)
    festival.contact_email = "box-office@testfest.example"
    festival.save()
    codes = [qr_encode(t) for t in tickets_of(order)]

    assert send("charge.dispute.created", dispute_object(order.payment_intent_id))["outcome"] == "processed"

    d = Dispute.objects.get()
    assert (d.stripe_dispute_id, d.order_id, d.upgrade_id, d.payment_intent_id) == ("dp_1", order.pk, None, order.payment_intent_id)
    assert (d.status, d.amount, d.currency, d.reason, d.closed_at) == ("needs_response", 5000, "EUR", "fraudulent", None)
    assert int(d.evidence_due_by.timestamp()) == DUE and int(d.opened_at.timestamp()) == DUE - 21 * 86400
    assert outcomes() == [("processed", "dispute recorded needs_response")]
    # The tickets stay valid, same QR codes; the order stays paid; capacity untouched.
    order.refresh_from_db()
    tt.refresh_from_db()
    assert (order.status, order.refunded_amount, tt.sold_count) == ("paid", 0, 3)
    assert [(t.status, t.secret_version) for t in tickets_of(order)] == [("valid", 1), ("valid", 1)]
    assert [verdict_of(c) for c in codes] == ["ADMITTED", "ADMITTED"]
    # Audited, and the organisers are emailed once (the festival's contact address).
    [entry] = AuditEntry.objects.filter(action__startswith="dispute.")
    assert (entry.action, entry.order_id, entry.data["status"], entry.data["stripe_dispute_id"]) == ("dispute.opened", order.pk, [None, "needs_response"], "dp_1")
    email = OutboundEmail.objects.get(key=f"dispute-opened:{d.public_id}")
    assert email.to_email == "box-office@testfest.example" and email.template == "dispute_opened"
    assert email_deliver(outbound_email_id=email.pk)
    [message] = outbox.messages()
    assert message["To"] == "box-office@testfest.example" and order.number in message["Subject"] and "fraudulent" in message["Subject"]
    body = message.get_body().get_content()
    assert "dp_1" in body and "50.00 EUR" in body and "2030-03-17" in body and "tickets stay valid" in body

    staff = as_user("staff")
    view = staff.execute(STAFF_ORDER, {"id": str(order.public_id)}).data["staffOrder"]
    assert view["disputes"] == [
        {
            "stripeDisputeId": "dp_1", "status": "NEEDS_RESPONSE", "isOpen": True, "amount": {"amount": 5000, "currency": "EUR"},
            "reason": "fraudulent", "evidenceDueBy": _iso(DUE), "openedAt": _iso(DUE - 21 * 86400),
            "closedAt": None, "upgradeId": None,
        }
    ]
    assert "dispute.opened" in [h["action"] for h in view["history"]]

    def listed(which):
        return [e["node"]["number"] for e in staff.execute(DISPUTED, {"d": which}).data["staffOrders"]["edges"]]

    assert listed("OPEN") == [order.number] == listed("ANY")
    assert listed(None) == [undisputed.number, order.number]


def _iso(timestamp):
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def test_dispute_lost_voids_the_tickets_and_books_the_amount_as_a_refund(two_ticket_order, as_user, verdict_of, outbox):
    order, tt = two_ticket_order
    codes = [qr_encode(t) for t in tickets_of(order)]
    send("charge.dispute.created", dispute_object(order.payment_intent_id))
    send("charge.dispute.updated", dispute_object(order.payment_intent_id, status="under_review"))

    assert send("charge.dispute.closed", dispute_object(order.payment_intent_id, status="lost"))["outcome"] == "processed"

    d = Dispute.objects.get()
    assert d.status == "lost" and d.closed_at is not None
    # Booked like a refund Stripe made: one Refund row (the dispute's id), the order refunded.
    refund = Refund.objects.get()
    assert (refund.provider_refund_id, refund.amount, refund.currency, refund.created_by) == ("dp_1", 5000, "EUR", None)
    assert refund.reason == "dispute lost (fraudulent)" and d.refund == refund
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("refunded", 5000)
    assert OrderStatusChange.objects.filter(order=order).latest("id").source == "dispute"
    # The tickets are voided (refunded, QR codes refused) and their units are back on sale.
    tickets = tickets_of(order)
    assert [(t.status, t.secret_version, t.void_reason, t.refund_id) for t in tickets] == [("refunded", 2, "dispute lost", refund.pk)] * 2
    assert [verdict_of(c) for c in codes] == ["VOIDED", "VOIDED"]
    tt.refresh_from_db()
    assert tt.sold_count == 0
    # Audited (the dispute's close and each ticket), and the organisers told.
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["dispute.opened", "dispute.updated", "dispute.closed", "ticket.refunded", "ticket.refunded"]
    closed = AuditEntry.objects.get(action="dispute.closed")
    assert closed.data["status"] == ["under_review", "lost"] and sorted(closed.data["tickets_voided"]) == sorted(str(t.public_id) for t in tickets)
    email = OutboundEmail.objects.get(key=f"dispute-closed:{d.public_id}")
    assert email.context["tickets_voided"] == 2 and email.context["status"] == "lost"
    assert email_deliver(outbound_email_id=email.pk)
    [message] = outbox.messages()
    assert message["Subject"].startswith("[Dispute lost] Test Fest: order ") and "Tickets voided: 2" in message.get_body().get_content()
    assert OutboundEmail.objects.filter(key__startswith="dispute-").count() == 2

    staff = as_user("staff")
    view = staff.execute(STAFF_ORDER, {"id": str(order.public_id)}).data["staffOrder"]
    assert view["order"] == {"status": "REFUNDED", "refunded": {"amount": 5000}}
    assert [(x["status"], x["isOpen"]) for x in view["disputes"]] == [("LOST", False)]
    assert staff.execute(DISPUTED, {"d": "OPEN"}).data["staffOrders"]["edges"] == []
    assert len(staff.execute(DISPUTED, {"d": "ANY"}).data["staffOrders"]["edges"]) == 1
    # Nothing is left to refund: a staff refund is refused, no second payout.
    from domains.common.errors import DomainError
    from domains.orders.refunds import order_refund

    with pytest.raises(DomainError) as refused:
        order_refund(staff=staff.user, order_public_id=order.public_id, reason="chargeback")
    assert str(refused.value.code) == "ORDER_NOT_REFUNDABLE"


def test_dispute_won_is_recorded_and_changes_nothing_else(two_ticket_order):
    order, tt = two_ticket_order
    send("charge.dispute.created", dispute_object(order.payment_intent_id))
    send("charge.dispute.funds_withdrawn", dispute_object(order.payment_intent_id))
    assert send("charge.dispute.closed", dispute_object(order.payment_intent_id, status="won"))["outcome"] == "processed"
    send("charge.dispute.funds_reinstated", dispute_object(order.payment_intent_id, status="won"))

    d = Dispute.objects.get()
    assert d.status == "won" and d.closed_at is not None and d.refund is None
    order.refresh_from_db()
    tt.refresh_from_db()
    assert (order.status, order.refunded_amount, tt.sold_count) == ("paid", 0, 2)
    assert [(t.status, t.secret_version) for t in tickets_of(order)] == [("valid", 1), ("valid", 1)]
    assert not Refund.objects.exists()
    assert outcomes() == [
        ("processed", "dispute recorded needs_response"),
        ("ignored", "dispute unchanged needs_response"),
        ("processed", "dispute closed won"),
        ("ignored", "dispute unchanged won"),
    ]
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == ["dispute.opened", "dispute.closed"]
    assert OutboundEmail.objects.filter(key=f"dispute-closed:{d.public_id}").exists()


def test_closed_before_created_replays_and_late_events_end_as_the_close_says(two_ticket_order):
    order, tt = two_ticket_order
    pi = order.payment_intent_id
    lost = event_body("charge.dispute.closed", dispute_object(pi, status="lost"), event_id="evt_lost")

    assert post_webhook(lost).json()["outcome"] == "processed"  # the close arrives first
    assert post_webhook(lost).json() == {"received": True, "duplicate": True, "outcome": "duplicate"}  # replay
    send("charge.dispute.created", dispute_object(pi, status="needs_response"))  # late
    send("charge.dispute.updated", dispute_object(pi, status="under_review"))  # late
    send("charge.dispute.funds_withdrawn", dispute_object(pi, status="needs_response"))  # late
    send("charge.dispute.closed", dispute_object(pi, status="lost"))  # the close again, another event id

    d = Dispute.objects.get()
    assert d.status == "lost"
    assert outcomes() == [
        ("processed", "dispute closed lost"),
        ("ignored", "dispute already_closed lost"),
        ("ignored", "dispute already_closed lost"),
        ("ignored", "dispute already_closed lost"),
        ("ignored", "dispute unchanged lost"),
    ]
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("refunded", 5000)
    assert Refund.objects.count() == 1
    assert all(t.status == "refunded" and t.secret_version == 2 for t in tickets_of(order))
    tt.refresh_from_db()
    assert tt.sold_count == 0  # given back once
    assert list(AuditEntry.objects.filter(action__startswith="dispute.").values_list("action", flat=True)) == ["dispute.closed"]
    assert AuditEntry.objects.get(action="dispute.closed").data["status"] == [None, "lost"]
    # Staff learn of it once, by the close (it was never seen open).
    assert list(OutboundEmail.objects.filter(key__startswith="dispute-").values_list("template", flat=True)) == ["dispute_closed"]


def test_status_only_moves_forward_whatever_the_order_of_the_updates(two_ticket_order):
    order, _ = two_ticket_order
    pi = order.payment_intent_id
    send("charge.dispute.created", dispute_object(pi, status="warning_needs_response", reason="general"))
    send("charge.dispute.updated", dispute_object(pi, status="under_review", reason="general"))
    send("charge.dispute.updated", dispute_object(pi, status="needs_response", reason="general"))  # older, late
    send("charge.dispute.updated", dispute_object(pi, status="warning_under_review", reason="general"))  # older still
    assert Dispute.objects.get().status == "under_review"
    assert [o for o, _ in outcomes()] == ["processed", "processed", "ignored", "ignored"]
    assert list(AuditEntry.objects.order_by("id").values_list("data__status", flat=True)) == [
        [None, "warning_needs_response"], ["warning_needs_response", "under_review"]
    ]
    assert OutboundEmail.objects.filter(key__startswith="dispute-opened:").count() == 1


def test_the_same_dispute_under_other_event_ids_applies_once(two_ticket_order):
    order, tt = two_ticket_order
    pi = order.payment_intent_id
    for _ in range(3):
        send("charge.dispute.created", dispute_object(pi))
    for _ in range(3):
        send("charge.dispute.closed", dispute_object(pi, status="lost"))
    assert Dispute.objects.count() == 1 and Refund.objects.count() == 1
    order.refresh_from_db()
    tt.refresh_from_db()
    assert (order.status, order.refunded_amount, tt.sold_count) == ("refunded", 5000, 0)
    assert [a for a in AuditEntry.objects.order_by("id").values_list("action", flat=True)] == [
        "dispute.opened", "dispute.closed", "ticket.refunded", "ticket.refunded"
    ]
    assert OutboundEmail.objects.filter(key__startswith="dispute-").count() == 2
    assert [o for o, _ in outcomes()] == ["processed", "ignored", "ignored", "processed", "ignored", "ignored"]


def test_a_second_different_close_is_left_for_staff(two_ticket_order):
    order, _ = two_ticket_order
    send("charge.dispute.closed", dispute_object(order.payment_intent_id, status="lost"))
    assert send("charge.dispute.closed", dispute_object(order.payment_intent_id, status="won"))["outcome"] == "needs_attention"
    assert Dispute.objects.get().status == "lost"
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("refunded", 5000)


def test_partial_dispute_lost_books_the_amount_voids_no_ticket_and_needs_staff(two_ticket_order):
    order, tt = two_ticket_order
    pi = order.payment_intent_id
    send("charge.dispute.created", dispute_object(pi, amount=2500, reason="product_not_received"))
    answer = send("charge.dispute.closed", dispute_object(pi, amount=2500, status="lost", reason="product_not_received"))
    assert answer["outcome"] == "needs_attention"
    assert outcomes()[-1] == ("needs_attention", "dispute closed lost: partial dispute lost; no ticket voided, staff choose")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("partially_refunded", 2500)
    assert [t.status for t in tickets_of(order)] == ["valid", "valid"]
    assert Refund.objects.get().amount == 2500
    assert "staff choose" in OutboundEmail.objects.get(template="dispute_closed").context["attention"]


def test_dispute_for_an_unknown_payment_intent_needs_attention_and_records_nothing(two_ticket_order):
    order, _ = two_ticket_order
    assert send("charge.dispute.created", dispute_object("pi_unknown", dispute_id="dp_x"))["outcome"] == "needs_attention"
    assert send("charge.dispute.closed", dispute_object(None, dispute_id="dp_y", status="lost"))["outcome"] == "needs_attention"
    assert outcomes() == [
        ("needs_attention", "no order for dispute dp_x (payment intent pi_unknown)"),
        ("needs_attention", "no order for dispute dp_y (payment intent None)"),
    ]
    assert not Dispute.objects.exists() and not Refund.objects.exists() and not OutboundEmail.objects.filter(key__startswith="dispute").exists()
    order.refresh_from_db()
    assert order.status == "paid"


def test_dispute_found_through_its_expanded_charge(two_ticket_order):
    order, _ = two_ticket_order
    charge = {"id": "ch_1", "object": "charge", "payment_intent": order.payment_intent_id, "metadata": {}}
    assert send("charge.dispute.created", dispute_object(None, charge=charge))["outcome"] == "processed"
    assert Dispute.objects.get().order_id == order.pk


def test_dispute_lost_before_the_success_event_applies_the_success_first(make_user, make_type, gateway, webhook_secret):
    from domains.orders import services

    tt = make_type(price_amount=2500, capacity=10)
    order = services.checkout_create(buyer=make_user(), lines=[services.CheckoutLine(tt.public_id, 2)]).order
    info = gateway.succeed(order.payment_intent_id)  # paid at Stripe; its success event not here yet
    send("charge.dispute.closed", dispute_object(order.payment_intent_id, status="lost"))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount, order.fulfilled_at is not None) == ("refunded", 5000, True)
    assert [t.status for t in tickets_of(order)] == ["refunded", "refunded"]
    send("payment_intent.succeeded", pi_object(info))  # arrives late: nothing comes back
    order.refresh_from_db()
    tt.refresh_from_db()
    assert order.status == "refunded" and len(tickets_of(order)) == 2 and tt.sold_count == 0


@pytest.fixture
def paid_upgrade(make_user, make_type, paid_order, gateway, webhook_secret):
    day = make_type(name="Day", tier_rank=10, price_amount=5000, capacity=10)
    weekend = make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=10)
    holder = make_user()
    order = paid_order(holder, day, 1)
    ticket = Ticket.objects.get(order_line__order=order)
    up = upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id).upgrade
    send("payment_intent.succeeded", pi_object(gateway.succeed(up.payment_intent_id)))
    up.refresh_from_db()
    assert up.status == "completed"
    return order, ticket, up, weekend


def test_dispute_of_an_upgrade_payment_is_shown_on_the_ticket_order_and_lost_changes_nothing(paid_upgrade, as_user):
    order, ticket, up, weekend = paid_upgrade
    assert send("charge.dispute.created", dispute_object(up.payment_intent_id, amount=3000))["outcome"] == "processed"
    d = Dispute.objects.get()
    assert (d.upgrade_id, d.order_id, d.amount) == (up.pk, order.pk, 3000)
    assert OutboundEmail.objects.filter(key=f"dispute-opened:{d.public_id}", context__upgrade_id=str(up.public_id)).exists()
    opened = AuditEntry.objects.get(action="dispute.opened")
    assert (opened.ticket_id, opened.order_id, opened.data["upgrade_id"]) == (ticket.pk, order.pk, str(up.public_id))

    answer = send("charge.dispute.closed", dispute_object(up.payment_intent_id, amount=3000, status="lost"))
    assert answer["outcome"] == "needs_attention"
    assert outcomes()[-1] == ("needs_attention", "upgrade dispute closed lost: upgrade dispute lost; the ticket keeps its tier until staff decide")
    # The ticket keeps its new tier and QR code, the order is untouched, no refund booked.
    ticket.refresh_from_db()
    up.refresh_from_db()
    order.refresh_from_db()
    assert (ticket.ticket_type_id, ticket.status, ticket.secret_version, up.status) == (weekend.pk, "valid", 2, "completed")
    assert (order.status, order.refunded_amount) == ("paid", 0) and not Refund.objects.exists()
    assert WebhookEvent.objects.filter(type="charge.dispute.closed").get().order_id == order.pk

    view = as_user("staff").execute(STAFF_ORDER, {"id": str(order.public_id)}).data["staffOrder"]
    assert [(x["status"], x["upgradeId"], x["amount"]["amount"]) for x in view["disputes"]] == [("LOST", str(up.public_id), 3000)]


def test_an_unknown_dispute_status_needs_attention_and_records_nothing(two_ticket_order):
    order, _ = two_ticket_order
    assert send("charge.dispute.updated", dispute_object(order.payment_intent_id, status="something_new"))["outcome"] == "needs_attention"
    assert not Dispute.objects.exists()
