"""Upgrades: request (attendee), process (staff), apply on payment, fail, expire.

Rules
-----
* Only to a higher `tier_rank` of the same festival: same or lower tier is UPGRADE_NOT_HIGHER_TIER.
* The holder pays the price difference through a Stripe PaymentIntent created at most once
  per upgrade (idempotency key from the upgrade's public id, created with the upgrade row
  locked, id stored in the same transaction). Its `payment_intent.succeeded` event goes
  through the same webhook shim (domains/orders/webhooks.py routes PaymentIntents whose
  metadata names an upgrade here); `confirmUpgrade` asks Stripe too. Whichever comes first
  applies the upgrade; the upgrade row lock and its status make the other a no-op.
* One unit of the target type is held while paying (conditional UPDATE, like checkout);
  on success it becomes sold and the old type's unit returns to sale; the ticket changes
  type and its secret version is bumped (the old QR code stops working).
* Lock order: upgrade row, then ticket row, then ticket types by id. A request finds the
  ticket's pending upgrade and locks it before it locks the ticket (`_lock_pending_upgrade`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from domains.audit.services import audit_record
from domains.common.clock import now
from domains.common.errors import DomainError
from domains.notifications.services import email_enqueue
from domains.orders import conf as order_conf
from domains.orders import gateway as payment_gateway
from domains.orders.errors import OrderErrorCode
from domains.payments.gateway import PaymentGatewayError, PaymentIntentInfo, idempotency_key
from domains.tickets import inventory
from domains.tickets.errors import TicketErrorCode
from domains.tickets.locking import ticket_lock
from domains.tickets.models import Ticket, TicketType
from domains.tickets.services import ticket_bump_secret
from domains.upgrades.errors import UpgradeErrorCode as E
from domains.upgrades.models import Upgrade

log = logging.getLogger(__name__)


@dataclass
class UpgradeResult:
    upgrade: Upgrade
    client_secret: str | None = None


@dataclass
class ApplyResult:
    upgrade: Upgrade
    applied: bool
    outcome: str  # applied | already_applied | foreign_payment | amount_mismatch | ticket_not_valid | no_capacity | not_pending


def _lock_upgrade(pk: int) -> Upgrade:
    return Upgrade.objects.select_for_update(of=("self",)).select_related("from_type", "to_type").get(pk=pk)


def _lock_pending_upgrade(ticket_filter: dict) -> None:
    """Lock the pending upgrade of the ticket matching `ticket_filter`, if it has one, before
    the ticket is locked: upgrade row, then ticket row, as `upgrade_apply` takes them.

    Why: the payment's side of an upgrade (`upgrade_apply`, and `upgrade_record_refund`, whose
    audit entry refers to the ticket) holds the upgrade row and then needs the ticket. A request
    for the same ticket (the holder asking again, staff processing it) that locked the ticket
    and then waited for the upgrade row deadlocked with it, and PostgreSQL killed one of the two
    (tests/lifecycle/test_race_matrix.py). The upgrade is found by the ticket's id read without
    a lock, and locked by its own columns: once it is ours its status is the committed one (an
    apply that got there first has completed it, and it no longer matches)."""
    ticket_id = Ticket.objects.filter(**ticket_filter).values_list("pk", flat=True).first()
    if ticket_id is not None:
        list(Upgrade.objects.select_for_update(of=("self",)).filter(ticket_id=ticket_id, status=Upgrade.Status.PENDING).values_list("pk", flat=True))


def _release_hold(up: Upgrade) -> None:
    if up.holds_capacity:
        inventory.release(up.to_type_id, 1)
        up.holds_capacity = False


def _close(up: Upgrade, status: str, note: str = "") -> None:
    _release_hold(up)
    up.status = status
    up.note = note[:300]
    up.save(update_fields=["status", "holds_capacity", "note"])


def upgrades_close_for_voided(*, ticket_ids: list[int]) -> int:
    """Close the pending upgrades of these tickets that are no longer valid (refunded or
    voided) and give their held unit of the target type back to sale at once, instead of
    when the hold would have run out; the number closed. A payment that still arrives for one
    is recorded for staff to refund, as for any upgrade paid for an invalid ticket.

    Called once the void has committed (domains/upgrades/apps.py, `after_tickets_changed`).
    An upgrade someone holds locked (being applied or refunded) is skipped rather than waited
    for: its apply finds the ticket invalid and closes it itself."""
    with transaction.atomic():
        pending = list(
            Upgrade.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(ticket_id__in=ticket_ids, status=Upgrade.Status.PENDING)
            .exclude(ticket__status=Ticket.Status.VALID)
            .order_by("to_type_id", "pk")  # the target types' counters by id: the lock order
        )
        for up in pending:
            _close(up, Upgrade.Status.EXPIRED, "ticket no longer valid")
        return len(pending)


def _target(ticket: Ticket, to_type_public_id: uuid.UUID) -> TicketType:
    to_type = TicketType.objects.filter(public_id=to_type_public_id).first()
    if to_type is None:
        raise DomainError(TicketErrorCode.TICKET_TYPE_NOT_FOUND, "Unknown ticket type.", "toTicketTypeId")
    if to_type.festival_id != ticket.ticket_type.festival_id:
        raise DomainError(E.UPGRADE_OTHER_FESTIVAL, "Upgrades stay within the ticket's festival.", "toTicketTypeId")
    if to_type.tier_rank <= ticket.ticket_type.tier_rank:
        raise DomainError(E.UPGRADE_NOT_HIGHER_TIER, "Choose a higher tier than the ticket has.", "toTicketTypeId")
    if not to_type.is_active:
        raise DomainError(TicketErrorCode.NOT_ON_SALE, f"{to_type.name} is not available.", "toTicketTypeId")
    return to_type


def _open(*, ticket_filter: dict, to_type_public_id: uuid.UUID, requested_by, processed_by=None, reason: str = "", charge: bool = True) -> tuple[Upgrade, bool]:
    """Lock the ticket, validate, and return the pending upgrade (new: True) holding one unit."""
    from domains.transfers.errors import TransferErrorCode
    from domains.transfers.models import Transfer

    at = now()
    with transaction.atomic():
        _lock_pending_upgrade(ticket_filter)  # before the ticket: the one lock order
        ticket = ticket_lock(**ticket_filter)
        if ticket is None:
            raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "Ticket not found.", "ticketId")
        if ticket.status != Ticket.Status.VALID:
            raise DomainError(TicketErrorCode.TICKET_NOT_VALID, f"This ticket is {ticket.status}.", "ticketId")
        to_type = _target(ticket, to_type_public_id)
        if Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING, expires_at__gt=at).exists():
            raise DomainError(TransferErrorCode.TRANSFER_ALREADY_PENDING, "Cancel the pending transfer first.", "ticketId")
        # Locked already by `_lock_pending_upgrade` (a pending upgrade opened since then was
        # opened under the ticket lock we now hold, by a transaction that has committed).
        existing = Upgrade.objects.select_for_update(of=("self",)).filter(ticket=ticket, status=Upgrade.Status.PENDING).first()
        if existing is not None and existing.expires_at <= at and not existing.payment_intent_id:
            _close(existing, Upgrade.Status.EXPIRED, "hold expired")
            existing = None
        if existing is not None:
            if existing.to_type_id == to_type.pk and charge:
                return existing, False  # a retry: same upgrade, same PaymentIntent
            raise DomainError(E.UPGRADE_ALREADY_PENDING, "Another upgrade of this ticket is pending.", "ticketId")
        amount = max(0, to_type.price_amount - ticket.ticket_type.price_amount) if charge else 0
        if amount == 0:
            # The caller applies it in this same transaction (nothing to pay): both types are
            # locked now, in id order as `upgrade_apply` takes them, before `reserve` holds the
            # new type's row (else the apply's lock of the old type came second, against the one
            # lock order: a deadlock with a checkout of both types).
            list(TicketType.objects.select_for_update().filter(pk__in=sorted({ticket.ticket_type_id, to_type.pk}))
                 .order_by("pk").values_list("pk", flat=True))
        if not inventory.reserve(to_type.pk, 1):
            raise DomainError(TicketErrorCode.SOLD_OUT, f"No {to_type.name} tickets left.", "toTicketTypeId")
        try:
            with transaction.atomic():
                up = Upgrade.objects.create(
                    ticket=ticket,
                    from_type=ticket.ticket_type,
                    to_type=to_type,
                    requested_by=requested_by,
                    processed_by=processed_by,
                    reason=reason[:300],
                    amount=amount,
                    currency=to_type.currency,
                    holds_capacity=True,
                    expires_at=at + order_conf.hold_ttl(),
                )
        except IntegrityError:
            raise DomainError(E.UPGRADE_ALREADY_PENDING, "Another upgrade of this ticket is pending.", "ticketId") from None
        audit_record(
            action="upgrade.requested" if processed_by is None else "upgrade.processed",
            actor=processed_by or requested_by,
            ticket=ticket,
            reason=reason,
            data={"upgrade_id": str(up.public_id), "from": ticket.ticket_type.name, "to": to_type.name, "amount": amount, "charge": charge},
        )
    return up, True


def _ensure_payment_intent(up: Upgrade) -> PaymentIntentInfo:
    """The upgrade's one PaymentIntent (see domains/payments/gateway.py for why under the lock)."""
    gateway = payment_gateway.get_gateway()
    with transaction.atomic():
        up = _lock_upgrade(up.pk)
        if up.payment_intent_id:
            return gateway.retrieve_payment_intent(up.payment_intent_id)
        pi = gateway.create_payment_intent(
            amount=up.amount,
            currency=up.currency,
            idempotency_key=idempotency_key("upgrade", up.public_id),
            metadata={"upgrade_id": str(up.public_id), "ticket_id": str(up.ticket.public_id)},
        )
        up.payment_intent_id = pi.id
        up.save(update_fields=["payment_intent_id"])
    return pi


