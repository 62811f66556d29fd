"""charge.refunded for an upgrade's payment: the refund is recorded against the upgrade and
flagged for staff; a completed upgrade keeps its tier (and QR code); one not applied yet is
never applied afterwards. Replays and older cumulative amounts change nothing."""

from __future__ import annotations

import uuid

import pytest

from domains.audit.models import AuditEntry
from domains.orders.models import Order, Refund, WebhookEvent
from domains.tickets.models import Ticket
from domains.upgrades import services
from domains.upgrades.models import Upgrade

from .conftest import event_body, pi_object, post_webhook

pytestmark = pytest.mark.django_db

STAFF_ORDER = """query($id: UUID!) { staffOrder(id: $id) { upgrades { status refunded { amount currency } refundNeedsReview toTicketTypeName }
  history { action } } }"""


@pytest.fixture
def tiers(make_type):
    return make_type(name="Day", tier_rank=10, price_amount=5000, capacity=10), make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=10)


@pytest.fixture
def pending_upgrade(make_user, tiers, paid_order, gateway):
    holder = make_user()
    order = paid_order(holder, tiers[0], 1)
    ticket = Ticket.objects.get(order_line__order=order)
    up = services.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=tiers[1].public_id).upgrade
    return order, ticket, up


def refunded(up, amount_refunded, refund_ids=("re_1",), currency="eur"):
    share = amount_refunded // len(refund_ids)
    return event_body(
        "charge.refunded",
        {
            "id": f"ch_{uuid.uuid4().hex[:12]}",
            "object": "charge",
            "payment_intent": up.payment_intent_id,
            "amount": up.amount,
            "amount_refunded": amount_refunded,
            "currency": currency,
            "metadata": {},
            "refunds": {"data": [{"id": r, "amount": share, "currency": currency, "metadata": {}} for r in refund_ids]},
        },
    )


def state(ticket, up, tiers):
    ticket.refresh_from_db()
    up.refresh_from_db()
    for t in tiers:
        t.refresh_from_db()
    return ticket, up, [(t.sold_count, t.held_count) for t in tiers]


def test_refund_of_a_completed_upgrade_is_recorded_and_flagged_the_ticket_keeps_its_tier(pending_upgrade, tiers, gateway, webhook_secret, as_user):
    order, ticket, up = pending_upgrade
    post_webhook(event_body("payment_intent.succeeded", pi_object(gateway.succeed(up.payment_intent_id))))
    ticket, up, capacity = state(ticket, up, tiers)
    assert up.status == "completed" and ticket.secret_version == 2 and capacity == [(0, 0), (1, 0)]

    assert post_webhook(refunded(up, 1000)).status_code == 200  # partial (goodwill)
    ticket, up, capacity = state(ticket, up, tiers)
    assert (up.status, up.refunded_amount, up.refund_needs_review) == ("completed", 1000, True)
    # Nothing taken away: same tier, same QR code, same capacity, the order untouched.
    assert (ticket.ticket_type_id, ticket.secret_version, ticket.status) == (tiers[1].pk, 2, "valid")
    assert capacity == [(0, 0), (1, 0)]
    assert Order.objects.get(pk=order.pk).status == "paid" and not Refund.objects.exists()

    body = refunded(up, 3000, ("re_1", "re_2"))
    assert post_webhook(body).status_code == 200
    assert post_webhook(body).status_code == 200  # replay: stored once
    assert post_webhook(refunded(up, 1000)).status_code == 200  # an older event, late: no step back
    outcomes = list(WebhookEvent.objects.filter(type="charge.refunded").order_by("received_at").values_list("outcome", "note"))
    assert outcomes == [
        ("processed", "upgrade refund recorded; flagged for staff review"),
        ("processed", "upgrade refund recorded; flagged for staff review"),
        ("ignored", "upgrade refund already_recorded"),
    ]
    ticket, up, capacity = state(ticket, up, tiers)
    assert (up.refunded_amount, ticket.ticket_type_id, ticket.secret_version) == (3000, tiers[1].pk, 2)
    entries = AuditEntry.objects.filter(action="upgrade.refunded", ticket=ticket).order_by("id")
    assert [e.data["refunded"] for e in entries] == [[0, 1000], [1000, 3000]]

    view = as_user("staff").execute(STAFF_ORDER, {"id": str(order.public_id)}).data["staffOrder"]
    assert view["upgrades"] == [
        {"status": "COMPLETED", "refunded": {"amount": 3000, "currency": "EUR"}, "refundNeedsReview": True, "toTicketTypeName": "Weekend"}
    ]
    assert [h["action"] for h in view["history"]].count("upgrade.refunded") == 2


def test_refund_before_the_upgrade_was_applied_means_it_is_never_applied(pending_upgrade, tiers, gateway, webhook_secret):
    order, ticket, up = pending_upgrade
    info = gateway.succeed(up.payment_intent_id)
    assert post_webhook(refunded(up, 3000)).status_code == 200  # the refund's event came first
    ticket, up, capacity = state(ticket, up, tiers)
    assert (up.status, up.refunded_amount, up.refund_needs_review, up.holds_capacity) == ("needs_attention", 3000, True, False)
    assert capacity == [(1, 0), (0, 0)]  # the held Weekend unit went back to sale

    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    assert WebhookEvent.objects.get(type="payment_intent.succeeded").outcome == "needs_attention"
    ticket, up, capacity = state(ticket, up, tiers)
    assert (ticket.ticket_type_id, ticket.secret_version, up.status) == (tiers[0].pk, 1, "needs_attention")
    assert capacity == [(1, 0), (0, 0)]


def test_refund_in_another_currency_needs_attention_and_changes_nothing(pending_upgrade, tiers, gateway, webhook_secret):
    order, ticket, up = pending_upgrade
    post_webhook(event_body("payment_intent.succeeded", pi_object(gateway.succeed(up.payment_intent_id))))
    post_webhook(refunded(up, 3000, currency="usd"))
    assert WebhookEvent.objects.get(type="charge.refunded").outcome == "needs_attention"
    up.refresh_from_db()
    assert (up.refunded_amount, up.refund_needs_review) == (0, False)


def test_staff_clear_the_review_flag_in_the_admin_and_nothing_else_changes(pending_upgrade, make_user, rf):
    from django.contrib.admin.sites import site

    order, ticket, up = pending_upgrade
    Upgrade.objects.filter(pk=up.pk).update(refund_needs_review=True, refunded_amount=3000)
    model_admin = site._registry[Upgrade]
    request = rf.post("/admin/")
    request.user = make_user("admin", is_staff=True, is_superuser=True)
    form_class = model_admin.get_form(request, up, change=True)
    assert list(form_class.base_fields) == ["refund_needs_review"]
    obj = Upgrade.objects.get(pk=up.pk)
    form = form_class({}, instance=obj)  # unchecked box
    assert form.is_valid(), form.errors
    Upgrade.objects.filter(pk=up.pk).update(status="completed")  # changed meanwhile
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    up.refresh_from_db()
    assert (up.refund_needs_review, up.status, up.refunded_amount) == (False, "completed", 3000)
    assert not model_admin.has_add_permission(request) and not model_admin.has_delete_permission(request, up)
