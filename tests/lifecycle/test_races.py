"""Concurrency on PostgreSQL: one winner for a token accepted twice at once, exactly one
outcome for an accept racing a cancel. Each has a control with the transfer row lock
switched off (and a pause between read and write) showing the race is real."""

from __future__ import annotations

import time

import pytest

from domains.notifications.models import OutboundEmail
from domains.tickets.models import Ticket
from domains.transfers import services
from domains.transfers.models import Transfer

from .racing import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def _unlocked(monkeypatch):
    """The control: plain reads of the transfer and the ticket (no row locks), and a pause so
    both callers read before either writes."""

    def read(**filters):
        row = Transfer.objects.select_related("ticket", "from_user").filter(**filters).first()
        time.sleep(0.3)
        return row

    monkeypatch.setattr(services, "_lock", read)
    monkeypatch.setattr(services, "_lock_ticket", lambda pk: Ticket.objects.select_related("ticket_type__festival").get(pk=pk))


@pytest.fixture
def offered(make_user, make_type, paid_order):
    tt = make_type(capacity=100)

    def make():
        sender = make_user()
        recipient = make_user()
        order = paid_order(sender, tt, 1)
        ticket = Ticket.objects.get(order_line__order=order)
        created = services.transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email)
        return sender, recipient, ticket, created

    return make


def _accept_twice(offered):
    sender, recipient, ticket, created = offered()
    results = run_together((
        lambda: services.transfer_accept(recipient=recipient, token=created.token),
        lambda: services.transfer_accept(recipient=recipient, token=created.token),
    ))
    ticket.refresh_from_db()
    return results, ticket, created


def test_two_accepts_of_one_token_one_wins(offered):
    for _ in range(ROUNDS):
        results, ticket, created = _accept_twice(offered)
        assert sorted(r[0] for r in results) == ["error", "ok"], results
        assert [r[1] for r in results if r[0] == "error"] == ["TRANSFER_NOT_PENDING"]
        assert ticket.secret_version == 2
        assert OutboundEmail.objects.filter(key__startswith=f"transfer-accepted-sender:{created.transfer.public_id}").count() == 1


def test_control_two_accepts_without_the_lock_both_apply(offered, monkeypatch):
    _unlocked(monkeypatch)
    results, ticket, _ = _accept_twice(offered)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert ticket.secret_version == 3  # re-issued twice: the race is real


def _accept_vs_cancel(offered):
    sender, recipient, ticket, created = offered()
    results = run_together((
        lambda: services.transfer_accept(recipient=recipient, token=created.token),
        lambda: services.transfer_cancel(sender=sender, transfer_public_id=created.transfer.public_id),
    ))
    ticket.refresh_from_db()
    transfer = Transfer.objects.get(pk=created.transfer.pk)
    return results, ticket, transfer, sender, recipient


def test_accept_racing_cancel_has_exactly_one_outcome(offered):
    seen = set()
    for _ in range(ROUNDS):
        results, ticket, transfer, sender, recipient = _accept_vs_cancel(offered)
        assert sorted(r[0] for r in results) == ["error", "ok"], results
        assert [r[1] for r in results if r[0] == "error"] == ["TRANSFER_NOT_PENDING"]
        if transfer.status == "accepted":
            assert ticket.holder_id == recipient.pk and ticket.secret_version == 2
        else:
            assert transfer.status == "cancelled"
            assert ticket.holder_id == sender.pk and ticket.secret_version == 1
        seen.add(transfer.status)
    assert seen <= {"accepted", "cancelled"}


def test_control_accept_racing_cancel_without_the_lock_both_succeed(offered, monkeypatch):
    _unlocked(monkeypatch)
    results, ticket, transfer, sender, recipient = _accept_vs_cancel(offered)
    assert [r[0] for r in results] == ["ok", "ok"], results
    # Inconsistent: the ticket moved although the transfer may read "cancelled".
    assert ticket.holder_id == recipient.pk
