"""Upgrades through GraphQL: pay the difference (webhook + confirm applies once), capacity
held then moved, the old QR code refused, lower/same tier refused, staff processUpgrade."""

from __future__ import annotations

import pytest

from domains.orders.models import WebhookEvent
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_decode, qr_encode
from domains.upgrades.models import Upgrade

from .conftest import event_body, pi_object, post_webhook

pytestmark = pytest.mark.django_db

REQUEST = """mutation($t: UUID!, $to: UUID!) { requestUpgrade(ticketId: $t, toTicketTypeId: $to) {
  clientSecret upgrade { id status amount { amount currency } paymentIntentId } errors { code field } } }"""
CONFIRM = """mutation($u: UUID!) { confirmUpgrade(upgradeId: $u) { upgrade { id status } errors { code } } }"""
PROCESS = """mutation($t: UUID!, $to: UUID!, $r: String!, $c: Boolean!) {
  processUpgrade(ticketId: $t, toTicketTypeId: $to, reason: $r, charge: $c) { clientSecret upgrade { status amount { amount } } errors { code field } } }"""


@pytest.fixture
def tiers(make_type):
    return (
        make_type(name="Day", tier_rank=10, price_amount=5000, capacity=10),
        make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=10),
        make_type(name="VIP", tier_rank=30, price_amount=15000, capacity=1),
        make_type(name="Other day", tier_rank=10, price_amount=5000, capacity=10),
    )


@pytest.fixture
def holder(as_user, tiers, paid_order):
    client = as_user()
    order = paid_order(client.user, tiers[0], 1)
    return client, Ticket.objects.get(order_line__order=order)


def test_upgrade_paid_twice_applies_once(holder, tiers, gateway, webhook_secret, verdict_of):
    client, ticket = holder
    day, weekend, *_ = tiers
    old_code = qr_encode(ticket)
    out = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(weekend.public_id)}).payload("requestUpgrade")
    assert out["errors"] == [] and out["upgrade"]["status"] == "PENDING"
    assert out["upgrade"]["amount"] == {"amount": 3000, "currency": "EUR"}
    pi_id = out["upgrade"]["paymentIntentId"]
    assert out["clientSecret"].startswith(pi_id)
    weekend.refresh_from_db()
    assert weekend.held_count == 1  # target held while paying
    # Asking again: same upgrade, same PaymentIntent.
    again = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(weekend.public_id)}).payload("requestUpgrade")
    assert again["upgrade"]["id"] == out["upgrade"]["id"] and again["upgrade"]["paymentIntentId"] == pi_id
    assert gateway.create_calls == 2  # checkout + this upgrade's one PaymentIntent

    info = gateway.succeed(pi_id)
    body = event_body("payment_intent.succeeded", pi_object(info))
    assert post_webhook(body).status_code == 200
    assert post_webhook(body).status_code == 200  # replay
    confirmed = client.execute(CONFIRM, {"u": out["upgrade"]["id"]}).payload("confirmUpgrade")
    assert confirmed["errors"] == [] and confirmed["upgrade"]["status"] == "COMPLETED"
    assert post_webhook(event_body("payment_intent.succeeded", pi_object(info))).status_code == 200

    assert [e.outcome for e in WebhookEvent.objects.order_by("received_at")] == ["processed", "ignored"]
    ticket.refresh_from_db()
    day.refresh_from_db()
    weekend.refresh_from_db()
    assert ticket.ticket_type_id == weekend.pk and ticket.secret_version == 2
    assert (day.sold_count, weekend.sold_count, weekend.held_count) == (0, 1, 0)
    assert qr_decode(old_code).version != ticket.secret_version
    assert verdict_of(old_code) == "VOIDED"
    mine = client.execute("{ myUpgrades { status toTicketTypeName } }").data["myUpgrades"]
    assert mine == [{"status": "COMPLETED", "toTicketTypeName": "Weekend"}]


