"""Ticket transfers: create, cancel, accept.

Rules
-----
* Only the holder of a valid ticket that has not been scanned in, has no pending upgrade
  and no other pending transfer may offer it; the festival's deadline and per-ticket limit
  (FestivalTransferPolicy, TRANSFER_MAX_PER_TICKET) apply to creating and to accepting.
* The recipient must be signed in with the address the transfer was sent to (compared
  case-insensitively). Holding the token proves access to that mailbox, so an account that
  was registered on the way (email not verified yet) may accept. The token is single-use
  and expires (TRANSFER_TOKEN_TTL_HOURS).
* Accepting moves the ticket and bumps its secret version: the sender's QR codes, PDFs and
  wallet passes stop working. Both sides are emailed; the change is audited.
* Lock order: transfer row, then ticket row (accept); ticket row then the transfer insert
  (create), which never waits for another transfer's row (`_expire_stale` skips a locked
  one); cancel locks only the transfer row. The transfer row lock is what makes two
  accepts, or an accept and a cancel, resolve to exactly one outcome.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from domains.accounts.models import normalize_email
from domains.audit.admission import ticket_was_admitted
from domains.audit.services import audit_record
from domains.common.clock import now
from domains.common.errors import DomainError
from domains.notifications.services import email_enqueue
from domains.tickets.errors import TicketErrorCode
from domains.tickets.locking import ticket_lock
from domains.tickets.models import Ticket
from domains.tickets.services import ticket_bump_secret
from domains.transfers import conf
from domains.transfers.errors import TransferErrorCode as E
from domains.transfers.models import FestivalTransferPolicy, Transfer


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class CreatedTransfer:
    transfer: Transfer
    # Shown to the sender never; sent only to the recipient's mailbox. Returned for tests.
    token: str


def _policy(festival_id: int) -> tuple[object, int | None, bool]:
    policy = FestivalTransferPolicy.objects.filter(festival_id=festival_id).first()
    if policy is None:
        return None, conf.default_max_per_ticket(), True
    limit = policy.max_transfers_per_ticket if policy.max_transfers_per_ticket is not None else conf.default_max_per_ticket()
    return policy.deadline, limit, policy.transfers_enabled


def _check_policy(ticket: Ticket, at) -> None:
    deadline, limit, enabled = _policy(ticket.ticket_type.festival_id)
    if not enabled or (deadline is not None and at >= deadline):
        raise DomainError(E.TRANSFER_DEADLINE_PASSED, "Tickets can no longer be transferred.", "ticketId")
    if limit is not None and Transfer.objects.filter(ticket=ticket, status=Transfer.Status.ACCEPTED).count() >= limit:
        raise DomainError(E.TRANSFER_LIMIT_REACHED, f"This ticket was already transferred {limit} time(s).", "ticketId")


def _check_transferable(ticket: Ticket) -> None:
    if ticket.status != Ticket.Status.VALID:
        raise DomainError(TicketErrorCode.TICKET_NOT_VALID, f"This ticket is {ticket.status}.", "ticketId")
    if ticket_was_admitted(ticket.pk):
        raise DomainError(E.TICKET_ALREADY_SCANNED, "This ticket has already been scanned in.", "ticketId")
    from domains.upgrades.models import Upgrade

    if Upgrade.objects.filter(ticket=ticket, status=Upgrade.Status.PENDING).exists():
        raise DomainError(E.TICKET_UPGRADE_PENDING, "Finish or let the pending upgrade expire first.", "ticketId")


def _expire_stale(ticket_id: int, at) -> None:
    """Mark the ticket's pending transfers that ran out as expired; one that someone holds
    locked (an accept or a cancel deciding it now) is left to them.

    Why not wait for it: the caller holds the ticket, and an accept holds the transfer row
    while it waits for the ticket (transfer row, then ticket row). An accept whose clock read
    the transfer still in time, racing a new offer whose clock read it expired, deadlocked on
    the UPDATE (tests/lifecycle/test_race_matrix.py). Left pending, it makes the new offer
    TRANSFER_ALREADY_PENDING, which is the truth until that accept or cancel commits."""
    stale = Transfer.objects.select_for_update(skip_locked=True).filter(
        ticket_id=ticket_id, status=Transfer.Status.PENDING, expires_at__lte=at
    )
    Transfer.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).update(status=Transfer.Status.EXPIRED)


def transfers_close_for_voided(*, ticket_ids: list[int]) -> int:
    """Cancel the pending offers of these tickets that are no longer valid (refunded or
    voided), so neither side keeps seeing an offer nobody can accept; the number cancelled.

    Called once the void has committed (domains/transfers/apps.py, `after_tickets_changed`).
    An offer someone holds locked (an accept, which will find the ticket invalid) is skipped
    rather than waited for."""
    with transaction.atomic():
        pending = list(
            Transfer.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(ticket_id__in=ticket_ids, status=Transfer.Status.PENDING)
            .exclude(ticket__status=Ticket.Status.VALID)
            .select_related("ticket")
        )
        at = now()
        for transfer in pending:
            transfer.status = Transfer.Status.CANCELLED
            transfer.cancelled_at = at
            transfer.save(update_fields=["status", "cancelled_at"])
            audit_record(
                action="transfer.cancelled", ticket=transfer.ticket,
                data={"transfer_id": str(transfer.public_id), "why": "ticket no longer valid"},
            )
        return len(pending)


def transfer_create(*, sender, ticket_public_id: uuid.UUID, to_email: str) -> CreatedTransfer:
    """Offer one of the sender's tickets to `to_email`; the recipient is emailed a token.

    Errors: TICKET_NOT_FOUND (also someone else's), TICKET_NOT_VALID, TICKET_ALREADY_SCANNED,
    TICKET_UPGRADE_PENDING, TRANSFER_TO_SELF, TRANSFER_ALREADY_PENDING, TRANSFER_DEADLINE_PASSED,
    TRANSFER_LIMIT_REACHED, INVALID_INPUT (address).
    """
    from domains.common.email import is_valid_email
    from domains.common.errors import CommonErrorCode

    email = normalize_email(to_email)
    if not is_valid_email(email):
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Enter a valid email address.", "toEmail")
    if email == normalize_email(sender.email):
        raise DomainError(E.TRANSFER_TO_SELF, "You already hold this ticket.", "toEmail")
    at = now()
    with transaction.atomic():
        ticket = ticket_lock(public_id=ticket_public_id, holder=sender)
        if ticket is None:
            raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "Ticket not found.", "ticketId")
        _check_transferable(ticket)
        _check_policy(ticket, at)
        _expire_stale(ticket.pk, at)
        if Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING).exists():
            raise DomainError(E.TRANSFER_ALREADY_PENDING, "This ticket already has a pending transfer.", "ticketId")
        token = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    ticket=ticket, from_user=sender, to_email=email, token_hash=token_hash(token), expires_at=at + conf.token_ttl()
                )
        except IntegrityError:
            raise DomainError(E.TRANSFER_ALREADY_PENDING, "This ticket already has a pending transfer.", "ticketId") from None
        audit_record(
            action="transfer.created", actor=sender, ticket=ticket, data={"transfer_id": str(transfer.public_id), "to_email": email}
        )
        email_enqueue(
            key=f"transfer-offer:{transfer.public_id}",
            to_email=email,
            template="transfer_offered",
            context={
                "sender_name": sender.full_name or sender.email,
                "festival_name": ticket.ticket_type.festival.name,
                "ticket_type_name": ticket.ticket_type.name,
                "token": token,
                "expires_at": transfer.expires_at.isoformat(timespec="minutes"),
            },
            sensitive=True,
        )
    return CreatedTransfer(transfer=transfer, token=token)


def transfer_cancel(*, sender, transfer_public_id: uuid.UUID) -> Transfer:
    """The sender withdraws a pending transfer. Errors: TRANSFER_NOT_FOUND, TRANSFER_NOT_PENDING."""
    with transaction.atomic():
        transfer = _lock(public_id=transfer_public_id, from_user=sender)
        if transfer is None:
            raise DomainError(E.TRANSFER_NOT_FOUND, "Transfer not found.", "id")
        if transfer.status != Transfer.Status.PENDING:
            raise DomainError(E.TRANSFER_NOT_PENDING, f"This transfer is {transfer.status}.", "id")
        transfer.status = Transfer.Status.CANCELLED
        transfer.cancelled_at = now()
        transfer.save(update_fields=["status", "cancelled_at"])
        audit_record(action="transfer.cancelled", actor=sender, ticket=transfer.ticket, data={"transfer_id": str(transfer.public_id)})
    return transfer


def transfer_accept(*, recipient, token: str) -> Transfer:
    """Move the ticket to the recipient and re-issue its code.

    Errors: TRANSFER_NOT_FOUND (unknown token), TRANSFER_NOT_PENDING (used or cancelled),
    TRANSFER_EXPIRED, TRANSFER_WRONG_RECIPIENT, TICKET_NOT_VALID, TICKET_ALREADY_SCANNED,
    TRANSFER_DEADLINE_PASSED, TRANSFER_LIMIT_REACHED.
    """
    at = now()
    with transaction.atomic():
        transfer = _lock(token_hash=token_hash(token or ""))
        if transfer is None:
            raise DomainError(E.TRANSFER_NOT_FOUND, "This transfer link is not valid.", "token")
        if transfer.status != Transfer.Status.PENDING:
            raise DomainError(E.TRANSFER_NOT_PENDING, f"This transfer was already {transfer.status}.", "token")
        if transfer.expires_at <= at:
            raise DomainError(E.TRANSFER_EXPIRED, "This transfer link has expired.", "token")
        if normalize_email(recipient.email) != transfer.to_email:
            raise DomainError(E.TRANSFER_WRONG_RECIPIENT, "Sign in with the address the ticket was sent to.", "token")
        ticket = _lock_ticket(transfer.ticket_id)
        if ticket.holder_id != transfer.from_user_id:
            raise DomainError(TicketErrorCode.TICKET_NOT_VALID, "The sender no longer holds this ticket.", "token")
        if ticket.status != Ticket.Status.VALID:
            raise DomainError(TicketErrorCode.TICKET_NOT_VALID, f"This ticket is {ticket.status}.", "token")
        if ticket_was_admitted(ticket.pk):
            raise DomainError(E.TICKET_ALREADY_SCANNED, "This ticket has already been scanned in.", "token")
        _check_policy(ticket, at)
        previous_version = ticket.secret_version
        Ticket.objects.filter(pk=ticket.pk).update(holder=recipient, updated_at=at)
        ticket.holder = recipient
        ticket_bump_secret(ticket=ticket)
        transfer.status = Transfer.Status.ACCEPTED
        transfer.to_user = recipient
        transfer.accepted_at = at
        transfer.save(update_fields=["status", "to_user", "accepted_at"])
        sender = transfer.from_user
        audit_record(
            action="ticket.holder_changed",
            actor=recipient,
            ticket=ticket,
            reason="transfer accepted",
            data={
                "transfer_id": str(transfer.public_id),
                "from": sender.email,
                "to": recipient.email,
                "secret_version": [previous_version, ticket.secret_version],
            },
        )
        context = {
            "festival_name": ticket.ticket_type.festival.name,
            "ticket_type_name": ticket.ticket_type.name,
            "sender_name": sender.full_name or sender.email,
            "recipient_name": recipient.full_name or recipient.email,
        }
        email_enqueue(key=f"transfer-accepted-sender:{transfer.public_id}", to_email=sender.email, template="transfer_accepted_sender", context=context)
        email_enqueue(
            key=f"transfer-accepted-recipient:{transfer.public_id}",
            to_email=recipient.email,
            template="transfer_accepted_recipient",
            context=context,
        )
    return transfer


# Locking reads, in one place (tests of the race switch the locks off here).
def _lock(**filters) -> Transfer | None:
    return Transfer.objects.select_for_update(of=("self",)).select_related("ticket", "from_user").filter(**filters).first()


def _lock_ticket(pk: int) -> Ticket:
    return ticket_lock(pk=pk)  # without joins: see domains/tickets/locking.py
