"""Concurrency on PostgreSQL: an upgrade paid once but reported several times at once
(`payment_intent.succeeded` racing `confirmUpgrade`, the same event delivered concurrently,
the same success under several event ids) applies exactly once: the ticket changes type once,
capacity moves once, the secret version changes once, one audit entry, one email. The
control reads the upgrade without its row lock and shows the race is real."""

from __future__ import annotations

import time

import pytest

from domains.audit.models import AuditEntry
from domains.notifications.models import OutboundEmail
from domains.orders.webhooks import stripe_webhook_receive
from domains.payments.webhooks import sign_webhook_payload
from domains.tickets.models import Ticket
from domains.upgrades import services
from domains.upgrades.models import Upgrade

from .conftest import event_body, pi_object
from .racing import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 10


def _receive(body: bytes, secret: str):
    return lambda: stripe_webhook_receive(payload=body, signature_header=sign_webhook_payload(body, secret, int(time.time())))


@pytest.fixture
def tiers(make_type):
    return make_type(name="Day", tier_rank=10, price_amount=5000, capacity=500), make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=500)


@pytest.fixture
def paid_upgrade(make_user, tiers, paid_order, gateway):
    """A holder, their Day ticket, and a pending upgrade to Weekend whose payment succeeded."""
    day, weekend = tiers

    def make():
        holder = make_user()
        ticket = Ticket.objects.get(order_line__order=paid_order(holder, day, 1))
        up = services.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id).upgrade
        return holder, ticket, up, gateway.succeed(up.payment_intent_id)

    return make


def _applied_once(ticket, up):
    ticket.refresh_from_db()
    up.refresh_from_db()
    assert up.status == Upgrade.Status.COMPLETED and up.holds_capacity is False
    assert ticket.ticket_type_id == up.to_type_id and ticket.secret_version == 2
    assert AuditEntry.objects.filter(action="ticket.type_changed", ticket=ticket).count() == 1
    assert OutboundEmail.objects.filter(key=f"upgrade-completed:{up.public_id}").count() == 1


def _capacity(tiers):
    for t in tiers:
        t.refresh_from_db()
    return [(t.sold_count, t.held_count) for t in tiers]


def test_webhook_racing_confirm_upgrade_applies_once(paid_upgrade, tiers, webhook_secret):
    for n in range(1, ROUNDS + 1):
        holder, ticket, up, info = paid_upgrade()
        body = event_body("payment_intent.succeeded", pi_object(info))
        confirm = lambda holder=holder, up=up: services.upgrade_confirm(user=holder, upgrade_public_id=up.public_id)  # noqa: E731
        results = run_together([_receive(body, webhook_secret), confirm])
        assert [r[0] for r in results] == ["ok", "ok"], results
        webhook, confirmed = results[0][1], results[1][1]
        assert confirmed.status == Upgrade.Status.COMPLETED
        assert (webhook.outcome, webhook.note) in {("processed", "upgrade applied"), ("ignored", "upgrade already_applied")}
        _applied_once(ticket, up)
        # Every Day ticket bought so far was moved up exactly once; nothing is left held.
        assert _capacity(tiers) == [(0, 0), (n, 0)]


def test_same_event_at_once_and_same_success_under_other_ids_apply_once(paid_upgrade, tiers, webhook_secret):
    for n in range(1, 4):
        holder, ticket, up, info = paid_upgrade()
        body = event_body("payment_intent.succeeded", pi_object(info), event_id=f"evt_upgrade_{n}")
        others = [event_body("payment_intent.succeeded", pi_object(info)) for _ in range(4)]
        calls = [_receive(body, webhook_secret) for _ in range(6)] + [_receive(b, webhook_secret) for b in others]
        calls.append(lambda holder=holder, up=up: services.upgrade_confirm(user=holder, upgrade_public_id=up.public_id))
        results = run_together(calls)
        assert all(r[0] == "ok" for r in results), results
        same = [r[1] for r in results[:6]]
        assert sorted(r.duplicate for r in same) == [False] + [True] * 5
        outcomes = [r[1].outcome for r in results[:10] if not r[1].duplicate]
        assert outcomes.count("processed") <= 1 and len(outcomes) == 5
        _applied_once(ticket, up)
        assert _capacity(tiers) == [(0, 0), (n, 0)]


def test_control_without_the_upgrade_row_lock_the_second_payment_report_breaks_state(paid_upgrade, tiers, webhook_secret, monkeypatch):
    """Both callers read the pending upgrade before either writes: the second then finds the
    ticket already moved and, working from its stale copy, releases a hold that is gone."""

    def unlocked(pk):
        row = Upgrade.objects.select_related("from_type", "to_type").get(pk=pk)
        time.sleep(0.3)
        return row

    monkeypatch.setattr(services, "_lock_upgrade", unlocked)
    holder, ticket, up, info = paid_upgrade()
    body = event_body("payment_intent.succeeded", pi_object(info))
    results = run_together([_receive(body, webhook_secret), lambda: services.upgrade_confirm(user=holder, upgrade_public_id=up.public_id)])
    up.refresh_from_db()
    broken = [r for r in results if r[0] != "ok"] or up.status != Upgrade.Status.COMPLETED
    assert broken, (results, up.status)  # the race is real


def test_late_upgrade_payment_racing_a_transfer_accept_both_apply(paid_upgrade, tiers, make_user, webhook_secret, monkeypatch):
    """The upgrade's hold expired, the holder offered the ticket to a friend, then the payment
    arrived while the friend accepted. Each side changes a column the other's ticket lock used
    to join on (holder, ticket type); whichever waits must still find the ticket (it used to
    read "no such ticket" and crash), and both changes apply, each once."""
    from domains.transfers import services as transfers
    from domains.upgrades import services as upgrades

    def slow(fn):
        def bump(*, ticket):
            result = fn(ticket=ticket)
            time.sleep(0.3)  # hold the ticket lock after the change, so the other side waits on it
            return result

        return bump

    monkeypatch.setattr(upgrades, "ticket_bump_secret", slow(upgrades.ticket_bump_secret))
    monkeypatch.setattr(transfers, "ticket_bump_secret", slow(transfers.ticket_bump_secret))
    for n in range(1, 5):
        holder, ticket, up, info = paid_upgrade()
        Upgrade.objects.filter(pk=up.pk).update(expires_at=up.created_at)
        assert services.upgrades_release_expired() == 1
        friend = make_user()
        offer = transfers.transfer_create(sender=holder, ticket_public_id=ticket.public_id, to_email=friend.email)
        body = event_body("payment_intent.succeeded", pi_object(info))
        results = run_together([_receive(body, webhook_secret), lambda friend=friend, offer=offer: transfers.transfer_accept(recipient=friend, token=offer.token)])
        assert [r[0] for r in results] == ["ok", "ok"], results
        assert results[0][1].outcome == "processed"
        ticket.refresh_from_db()
        assert (ticket.holder_id, ticket.ticket_type_id, ticket.secret_version) == (friend.pk, up.to_type_id, 3)
        assert AuditEntry.objects.filter(action="ticket.type_changed", ticket=ticket).count() == 1
        assert AuditEntry.objects.filter(action="ticket.holder_changed", ticket=ticket).count() == 1
        assert _capacity(tiers) == [(0, 0), (n, 0)]
