from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from domains.orders.models import Dispute, Order
from domains.transfers.models import Transfer
from domains.upgrades.models import Upgrade
from schema.errors import Error
from schema.orders.types import OrderGql, OrderStatus
from schema.tickets.types import Money, TicketStatus

TransferStatus = strawberry.enum(Enum("TransferStatus", {s.name: s.value for s in Transfer.Status}))
UpgradeStatus = strawberry.enum(Enum("UpgradeStatus", {s.name: s.value for s in Upgrade.Status}))
DisputeStatus = strawberry.enum(
    Enum("DisputeStatus", {s.name: s.value for s in Dispute.Status}),
    description="Stripe's dispute status. WARNING_*: an inquiry (no money withdrawn yet); closed: WARNING_CLOSED, WON, LOST, PREVENTED.",
)


@strawberry.enum(description="Sort order of staffOrders.")
class StaffOrderSort(Enum):
    CREATED_DESC = "CREATED_DESC"
    CREATED_ASC = "CREATED_ASC"


@strawberry.enum(description="Which orders staffOrders lists by their disputes.")
class StaffDisputeFilter(Enum):
    OPEN = "OPEN"  # with a dispute still open: evidence may be due
    ANY = "ANY"  # with a dispute, open or closed


@strawberry.enum(description="Which side of a transfer the viewer is on.")
class TransferDirection(Enum):
    SENT = "sent"
    RECEIVED = "received"


@strawberry.type(name="Transfer")
class TransferGql:
    id: uuid.UUID
    ticket_id: uuid.UUID
    ticket_type_name: str
    festival_name: str
    direction: TransferDirection
    status: TransferStatus = strawberry.field(description="pending, accepted, cancelled or expired.")
    from_name: str
    to_email: str
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    cancelled_at: dt.datetime | None

    @classmethod
    def from_model(cls, t: Transfer, viewer) -> TransferGql:
        status = t.status
        if status == Transfer.Status.PENDING and t.expires_at <= dt.datetime.now(dt.UTC):
            status = Transfer.Status.EXPIRED
        return cls(
            id=t.public_id,
            ticket_id=t.ticket.public_id,
            ticket_type_name=t.ticket.ticket_type.name,
            festival_name=t.ticket.ticket_type.festival.name,
            direction=TransferDirection.SENT if t.from_user_id == viewer.pk else TransferDirection.RECEIVED,
            status=TransferStatus(status),
            from_name=t.from_user.full_name or t.from_user.email,
            to_email=t.to_email,
            created_at=t.created_at,
            expires_at=t.expires_at,
            accepted_at=t.accepted_at,
            cancelled_at=t.cancelled_at,
        )


@strawberry.type(name="Upgrade")
class UpgradeGql:
    id: uuid.UUID
    ticket_id: uuid.UUID
    from_ticket_type_name: str
    to_ticket_type_name: str
    status: UpgradeStatus
    amount: Money = strawberry.field(description="The price difference to pay (0: none).")
    payment_intent_id: str | None
    reason: str
    created_at: dt.datetime
    expires_at: dt.datetime = strawberry.field(description="The target ticket is held until then while paying.")
    completed_at: dt.datetime | None
    refunded: Money = strawberry.field(description="Refunded of the payment at Stripe (0: none).")
    refund_needs_review: bool = strawberry.field(
        description="A refund arrived; the ticket kept its new tier until staff decide (then they clear this)."
    )

    @classmethod
    def from_model(cls, u: Upgrade) -> UpgradeGql:
        return cls(
            id=u.public_id,
            ticket_id=u.ticket.public_id,
            from_ticket_type_name=u.from_type.name,
            to_ticket_type_name=u.to_type.name,
            status=UpgradeStatus(u.status),
            amount=Money(amount=u.amount, currency=u.currency),
            payment_intent_id=u.payment_intent_id,
            reason=u.reason,
            created_at=u.created_at,
            expires_at=u.expires_at,
            completed_at=u.completed_at,
            refunded=Money(amount=u.refunded_amount, currency=u.currency),
            refund_needs_review=u.refund_needs_review,
        )


