"""Complimentary tickets issued by staff.

A comp is an ordinary order with a zero price, so every other flow (myOrders, the staff
desk, refunds-as-cancellation, transfers, resends, PDFs) works unchanged. The issuing staff
member and their note are kept in the order's status history and the audit trail.

Which pool a comp draws from:
* the ticket type has a `comp_allowance`: comps come from it (`inventory.comp_take`, a
  conditional UPDATE, so concurrent staff can never issue more than the allowance) and do
  not consume sellable capacity; when it runs out the answer is COMP_ALLOWANCE_EXHAUSTED,
  never a silent fallback to capacity (the allowance is a budget someone set on purpose);
* no allowance (null): comps count against capacity (`inventory.take`, like a sale), SOLD_OUT
  when there is not enough left.

A recipient without an account gets one (attendee, no usable password): they set a password
with the reset flow, using the address the tickets were sent to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from domains.accounts.models import User, normalize_email
from domains.audit.services import audit_record
from domains.common.clock import now
from domains.common.email import is_valid_email
from domains.common.errors import CommonErrorCode, DomainError
from domains.notifications.services import email_enqueue
from domains.orders.models import Order, OrderLine, OrderStatusChange
from domains.orders.services import holds_release_expired
from domains.orders.staff_errors import StaffOrderErrorCode as E
from domains.tickets import inventory
from domains.tickets.errors import TicketErrorCode
from domains.tickets.models import Ticket, TicketType
from domains.tickets.services import tickets_issue

MAX_COMPS_PER_CALL = 50


@dataclass
class CompResult:
    order: Order
    tickets: list[Ticket]
    created_account: bool
    # Comps left in the type's allowance after this issue; None: the type has no allowance.
    comp_allowance_left: int | None = None


def _recipient(address: str) -> tuple[User, bool]:
    """The account of `address`, created (attendee, no usable password) when there is none.
    Two staff comping the same new guest at once: the loser of the unique constraint uses the
    winner's account instead of failing."""
    user = User.objects.filter(email__iexact=address).first()
    if user is not None:
        if user.has_usable_password() and user.email_verified_at is None:
            # Anyone can register any address and log in before verifying it: tickets sent to
            # the address must not land in such an account (a guest's comps in a stranger's).
            # The owner of the inbox verifies it, or takes the account over with a password
            # reset (which verifies it too). Accounts made here have no usable password.
            raise DomainError(
                E.COMP_RECIPIENT_UNVERIFIED,
                "This address has an account that has not confirmed its email yet. Ask the guest to "
                "confirm it (or to reset its password), then issue the tickets.",
                "email",
            )
        return user, False
    user = User(email=address, role="attendee")
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        return User.objects.get(email__iexact=address), False
    return user, True


def comp_issue(*, staff, email: str, ticket_type_public_id: uuid.UUID, quantity: int, note: str) -> CompResult:
    """Issue `quantity` free tickets to `email` and email them.

    Errors: INVALID_INPUT (email), COMP_RECIPIENT_UNVERIFIED, REASON_REQUIRED (note), COMP_QUANTITY_INVALID,
    TICKET_TYPE_NOT_FOUND, SOLD_OUT (no allowance: capacity exhausted),
    COMP_ALLOWANCE_EXHAUSTED (allowance set: fewer than `quantity` comps left in it).
    """
    address = normalize_email(email)
    if not is_valid_email(address):
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Enter a valid email address.", "email")
    note = (note or "").strip()
    if not note:
        raise DomainError(E.REASON_REQUIRED, "Say why these tickets are complimentary.", "note")
    if not 1 <= quantity <= MAX_COMPS_PER_CALL:
        raise DomainError(E.COMP_QUANTITY_INVALID, f"Between 1 and {MAX_COMPS_PER_CALL} tickets at a time.", "quantity")
    tt = TicketType.objects.select_related("festival").filter(public_id=ticket_type_public_id).first()
    if tt is None:
        raise DomainError(TicketErrorCode.TICKET_TYPE_NOT_FOUND, "Unknown ticket type.", "ticketTypeId")
    from_allowance = tt.comp_allowance is not None
    if not from_allowance:
        # Expired checkout holds may still be counted: return this type's to sale first, as a
        # checkout that falls short does (a comp would otherwise be SOLD_OUT until the periodic
        # job ran). Done before our transaction, with nothing of ours held (the lock order).
        holds_release_expired(ticket_type_id=tt.pk)
    with transaction.atomic():
        user, created = _recipient(address)
        if from_allowance:
            if not inventory.comp_take(tt.pk, quantity):
                raise DomainError(E.COMP_ALLOWANCE_EXHAUSTED, f"Not enough {tt.name} comps left in its allowance.", "quantity")
        elif not inventory.take(tt.pk, quantity):
            raise DomainError(TicketErrorCode.SOLD_OUT, f"Not enough {tt.name} tickets left.", "quantity")
        at = now()
        order = Order.objects.create(
            buyer=user,
            festival=tt.festival,
            status=Order.Status.PAID,
            currency=tt.currency,
            total_amount=0,
            tax_amount=0,
            expires_at=at,
            paid_at=at,
            fulfilled_at=at,
        )
        line = OrderLine.objects.create(order=order, ticket_type=tt, quantity=quantity, unit_price=0, currency=tt.currency)
        OrderStatusChange.objects.create(order=order, from_status="", to_status=Order.Status.PAID, source="comp", note=note[:300], actor=staff)
        allowance_left = None
        if from_allowance:
            counts = TicketType.objects.filter(pk=tt.pk).values("comp_allowance", "comp_issued_count").get()
            allowance_left = counts["comp_allowance"] - counts["comp_issued_count"]
        tickets = tickets_issue(ticket_type=tt, holder=user, quantity=quantity, order_line=line, from_comp_allowance=from_allowance)
        audit_record(
            action="comp.issued",
            actor=staff,
            order=order,
            reason=note,
            data={
                "email": address,
                "ticket_type": tt.name,
                "quantity": quantity,
                "created_account": created,
                "pool": "comp_allowance" if from_allowance else "capacity",
            },
        )
        email_enqueue(
            key=f"comp-tickets:{order.public_id}",
            to_email=address,
            template="comp_tickets",
            context={
                "festival_name": tt.festival.name,
                "ticket_type_name": tt.name,
                "quantity": quantity,
                "order_number": order.number,
                "order_id": str(order.public_id),
                "created_account": created,
            },
            attachments=[{"kind": "ticket_pdfs", "id": str(order.public_id)}],
        )
    return CompResult(order=order, tickets=tickets, created_account=created, comp_allowance_left=allowance_left)
