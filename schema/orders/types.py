from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from domains.common.signing import sign_download
from domains.orders import selectors
from domains.orders.models import Order, Payment, Refund
from schema.errors import Error
from schema.tickets.downloads import download_url
from schema.tickets.types import Money, TicketGql, TicketTypeGql

OrderStatus = strawberry.enum(Enum("OrderStatus", {s.name: s.value for s in Order.Status}))
PaymentStatus = strawberry.enum(Enum("PaymentStatus", {s.name: s.value for s in Payment.Status}))
RefundStatus = strawberry.enum(Enum("RefundStatus", {s.name: s.value for s in Refund.Status}))


@strawberry.input
class CheckoutLineInput:
    ticket_type_id: uuid.UUID
    quantity: int = 1


@strawberry.type(name="OrderLine")
class OrderLineGql:
    ticket_type: TicketTypeGql
    quantity: int
    unit_price: Money
    total: Money


@strawberry.type(name="Payment")
class PaymentGql:
    id: uuid.UUID
    status: PaymentStatus
    amount: Money
    failure_code: str
    created_at: dt.datetime


@strawberry.type(name="Refund")
class RefundGql:
    id: uuid.UUID
    status: RefundStatus
    amount: Money
    reason: str
    created_at: dt.datetime


@strawberry.type(name="OrderStatusChange")
class OrderStatusChangeGql:
    from_status: str
    to_status: str
    source: str
    note: str
    at: dt.datetime


@strawberry.type(name="Order")
class OrderGql:
    id: uuid.UUID
    number: str
    status: OrderStatus
    total: Money
    tax: Money
    refunded: Money
    created_at: dt.datetime
    expires_at: dt.datetime = strawberry.field(description="A pending order's tickets are held until then.")
    paid_at: dt.datetime | None
    festival_name: str
    lines: list[OrderLineGql]
    payments: list[PaymentGql]
    refunds: list[RefundGql]
    tickets: list[TicketGql] = strawberry.field(
        description="The order's tickets the buyer still holds: one transferred away is its new holder's."
    )
    status_history: list[OrderStatusChangeGql]
    invoice_number: str | None
    invoice_url: str | None = strawberry.field(description="Signed, expiring link to the invoice PDF (paid orders).")
    tickets_pdf_url: str | None = strawberry.field(description="Signed, expiring link to all valid tickets as one PDF.")

    @classmethod
    def from_model(cls, o: Order) -> OrderGql:
        cur = o.currency
        paid = o.fulfilled_at is not None
        tickets = selectors.order_tickets_of_buyer(o)
        for t in tickets:  # already loaded: avoid per-ticket queries
            t.holder = o.buyer
            t.ticket_type.festival = o.festival
            t.order_line = next(line for line in o.lines.all() if line.pk == t.order_line_id)
            t.order_line.order = o
        return cls(
            id=o.public_id,
            number=o.number,
            status=OrderStatus(o.status),
            total=Money(amount=o.total_amount, currency=cur),
            tax=Money(amount=o.tax_amount, currency=cur),
            refunded=Money(amount=o.refunded_amount, currency=cur),
            created_at=o.created_at,
            expires_at=o.expires_at,
            paid_at=o.paid_at,
            festival_name=o.festival.name,
            lines=[
                OrderLineGql(
                    ticket_type=TicketTypeGql.from_model(line.ticket_type),
                    quantity=line.quantity,
                    unit_price=Money(amount=line.unit_price, currency=line.currency),
                    total=Money(amount=line.total, currency=line.currency),
                )
                for line in o.lines.all()
            ],
            payments=[
                PaymentGql(id=p.public_id, status=PaymentStatus(p.status), amount=Money(amount=p.amount, currency=p.currency), failure_code=p.failure_code, created_at=p.created_at)
                for p in o.payments.all()
            ],
            refunds=[
                RefundGql(id=r.public_id, status=RefundStatus(r.status), amount=Money(amount=r.amount, currency=r.currency), reason=r.reason, created_at=r.created_at)
                for r in o.refunds.all()
            ],
            tickets=[TicketGql.from_model(t) for t in tickets],
            status_history=[
                OrderStatusChangeGql(from_status=h.from_status, to_status=h.to_status, source=h.source, note=h.note, at=h.created_at)
                for h in o.status_history.all()
            ],
            invoice_number=o.invoice_label,
            invoice_url=download_url(sign_download("invoice", str(o.public_id))) if o.invoice_number else None,
            tickets_pdf_url=download_url(sign_download("tickets", str(o.public_id))) if paid else None,
        )


@strawberry.type
class CreateCheckoutPayload:
    order: OrderGql | None = None
    client_secret: str | None = strawberry.field(default=None, description="Stripe PaymentIntent client secret.")
    payment_intent_id: str | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ConfirmCheckoutPayload:
    order: OrderGql | None = None
    payment_status: str | None = strawberry.field(default=None, description="Stripe's PaymentIntent status.")
    errors: list[Error] = strawberry.field(default_factory=list)
