from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from domains.common.signing import sign_download
from domains.tickets import selectors
from domains.tickets.documents import ticket_document_ref
from domains.tickets.models import Ticket, TicketType
from schema.tickets.downloads import download_url

TicketStatus = strawberry.enum(Enum("TicketStatus", {s.name: s.value for s in Ticket.Status}), description="valid, void or refunded.")


@strawberry.enum(description="Image format of a QR code.")
class QrFormat(Enum):
    SVG = "svg"
    PNG = "png"


@strawberry.type(description="An amount in integer minor units (cents) of an ISO 4217 currency.")
class Money:
    amount: int
    currency: str


@strawberry.type(name="TicketType")
class TicketTypeGql:
    id: uuid.UUID
    name: str
    description: str
    tier_rank: int = strawberry.field(description="Higher is better; upgrades go up.")
    price: Money
    capacity: int
    available: int = strawberry.field(description="Capacity minus sold minus live checkout holds.")
    per_order_limit: int
    sale_starts_at: dt.datetime | None
    sale_ends_at: dt.datetime | None
    valid_on: dt.date | None = strawberry.field(description="The festival day it is valid for; null for a full pass.")
    is_full_pass: bool
    on_sale: bool
    sold_out: bool

    @classmethod
    def from_model(cls, t: TicketType) -> TicketTypeGql:
        available = selectors.available_of(t)
        return cls(
            id=t.public_id,
            name=t.name,
            description=t.description,
            tier_rank=t.tier_rank,
            price=Money(amount=t.price_amount, currency=t.currency),
            capacity=t.capacity,
            available=available,
            per_order_limit=t.per_order_limit,
            sale_starts_at=t.sale_starts_at,
            sale_ends_at=t.sale_ends_at,
            valid_on=t.valid_on,
            is_full_pass=t.valid_on is None,
            on_sale=selectors.is_on_sale(t),
            sold_out=available == 0,
        )


@strawberry.type(name="Ticket")
class TicketGql:
    id: uuid.UUID
    status: TicketStatus
    ticket_type: TicketTypeGql
    festival_name: str
    holder_name: str
    holder_email: str
    order_id: uuid.UUID | None = strawberry.field(
        description="The order this ticket came to you in; null for a ticket someone transferred to you (the order is theirs)."
    )
    order_number: str | None = strawberry.field(description="That order's number; null as orderId is.")
    issued_at: dt.datetime
    valid_on: dt.date | None
    pdf_url: str | None = strawberry.field(description="Signed, expiring link to this ticket's PDF (valid tickets only).")

    @classmethod
    def from_model(cls, t: Ticket) -> TicketGql:
        order = t.order_for_holder()
        return cls(
            id=t.public_id,
            status=TicketStatus(t.status),
            ticket_type=TicketTypeGql.from_model(t.ticket_type),
            festival_name=t.ticket_type.festival.name,
            holder_name=t.holder.full_name,
            holder_email=t.holder.email,
            order_id=order.public_id if order else None,
            order_number=order.number if order else None,
            issued_at=t.issued_at,
            valid_on=t.ticket_type.valid_on,
            pdf_url=download_url(sign_download("ticket", ticket_document_ref(t)))
            if t.status == Ticket.Status.VALID
            else None,
        )


@strawberry.type
class TicketQr:
    ticket_id: uuid.UUID
    format: QrFormat
    payload: str = strawberry.field(description="The signed code the image encodes (FT1....).")
    mime_type: str
    data: str = strawberry.field(description="SVG markup, or the PNG as base64.")
    data_url: str