def test_confirm_before_webhook_then_webhook_is_a_no_op(holder, tiers, gateway, webhook_secret):
    client, ticket = holder
    out = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(tiers[1].public_id)}).payload("requestUpgrade")
    early = client.execute(CONFIRM, {"u": out["upgrade"]["id"]}).payload("confirmUpgrade")
    assert [e["code"] for e in early["errors"]] == ["UPGRADE_PAYMENT_NOT_COMPLETED"]
    info = gateway.succeed(out["upgrade"]["paymentIntentId"])
    assert client.execute(CONFIRM, {"u": out["upgrade"]["id"]}).payload("confirmUpgrade")["errors"] == []
    post_webhook(event_body("payment_intent.succeeded", pi_object(info)))
    assert WebhookEvent.objects.get().outcome == "ignored"
    ticket.refresh_from_db()
    assert ticket.secret_version == 2


def test_failed_payment_releases_the_hold(holder, tiers, gateway, webhook_secret):
    client, ticket = holder
    out = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(tiers[1].public_id)}).payload("requestUpgrade")
    info = gateway.intents[out["upgrade"]["paymentIntentId"]]
    post_webhook(event_body("payment_intent.payment_failed", pi_object(info, status="requires_payment_method")))
    tiers[1].refresh_from_db()
    assert tiers[1].held_count == 0
    assert Upgrade.objects.get().status == "failed"



def test_refunding_the_ticket_ends_its_pending_upgrade_and_frees_the_unit(
    holder, tiers, gateway, webhook_secret, make_user, django_capture_on_commit_callbacks
):
    """The VIP unit held for a pending upgrade goes back to sale when the ticket is refunded,
    not when the hold would have run out; a payment that still arrives is recorded for staff
    to refund, and changes no ticket."""
    from domains.orders.refunds import order_refund

    client, ticket = holder
    vip = tiers[2]  # capacity 1
    out = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(vip.public_id)}).payload("requestUpgrade")
    assert out["errors"] == []
    vip.refresh_from_db()
    assert vip.held_count == 1

    with django_capture_on_commit_callbacks(execute=True):  # the refund's commit
        order_refund(staff=make_user("staff"), order_public_id=ticket.order_line.order.public_id, reason="asked")
    vip.refresh_from_db()
    up = Upgrade.objects.get()
    assert (up.status, up.holds_capacity, vip.held_count) == ("expired", False, 0)

    info = gateway.succeed(out["upgrade"]["paymentIntentId"])
    assert post_webhook(event_body("payment_intent.succeeded", pi_object(info))).status_code == 200
    up.refresh_from_db()
    ticket.refresh_from_db()
    assert up.status == "needs_attention" and ticket.ticket_type_id == tiers[0].pk and ticket.status == "refunded"
    vip.refresh_from_db()
    assert (vip.sold_count, vip.held_count) == (0, 0)


def test_upgrade_errors(holder, tiers, as_user, gateway, festival):
    client, ticket = holder
    day, weekend, vip, other_day = tiers
    tid = str(ticket.public_id)

    def codes(c, to, t=tid):
        return [e["code"] for e in c.execute(REQUEST, {"t": t, "to": str(to)}).payload("requestUpgrade")["errors"]]

    assert codes(client, day.public_id) == ["UPGRADE_NOT_HIGHER_TIER"]
    assert codes(client, other_day.public_id) == ["UPGRADE_NOT_HIGHER_TIER"]
    assert codes(as_user(), weekend.public_id) == ["TICKET_NOT_FOUND"]
    assert codes(client, "00000000-0000-0000-0000-000000000000") == ["TICKET_TYPE_NOT_FOUND"]
    assert codes(client, weekend.public_id) == []
    assert codes(client, vip.public_id) == ["UPGRADE_ALREADY_PENDING"]
    Upgrade.objects.update(status="failed", holds_capacity=False)
    vip.sold_count = 1
    vip.save()
    assert codes(client, vip.public_id) == ["SOLD_OUT"]
    # lower and same tier nothing changed
    ticket.refresh_from_db()
    assert ticket.ticket_type_id == day.pk and ticket.secret_version == 1


