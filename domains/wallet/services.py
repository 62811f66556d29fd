"""Wallet pass services: issuing passes to ticket holders, and making passes follow the ticket."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError, transaction

from domains.common.clock import now
from domains.common.errors import DomainError, NotFound
from domains.tickets.locking import ticket_lock
from domains.tickets.models import Ticket
from domains.wallet.credentials import apple_credentials, google_credentials
from domains.wallet.errors import WalletErrorCode
from domains.wallet.models import WalletPass

log = logging.getLogger(__name__)

_ONE_SECOND = dt.timedelta(seconds=1)


def _touch(wallet_pass: WalletPass, stamp: dt.datetime) -> None:
    """A new update tag for a changed pass. HTTP dates (Last-Modified / If-Modified-Since) have
    whole seconds: move to a later second than before, or a device that fetched the pass
    earlier in the same second would be answered 304 and keep showing the old pass."""
    wallet_pass.last_updated = max(stamp, wallet_pass.last_updated.replace(microsecond=0) + _ONE_SECOND)


def _holder_name(user) -> str:
    return (getattr(user, "full_name", "") or user.email)[:200]


def _create(*, user, ticket_id: uuid.UUID | str, kind: str) -> WalletPass:
    """Rule: only the ticket's holder, only a valid ticket; the same live pass is returned
    until the ticket changes (new secret version, holder or type), then a new one is made."""
    try:
        ticket_uuid = uuid.UUID(str(ticket_id))
    except ValueError:
        raise NotFound("Ticket", field="ticketId") from None
    with transaction.atomic():
        # Locked: a concurrent transfer cannot slip between the check and the insert, and two
        # taps on "Add to Wallet" serialise (the second finds the first's pass).
        # ticket_lock locks the ticket row alone: a join in the locking query would also lock
        # the ticket type and festival rows and stall checkouts of that type meanwhile.
        ticket = ticket_lock(public_id=ticket_uuid, holder=user)
        if ticket is None:  # someone else's ticket answers exactly like a missing one
            raise NotFound("Ticket", field="ticketId")
        if not ticket.is_valid:
            raise DomainError(WalletErrorCode.WALLET_TICKET_NOT_VALID,
                              "This ticket is no longer valid, so it cannot be added to a wallet.", "ticketId")
        # Bring any stale pass up to date first, so "the same pass" is only ever a current one.
        wallet_passes_ticket_changed(ticket_id=ticket.pk)
        existing = WalletPass.objects.filter(ticket=ticket, kind=kind, owner=user, status=WalletPass.Status.ACTIVE).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return WalletPass.objects.create(
                    ticket=ticket, owner=user, kind=kind, secret_version=ticket.secret_version,
                    ticket_type=ticket.ticket_type, holder_name=_holder_name(user),
                    ticket_type_name=ticket.ticket_type.name[:120], last_updated=now(),
                )
        except IntegrityError:  # lost a race on the partial unique constraint (no row lock on SQLite reads)
            return WalletPass.objects.get(ticket=ticket, kind=kind, owner=user, status=WalletPass.Status.ACTIVE)


def wallet_pass_create_apple(*, user, ticket_id: uuid.UUID | str) -> WalletPass:
    """An Apple Wallet pass for the caller's valid ticket (WALLET_NOT_CONFIGURED without certificates)."""
    apple_credentials()  # fail before writing anything
    return _create(user=user, ticket_id=ticket_id, kind=WalletPass.Kind.APPLE)


def wallet_pass_create_google(*, user, ticket_id: uuid.UUID | str) -> WalletPass:
    """A Google Wallet pass for the caller's valid ticket (WALLET_NOT_CONFIGURED without a service account)."""
    google_credentials()
    return _create(user=user, ticket_id=ticket_id, kind=WalletPass.Kind.GOOGLE)


def _status_for(wallet_pass: WalletPass, ticket: Ticket | None) -> str:
    if ticket is None or not ticket.is_valid:
        return WalletPass.Status.VOID
    if (wallet_pass.secret_version != ticket.secret_version or wallet_pass.owner_id != ticket.holder_id
            or wallet_pass.ticket_type_id != ticket.ticket_type_id):
        return WalletPass.Status.SUPERSEDED
    return WalletPass.Status.ACTIVE


def wallet_passes_ticket_changed(*, ticket_id: int) -> list[int]:
    """Make the ticket's live passes agree with it: a refunded/void ticket voids them, a new
    secret version, holder or ticket type supersedes them. Changed passes get a new update tag
    and, after commit, a push to their devices / a PATCH to Google. Idempotent: a pass already
    in agreement is left alone, so callers and the Ticket signal may both call it.

    Call it in the transaction that changed the ticket (ticket_id is the database id).
    Returns the ids of the passes it changed.
    """
    changed: list[int] = []
    with transaction.atomic():
        live = list(WalletPass.objects.select_for_update().filter(ticket_id=ticket_id, status=WalletPass.Status.ACTIVE))
        if not live:
            return changed
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        stamp = now()
        for wallet_pass in live:
            status = _status_for(wallet_pass, ticket)
            if status != wallet_pass.status:
                wallet_pass.status = status
                _touch(wallet_pass, stamp)
                wallet_pass.save(update_fields=["status", "last_updated"])
                changed.append(wallet_pass.pk)
        if changed:
            from workers.wallet import push_wallet_pass_update

            ids = list(changed)
            transaction.on_commit(lambda: [push_wallet_pass_update.send(pk) for pk in ids])
    return changed


def wallet_passes_refresh(*, batch: int = 500) -> int:
    """Every live (ACTIVE) pass gets a new update tag and, after its batch commits, a push to
    its devices / a PATCH to Google, so that wallets fetch it again: what a pass shows is
    rendered when it is fetched, so it then carries the code signed with the current QR key.
    For after a QR signing secret was dropped (README, "Rotating the QR key"); harmless to run
    again. Batches of `batch` passes, each its own transaction. Returns how many passes."""
    from workers.wallet import push_wallet_pass_update

    total, after = 0, 0
    while True:
        with transaction.atomic():
            passes = list(
                WalletPass.objects.select_for_update()
                .filter(status=WalletPass.Status.ACTIVE, pk__gt=after)
                .order_by("pk")[:batch]
            )
            if not passes:
                return total
            stamp = now()
            for wallet_pass in passes:
                _touch(wallet_pass, stamp)
                wallet_pass.save(update_fields=["last_updated"])
            ids = [wallet_pass.pk for wallet_pass in passes]
            transaction.on_commit(lambda ids=ids: [push_wallet_pass_update.send(pk) for pk in ids])
        total += len(passes)
        after = passes[-1].pk