@strawberry.type(
    name="Dispute",
    description="A Stripe dispute (chargeback or inquiry) of the order's payment or of an upgrade's. The tickets stay valid "
    "while it is open; lost, the amount is booked as refunded and the order's tickets are voided (an upgrade's: nothing changes, staff decide).",
)
class DisputeGql:
    id: uuid.UUID
    stripe_dispute_id: str
    status: DisputeStatus
    is_open: bool
    amount: Money
    reason: str = strawberry.field(description="Stripe's reason code: fraudulent, product_not_received, duplicate, general, ...")
    evidence_due_by: dt.datetime | None = strawberry.field(description="Submit evidence in Stripe's dashboard before this.")
    opened_at: dt.datetime | None = strawberry.field(description="When the cardholder's bank opened it (Stripe).")
    closed_at: dt.datetime | None = strawberry.field(description="When we learnt that it closed.")
    upgrade_id: uuid.UUID | None = strawberry.field(description="Set when the disputed payment was an upgrade's price difference.")

    @classmethod
    def from_model(cls, d: Dispute) -> DisputeGql:
        return cls(
            id=d.public_id,
            stripe_dispute_id=d.stripe_dispute_id,
            status=DisputeStatus(d.status),
            is_open=d.is_open,
            amount=Money(amount=d.amount, currency=d.currency),
            reason=d.reason,
            evidence_due_by=d.evidence_due_by,
            opened_at=d.opened_at,
            closed_at=d.closed_at,
            upgrade_id=d.upgrade.public_id if d.upgrade_id else None,
        )


@strawberry.type(name="AuditEntry")
class AuditEntryGql:
    at: dt.datetime
    action: str = strawberry.field(description="e.g. order.refunded, ticket.holder_changed, transfer.created, comp.issued.")
    actor_email: str | None = strawberry.field(description="Null: the system (webhook, job).")
    ticket_id: uuid.UUID | None
    reason: str
    data: strawberry.scalars.JSON


@strawberry.type(name="StaffTicket")
class StaffTicketGql:
    id: uuid.UUID
    status: TicketStatus
    ticket_type_name: str
    holder_email: str
    holder_name: str
    secret_version: int = strawberry.field(description="Bumped on every re-issue; older QR codes are refused.")
    void_reason: str
    voided_at: dt.datetime | None


@strawberry.type(name="StaffOrderRow", description="One line of the staff order list.")
class StaffOrderRowGql:
    id: uuid.UUID
    number: str
    status: OrderStatus
    buyer_email: str
    buyer_name: str
    festival_name: str
    total: Money
    refunded: Money
    ticket_count: int
    created_at: dt.datetime

    @classmethod
    def from_model(cls, o: Order) -> StaffOrderRowGql:
        return cls(
            id=o.public_id,
            number=o.number,
            status=OrderStatus(o.status),
            buyer_email=o.buyer.email,
            buyer_name=o.buyer.full_name,
            festival_name=o.festival.name,
            total=Money(amount=o.total_amount, currency=o.currency),
            refunded=Money(amount=o.refunded_amount, currency=o.currency),
            ticket_count=getattr(o, "ticket_count", 0),
            created_at=o.created_at,
        )


@strawberry.type(name="StaffOrder", description="An order as the staff desk sees it, with its full history.")
class StaffOrderGql:
    order: OrderGql
    buyer_email: str
    buyer_name: str
    tickets: list[StaffTicketGql] = strawberry.field(description="With their current holders.")
    transfers: list[TransferGql]
    upgrades: list[UpgradeGql]
    disputes: list[DisputeGql] = strawberry.field(description="Stripe disputes of its payments and of its tickets' upgrades, oldest first.")
    history: list[AuditEntryGql] = strawberry.field(description="Every staff action and ticket change, oldest first.")


@strawberry.input
class StaffOrderFilterInput:
    search: str | None = strawberry.field(default=None, description="Email, name (or part), order number, order or ticket id.")
    status: OrderStatus | None = None
    ticket_type_id: uuid.UUID | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = strawberry.field(default=None, description="Exclusive.")
    disputed: StaffDisputeFilter | None = strawberry.field(default=None, description="Only orders with a dispute (open, or any).")


@strawberry.type
class TransferPayload:
    transfer: TransferGql | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class UpgradePayload:
    upgrade: UpgradeGql | None = None
    client_secret: str | None = strawberry.field(default=None, description="Pay the difference with this (Stripe); null when nothing is due.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class RefundOrderPayload:
    order: StaffOrderGql | None = None
    refunded: Money | None = None
    voided_ticket_ids: list[uuid.UUID] | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class IssueCompTicketsPayload:
    order: StaffOrderGql | None = None
    created_account: bool | None = None
    comp_allowance_left: int | None = strawberry.field(
        default=None,
        description="Comps still available from the ticket type's separate comp allowance; null when it has none (comps count against capacity).",
    )
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ResendPayload:
    queued: bool | None = None
    errors: list[Error] = strawberry.field(default_factory=list)