def test_staff_process_upgrade_without_and_with_charge(holder, tiers, as_user, gateway):
    client, ticket = holder
    day, weekend, vip, _ = tiers
    staff = as_user("staff")
    v = {"t": str(ticket.public_id), "to": str(weekend.public_id), "r": "", "c": False}
    assert [e["code"] for e in staff.execute(PROCESS, v).payload("processUpgrade")["errors"]] == ["UPGRADE_REASON_REQUIRED"]
    done = staff.execute(PROCESS, {**v, "r": "sponsor guest"}).payload("processUpgrade")
    assert done["errors"] == [] and done["upgrade"]["status"] == "COMPLETED" and done["clientSecret"] is None
    ticket.refresh_from_db()
    assert ticket.ticket_type_id == weekend.pk and ticket.secret_version == 2
    # with charge: a pending upgrade the holder pays with requestUpgrade's client secret
    charged = staff.execute(PROCESS, {**v, "to": str(vip.public_id), "r": "asked at the desk", "c": True}).payload("processUpgrade")
    assert charged["errors"] == [] and charged["upgrade"] == {"status": "PENDING", "amount": {"amount": 7000}}
    mine = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(vip.public_id)}).payload("requestUpgrade")
    assert mine["clientSecret"] and mine["upgrade"]["status"] == "PENDING"
    from domains.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="upgrade.processed", actor=staff.user, reason="sponsor guest").exists()
    assert AuditEntry.objects.filter(action="ticket.type_changed").count() == 1


def test_my_upgrades_are_the_ones_i_asked_for_not_a_previous_holders(holder, tiers, gateway, webhook_secret, as_user):
    """The new holder of a transferred ticket does not see the upgrade its previous holder paid
    for (amount, PaymentIntent, refunds); the one who paid still does."""
    from domains.transfers import services as transfers

    client, ticket = holder
    out = client.execute(REQUEST, {"t": str(ticket.public_id), "to": str(tiers[1].public_id)}).payload("requestUpgrade")
    pi_id = out["upgrade"]["paymentIntentId"]
    assert post_webhook(event_body("payment_intent.succeeded", pi_object(gateway.succeed(pi_id)))).status_code == 200
    recipient = as_user()
    offer = transfers.transfer_create(sender=client.user, ticket_public_id=ticket.public_id, to_email=recipient.user.email)
    transfers.transfer_accept(recipient=recipient.user, token=offer.token)

    mine = "{ myUpgrades { ticketId paymentIntentId } myTickets { id } }"
    theirs = recipient.execute(mine).data
    assert theirs["myTickets"] == [{"id": str(ticket.public_id)}] and theirs["myUpgrades"] == []
    assert client.execute(mine).data["myUpgrades"] == [{"ticketId": str(ticket.public_id), "paymentIntentId": pi_id}]


@pytest.mark.parametrize("charge_free", ["staff", "free"])
def test_a_failed_free_apply_leaves_no_pending_upgrade(holder, tiers, as_user, make_type, monkeypatch, charge_free):
    """Opening and applying an upgrade with nothing to pay is one transaction: a failure in the
    apply leaves no pending upgrade holding a unit (it did, and refused the retry with
    UPGRADE_ALREADY_PENDING until its hold expired)."""
    from django.db import DatabaseError

    from domains.audit.models import AuditEntry
    from domains.upgrades import services
    from domains.upgrades.models import Upgrade

    client, ticket = holder
    day, weekend, _, _ = tiers
    staff = as_user("staff")
    target = weekend if charge_free == "staff" else make_type(name="Day plus", tier_rank=15, price_amount=5000, capacity=10)

    def run():
        if charge_free == "staff":
            return services.upgrade_process(staff=staff.user, ticket_public_id=ticket.public_id, to_type_public_id=target.public_id, charge=False, reason="sponsor")
        return services.upgrade_request(user=client.user, ticket_public_id=ticket.public_id, to_type_public_id=target.public_id)

    real = services.audit_record

    def failing(*, action, **kw):
        if action == "ticket.type_changed":
            raise DatabaseError("injected")
        return real(action=action, **kw)

    monkeypatch.setattr(services, "audit_record", failing)
    with pytest.raises(DatabaseError):
        run()
    target.refresh_from_db()
    assert not Upgrade.objects.exists() and target.held_count == 0 and target.sold_count == 0
    assert not AuditEntry.objects.filter(action__startswith="upgrade.").exists()
    monkeypatch.setattr(services, "audit_record", real)
    assert run().upgrade.status == Upgrade.Status.COMPLETED  # the retry is not refused
    target.refresh_from_db()
    assert target.held_count == 0 and target.sold_count == 1