def _with_payment(up: Upgrade, new: bool) -> UpgradeResult:
    """A pending upgrade with something to pay: its PaymentIntent (free ones were applied where
    they were opened)."""
    try:
        pi = _ensure_payment_intent(up)
    except PaymentGatewayError as exc:
        if new:
            with transaction.atomic():
                locked = _lock_upgrade(up.pk)
                if locked.status == Upgrade.Status.PENDING and not locked.payment_intent_id:
                    _close(locked, Upgrade.Status.FAILED, f"payment intent not created: {exc.code}")
        raise DomainError(
            OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Payments are unavailable right now; please try again.", retry_after=5
        ) from exc
    if pi.status == "succeeded":
        upgrade_apply(upgrade_id=up.pk, payment=pi, source="confirm")
    up.refresh_from_db()
    return UpgradeResult(upgrade=up, client_secret=pi.client_secret if up.status == Upgrade.Status.PENDING else None)


def upgrade_request(*, user, ticket_public_id: uuid.UUID, to_type_public_id: uuid.UUID) -> UpgradeResult:
    """The holder asks to move a ticket up a tier; returns the client secret to pay with.

    Asking again for the same target returns the same pending upgrade and PaymentIntent.
    Errors: TICKET_NOT_FOUND, TICKET_NOT_VALID, TICKET_TYPE_NOT_FOUND, UPGRADE_OTHER_FESTIVAL,
    UPGRADE_NOT_HIGHER_TIER, NOT_ON_SALE, SOLD_OUT, UPGRADE_ALREADY_PENDING,
    TRANSFER_ALREADY_PENDING, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    # One transaction when there is nothing to pay: a failed apply leaves nothing behind (it had
    # left a pending upgrade holding a unit, and the retry was refused UPGRADE_ALREADY_PENDING).
    with transaction.atomic():
        up, new = _open(ticket_filter={"public_id": ticket_public_id, "holder": user}, to_type_public_id=to_type_public_id,
                        requested_by=user)
        if up.amount == 0:
            return UpgradeResult(upgrade=upgrade_apply(upgrade_id=up.pk, payment=None, source="free").upgrade)
    return _with_payment(up, new)


def upgrade_process(*, staff, ticket_public_id: uuid.UUID, to_type_public_id: uuid.UUID, charge: bool, reason: str) -> UpgradeResult:
    """Staff upgrade any ticket: without charge it applies at once; with charge it opens the
    same pending upgrade the holder would (they pay it through requestUpgrade / myUpgrades).

    Errors: UPGRADE_REASON_REQUIRED and those of `upgrade_request`.
    """
    if not (reason or "").strip():
        raise DomainError(E.UPGRADE_REASON_REQUIRED, "Say why (kept in the audit trail).", "reason")
    with transaction.atomic():  # as in `upgrade_request`: opened and applied together when free
        up, new = _open(
            ticket_filter={"public_id": ticket_public_id},
            to_type_public_id=to_type_public_id,
            requested_by=staff,
            processed_by=staff,
            reason=reason.strip(),
            charge=charge,
        )
        if up.amount == 0:  # not charged, or nothing to pay
            return UpgradeResult(upgrade=upgrade_apply(upgrade_id=up.pk, payment=None, source="staff", actor=staff).upgrade)
    return _with_payment(up, new)


def upgrade_confirm(*, user, upgrade_public_id: uuid.UUID) -> Upgrade:
    """Ask Stripe how the upgrade's payment stands; apply it when it succeeded.

    Errors: UPGRADE_NOT_FOUND, UPGRADE_NOT_PENDING, UPGRADE_PAYMENT_NOT_COMPLETED, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    up = Upgrade.objects.filter(public_id=upgrade_public_id, ticket__holder=user).first()
    if up is None:
        raise DomainError(E.UPGRADE_NOT_FOUND, "Upgrade not found.", "upgradeId")
    if up.status == Upgrade.Status.COMPLETED:
        return up
    if not up.payment_intent_id:
        raise DomainError(E.UPGRADE_NOT_PENDING, f"This upgrade is {up.status}.", "upgradeId")
    try:
        pi = payment_gateway.get_gateway().retrieve_payment_intent(up.payment_intent_id)
    except PaymentGatewayError as exc:
        raise DomainError(OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Could not reach the payment provider.", retry_after=5) from exc
    if pi.status != "succeeded":
        raise DomainError(E.UPGRADE_PAYMENT_NOT_COMPLETED, f"The payment is not complete ({pi.status}).", "upgradeId")
    result = upgrade_apply(upgrade_id=up.pk, payment=pi, source="confirm")
    if result.upgrade.status != Upgrade.Status.COMPLETED:
        raise DomainError(E.UPGRADE_NOT_PENDING, "The upgrade could not be applied; staff will refund the difference.", "upgradeId")
    return result.upgrade


def upgrade_apply(*, upgrade_id: int, payment: PaymentIntentInfo | None, source: str, actor=None) -> ApplyResult:
    """Apply an upgrade once (any number of calls from any path): change the ticket's type,
    move the capacity, bump the secret. `payment` None: nothing to pay (free or staff)."""
    with transaction.atomic():
        up = _lock_upgrade(upgrade_id)
        if up.status == Upgrade.Status.COMPLETED:
            return ApplyResult(up, False, "already_applied")
        if payment is not None:
            if payment.id != up.payment_intent_id:
                return ApplyResult(up, False, "foreign_payment")
            if payment.amount != up.amount or payment.currency.upper() != up.currency.upper():
                _close(up, Upgrade.Status.NEEDS_ATTENTION, "amount mismatch")
                return ApplyResult(up, False, "amount_mismatch")
        elif up.amount != 0:
            return ApplyResult(up, False, "payment_required")
        if up.status not in (Upgrade.Status.PENDING, Upgrade.Status.EXPIRED, Upgrade.Status.FAILED):
            return ApplyResult(up, False, "not_pending")
        ticket = ticket_lock(pk=up.ticket_id)
        if ticket.status != Ticket.Status.VALID or ticket.ticket_type_id != up.from_type_id:
            _close(up, Upgrade.Status.NEEDS_ATTENTION, "paid, but the ticket is no longer valid for it")
            log.warning("upgrade paid for a ticket that changed", extra={"upgrade": str(up.public_id)})
            return ApplyResult(up, False, "ticket_not_valid")
        for type_id in sorted((up.from_type_id, up.to_type_id)):
            if type_id == up.to_type_id:
                if up.holds_capacity:
                    inventory.convert(type_id, 1)
                elif not inventory.take(type_id, 1):
                    _close(up, Upgrade.Status.NEEDS_ATTENTION, "paid after the hold expired; sold out")
                    return ApplyResult(up, False, "no_capacity")
            elif ticket.from_comp_allowance:
                inventory.comp_give_back(type_id, 1)  # a comp's unit returns to its allowance
            else:
                inventory.give_back(type_id, 1)
        up.holds_capacity = False
        previous_version = ticket.secret_version
        # The new tier's unit is a sellable one (held or taken above), whatever the old one was.
        Ticket.objects.filter(pk=ticket.pk).update(ticket_type=up.to_type, from_comp_allowance=False, updated_at=now())
        ticket.from_comp_allowance = False
        ticket.ticket_type = up.to_type
        ticket_bump_secret(ticket=ticket)
        up.status = Upgrade.Status.COMPLETED
        up.completed_at = now()
        up.save(update_fields=["status", "holds_capacity", "completed_at"])
        audit_record(
            action="ticket.type_changed",
            actor=actor,
            ticket=ticket,
            reason=up.reason or "upgrade",
            data={
                "upgrade_id": str(up.public_id),
                "from": up.from_type.name,
                "to": up.to_type.name,
                "amount": up.amount,
                "source": source,
                "secret_version": [previous_version, ticket.secret_version],
            },
        )
        email_enqueue(
            key=f"upgrade-completed:{up.public_id}",
            to_email=ticket.holder.email,
            template="upgrade_completed",
            context={
                "holder_name": ticket.holder.full_name or ticket.holder.email,
                "festival_name": ticket.ticket_type.festival.name,
                "from_name": up.from_type.name,
                "to_name": up.to_type.name,
            },
        )
    return ApplyResult(up, True, "applied")


def upgrade_payment_failed(*, upgrade_id: int, payment: PaymentIntentInfo) -> str:
    """A payment attempt failed: the pending upgrade fails and its held unit returns to sale."""
    with transaction.atomic():
        up = _lock_upgrade(upgrade_id)
        if up.status != Upgrade.Status.PENDING or up.payment_intent_id != payment.id:
            return "ignored"
        _close(up, Upgrade.Status.FAILED, "payment failed")
    return "failed"


def upgrades_release_expired(*, limit: int = 500) -> int:
    """Return the held units of pending upgrades whose hold ran out (a payment arriving later
    still applies if a unit is free). Rows locked by someone else are skipped."""
    at = now()
    ids = list(Upgrade.objects.filter(status=Upgrade.Status.PENDING, expires_at__lte=at).values_list("pk", flat=True)[:limit])
    done = 0
    for pk in ids:
        with transaction.atomic():
            up = Upgrade.objects.select_for_update(skip_locked=True).filter(pk=pk, status=Upgrade.Status.PENDING).first()
            if up is None:
                continue
            _close(up, Upgrade.Status.EXPIRED, "hold expired")
            done += 1
    return done
