"""wallet_passes_ticket_changed and the Ticket signal: which changes touch passes, idempotence."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.tickets.models import Ticket
from domains.wallet.models import WalletPass
from domains.wallet.services import wallet_pass_create_apple, wallet_passes_ticket_changed


def test_unrelated_save_costs_no_wallet_query(ticket, holder_client):
    wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    ticket = Ticket.objects.get(pk=ticket.pk)
    ticket.void_reason = "typo fixed"
    with CaptureQueriesContext(connection) as queries:
        ticket.save()
    assert not any("wallet_walletpass" in q["sql"] for q in queries.captured_queries)
    assert WalletPass.objects.get().status == WalletPass.Status.ACTIVE


def test_explicit_call_and_signal_are_idempotent(ticket, holder_client, django_capture_on_commit_callbacks):
    wallet_pass = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    with django_capture_on_commit_callbacks() as callbacks:
        Ticket.objects.filter(pk=ticket.pk).update(secret_version=5)  # no signal for update()
        assert wallet_passes_ticket_changed(ticket_id=ticket.pk) == [wallet_pass.pk]
        assert wallet_passes_ticket_changed(ticket_id=ticket.pk) == []
    assert len(callbacks) == 1
    wallet_pass.refresh_from_db()
    assert wallet_pass.status == WalletPass.Status.SUPERSEDED


def test_refund_after_transfer_keeps_superseded_and_new_pass_is_voided(ticket, holder_client, make_user):
    old = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    other = make_user("attendee")
    ticket.holder, ticket.secret_version = other, ticket.secret_version + 1
    ticket.save()
    new = wallet_pass_create_apple(user=other, ticket_id=ticket.public_id)
    ticket.status = Ticket.Status.REFUNDED
    ticket.save()
    old.refresh_from_db(), new.refresh_from_db()
    assert (old.status, new.status) == (WalletPass.Status.SUPERSEDED, WalletPass.Status.VOID)
    assert new.last_updated.replace(microsecond=0) > new.created_at.replace(microsecond=0)
