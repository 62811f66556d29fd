"""Checkout, fulfilment, failure, expiry and refunds of orders.

Rules
-----
* Every state change of an order happens with the order row locked (`select_for_update`)
  inside one transaction, and is recorded in `OrderStatusChange`. Fulfilment checks
  `fulfilled_at` under that lock, so whichever of the webhook and `confirmCheckout` comes
  first issues the tickets and the other finds the work done: exactly once.
* Capacity is taken with conditional UPDATEs (domains/tickets/inventory.py), ticket types in
  id order, after the order row: one lock order everywhere, so no deadlocks. (A checkout of
  one type on PostgreSQL takes it in the same statement that inserts its new order, which
  nobody else can lock yet.)
* One PaymentIntent per checkout: the idempotency key is derived from the order's public id,
  the PaymentIntent is created while the order row is locked and its id is stored in the same
  transaction (see domains/payments/gateway.py for why localstripe needs the lock).
* Stripe is asked for the truth (`retrieve`) when an event cannot be applied as it stands
  (a refund before the success we have not seen yet).
* Sold-out fast path (`_sold_out_from_catalogue`): once a type is sold out, a checkout for it
  is answered SOLD_OUT from this process's cached public catalogue (one cache GET, no SQL, no
  order, no row lock) as long as that entry is current. It only ever answers SOLD_OUT, and only
  from availability that cannot have grown since: every change that frees tickets bumps the
  catalogue's version after its commit (inventory.py), and the entry ends by itself when the
  next hold expires. Anything else (cache off or down, no entry, tickets shown free) takes the
  normal path, where the conditional UPDATE alone decides.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from domains.common import fixed_sql, readcache
from domains.common.clock import now
from domains.common.errors import DomainError
from domains.events.selectors import PUBLIC_STATUSES
from domains.notifications.services import email_enqueue
from domains.orders import conf
from domains.orders import gateway as payment_gateway
from domains.orders.errors import OrderErrorCode
from domains.orders.models import (
    InventoryHold,
    InvoiceSequence,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    Refund,
)
from domains.payments.gateway import (
    PaymentGatewayError,
    PaymentGatewayUnavailable,
    PaymentIntentInfo,
    idempotency_key,
)
from domains.tickets import inventory
from domains.tickets.errors import TicketErrorCode
from domains.tickets.models import Ticket, TicketType
from domains.tickets.selectors import (
    available_of,
    catalogue_changed,
    catalogue_scope,
    is_on_sale,
    ticket_type_list_public,
)
from domains.tickets.services import tickets_issue, tickets_void

log = logging.getLogger(__name__)

MAX_LINES = 20


@dataclass(frozen=True)
class CheckoutLine:
    ticket_type_id: uuid.UUID
    quantity: int


@dataclass
class CheckoutResult:
    order: Order
    client_secret: str | None
    payment_intent_id: str | None


@dataclass
class FulfilResult:
    """What a fulfilment attempt did: `issued` is True for the one call that issued tickets."""

    order: Order
    issued: bool
    outcome: str  # fulfilled | already_fulfilled | amount_mismatch | foreign_payment | no_capacity | ...


# --------------------------------------------------------------------------- helpers


def _set_status(order: Order, to_status: str, *, source: str, note: str = "", actor=None) -> None:
    if order.status == to_status:
        return
    OrderStatusChange.objects.create(
        order=order, from_status=order.status, to_status=to_status, source=source, note=note[:300], actor=actor
    )
    order.status = to_status


def _lock_order(pk: int, *, related: bool = True) -> Order:
    # of=("self",): lock the order row only. A plain FOR UPDATE with the joins also locked the
    # festival's row (and the buyer's), so every checkout of a festival queued on one row
    # while its PaymentIntent was created, and so did every new order (its INSERT checks the
    # festival foreign key with FOR KEY SHARE, which waits for FOR UPDATE): the on-sale rush
    # ran one Stripe call at a time (pg_blocking_pids during bench/onsale_rush.py).
    # related=False: the order alone, for callers that read only its own columns.
    # Fixed SQL (domains/common/fixed_sql.py): compiling the ORM's query was a fifth of a won
    # checkout's CPU in the rush, and every checkout locks its order.
    # no_key (FOR NO KEY UPDATE): nothing here changes an order's keys, and a FOR UPDATE also
    # blocked every INSERT referring to the order (its foreign key check takes FOR KEY SHARE).
    # A transfer accept or an upgrade holds its ticket's lock and then audits with the ticket's
    # order, while the charge.refunded webhook (order_record_refunds) holds the order and then
    # voids tickets: the two deadlocked (tests/lifecycle/test_refund_races.py).
    found = fixed_sql.fetch(Order, by="id", values=[pk], related=("festival", "buyer") if related else (), lock=True, no_key=True)
    if not found:
        raise Order.DoesNotExist(f"no order {pk}")
    return found[0]


def _release_holds(order: Order) -> None:
    holds = list(order.holds.filter(status=InventoryHold.Status.ACTIVE).order_by("ticket_type_id"))
    for hold in holds:
        inventory.release(hold.ticket_type_id, hold.quantity)
    order.holds.filter(pk__in=[h.pk for h in holds]).update(status=InventoryHold.Status.RELEASED, closed_at=now())


def _checkout_key(order: Order) -> str:
    return idempotency_key("checkout", order.public_id)


# --------------------------------------------------------------------------- checkout


def _parse_lines(lines: list[CheckoutLine]) -> dict[uuid.UUID, tuple[int, int]]:
    """ticket type public id -> (quantity, first input index); duplicates are summed."""
    if not lines:
        raise DomainError(OrderErrorCode.EMPTY_ORDER, "Choose at least one ticket.", "lines")
    if len(lines) > MAX_LINES:
        raise DomainError(OrderErrorCode.INVALID_QUANTITY, f"At most {MAX_LINES} lines per order.", "lines")
    merged: dict[uuid.UUID, tuple[int, int]] = {}
    for index, line in enumerate(lines):
        if line.quantity < 1:
            raise DomainError(OrderErrorCode.INVALID_QUANTITY, "Quantity must be at least 1.", f"lines.{index}.quantity")
        qty, first = merged.get(line.ticket_type_id, (0, index))
        merged[line.ticket_type_id] = (qty + line.quantity, first)
    return merged


# Ticket type public id -> festival id (never changes), learnt from checkouts and the catalogue.
_festival_of_type: dict[uuid.UUID, int] = {}


def _sold_out_from_catalogue(wanted: dict[uuid.UUID, tuple[int, int]]) -> None:
    """Raise SOLD_OUT, as the normal path would, when this process's current cached catalogue
    shows a wanted type with fewer tickets than asked for; otherwise return and let the
    normal path decide (it also gives every other error).

    Why it never refuses a ticket that is free: the entry is used only while its scope version
    is the current one, and every change that frees tickets (release, refund, capacity raised)
    bumps that version after its commit; a hold running out frees its tickets without a write,
    so the entry ends at the next hold expiry (ticket_type_list_public). Availability is the
    same formula the reservation applies: capacity - sold - live holds.
    """
    if not conf.sold_out_fast_path():
        return
    festival_ids = {_festival_of_type.get(public_id) for public_id in wanted}
    if len(festival_ids) != 1 or None in festival_ids:
        return
    festival_id = festival_ids.pop()
    try:
        catalogue = readcache.peek(catalogue_scope(festival_id), "ticket_types")
    except Exception:  # noqa: BLE001 - cache unreachable: the normal path decides
        return
    if catalogue is None:
        return
    by_id = {t.public_id: t for t in catalogue}
    chosen = [by_id.get(public_id) for public_id in wanted]
    at = now()
    if any(
        tt is None or not is_on_sale(tt, at) or wanted[tt.public_id][0] > tt.per_order_limit for tt in chosen
    ) or len({tt.currency for tt in chosen}) != 1:
        return  # the normal path gives the right error (or sells)
    for tt in sorted(chosen, key=lambda t: t.pk):
        qty, index = wanted[tt.public_id]
        if available_of(tt) < qty:
            raise DomainError(TicketErrorCode.SOLD_OUT, f"Not enough {tt.name} tickets left.", f"lines.{index}.quantity")


def _warm_catalogue(festival) -> None:
    """After a SOLD_OUT from the database: load this festival's catalogue into this process's
    cache (once per version), so the next buyers of a sold-out type take the fast path."""
    if not conf.sold_out_fast_path():
        return
    try:
        ticket_type_list_public(festival, exact=True)  # peek() takes only the current version
    except Exception:  # noqa: BLE001 - an optimisation only
        log.warning("catalogue warm-up after SOLD_OUT failed", exc_info=True)


def _insert_select(model, obj, *, source: str, parent: str | None = None) -> tuple[str, list]:
    """``INSERT INTO <model> (...) SELECT <obj's values> FROM <source>``: the row is written once
    per row of `source` (none when source is empty). `parent`: the FK field that takes
    ``<source>.id`` instead of obj's value. Values come from the model fields as save() would
    compute them (defaults, auto_now), typed by casts (character values stay text so a value
    too long fails as it would in a plain INSERT)."""
    sql, fields = _insert_select_plan(model, source, parent, connection.vendor)
    return sql, [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


@lru_cache(maxsize=16)
def _insert_select_plan(model, source: str, parent: str | None, vendor: str) -> tuple[str, tuple]:
    """The SQL of `_insert_select` and the fields whose values it takes, built once (every won
    checkout runs four of them)."""
    columns, values, fields = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name == parent:
            values.append(f"{source}.id")
            continue
        cast = "text" if field.get_internal_type() in ("CharField", "TextField") else field.cast_db_type(connection)
        values.append(f"CAST(%s AS {cast})")
        fields.append(field)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}", tuple(fields)


def _hold_one_statement(*, order: Order, tt: TicketType, qty: int) -> bool:
    """PostgreSQL, one ticket type: take the tickets and write the order, its line, its hold and
    its first status in ONE autocommit statement (data-modifying WITH), the capacity UPDATE
    first and every INSERT conditional on it. The type's row lock lasts as long as the
    statement, no client round trip inside it. True when taken (order.pk set), False when
    sold out (nothing written).

    Lock order: the statement's foreign key checks (KEY SHARE on the festival and the buyer)
    come after the type's row lock; that cannot deadlock while nothing locks a festival or
    user row FOR UPDATE and then changes a ticket type's counters (true today: the user
    erasure locks the user but no counters; `_lock_order` locks the order row alone)."""
    line = OrderLine(ticket_type=tt, quantity=qty, unit_price=tt.price_amount, currency=tt.currency)
    hold = InventoryHold(ticket_type=tt, quantity=qty, expires_at=order.expires_at)
    change = OrderStatusChange(from_status="", to_status=Order.Status.PENDING, source="checkout")
    reserve, params = inventory.reserve_sql(tt.pk, qty)
    order_sql, order_params = _insert_select(Order, order, source="r")
    parts = [f"WITH r AS ({reserve}), o AS ({order_sql} RETURNING id)"]
    params += order_params
    for alias, (model, obj) in zip(("l", "h", "s"), ((OrderLine, line), (InventoryHold, hold), (OrderStatusChange, change)), strict=True):
        sql, more = _insert_select(model, obj, source="o", parent="order")
        parts.append(f", {alias} AS ({sql})")
        params += more
    parts.append(" SELECT id FROM o")
    # Inside a caller's transaction (tests), a savepoint keeps it usable if the statement fails.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        cursor.execute("".join(parts), params)
        row = cursor.fetchone()
    if row is None:
        return False
    order.pk = row[0]
    order._state.adding = False
    order._state.db = connection.alias
    catalogue_changed(festival_id=tt.festival_id)  # what inventory.reserve() announces
    return True


def _hold(*, buyer, festival, chosen: list[TicketType], wanted, total: int, expires_at) -> Order:
    """The pending order, its lines and holds, and the capacity taken (last).

    One ticket type on PostgreSQL: one statement (`_hold_one_statement`). Otherwise (several
    types: all or nothing; SQLite: no data-modifying WITH) one transaction with the counter
    UPDATEs last (`_hold_together`), tried again after expired holds were released."""
    if len(chosen) == 1 and connection.vendor == "postgresql":
        tt = chosen[0]
        qty, index = wanted[tt.public_id]
        order = Order(
            buyer=buyer, festival=festival, currency=tt.currency, total_amount=total,
            tax_amount=conf.included_tax(total), expires_at=expires_at,
        )
        if _hold_one_statement(order=order, tt=tt, qty=qty):
            return order
        # Expired holds may still be counted: return them to sale, then try once more.
        holds_release_expired(ticket_type_id=tt.pk)
        if _hold_one_statement(order=order, tt=tt, qty=qty):
            return order
        raise DomainError(TicketErrorCode.SOLD_OUT, f"Not enough {tt.name} tickets left.", f"lines.{index}.quantity")
    # Expired holds may still be counted: return those of the type that fell short to sale,
    # then try once more. The release runs with none of this checkout's rows taken: it takes
    # the expired order's types in id order, and some may come before a type this attempt had
    # already taken, against the one lock order. Done inside the attempt (it used to be), it
    # deadlocked with a checkout holding such a type and waiting for ours
    # (tests/lifecycle/test_race_matrix.py). One release per type: at most one retry each.
    released: set[int] = set()
    while True:
        order, short = _hold_together(buyer=buyer, festival=festival, chosen=chosen, wanted=wanted, total=total, expires_at=expires_at)
        if short is None:
            return order
        if short.pk in released:
            index = wanted[short.public_id][1]
            raise DomainError(TicketErrorCode.SOLD_OUT, f"Not enough {short.name} tickets left.", f"lines.{index}.quantity")
        holds_release_expired(ticket_type_id=short.pk)
        released.add(short.pk)


def _hold_together(*, buyer, festival, chosen: list[TicketType], wanted, total: int, expires_at) -> tuple[Order | None, TicketType | None]:
    """One attempt of `_hold`'s transaction, all or nothing: (the order, None) when every type
    had enough, else (None, the first type short of tickets) with nothing written and every
    row it had taken let go (the transaction rolled back)."""
    with transaction.atomic():
        order = Order.objects.create(
            buyer=buyer,
            festival=festival,
            currency=chosen[0].currency,
            total_amount=total,
            tax_amount=conf.included_tax(total),
            expires_at=expires_at,
        )
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, ticket_type=tt, quantity=wanted[tt.public_id][0], unit_price=tt.price_amount, currency=tt.currency)
                for tt in sorted(chosen, key=lambda t: t.pk)
            ]
        )
        InventoryHold.objects.bulk_create(
            [
                InventoryHold(order=order, ticket_type=tt, quantity=wanted[tt.public_id][0], expires_at=expires_at)
                for tt in sorted(chosen, key=lambda t: t.pk)
            ]
        )
        OrderStatusChange.objects.create(order=order, from_status="", to_status=Order.Status.PENDING, source="checkout")
        for tt in sorted(chosen, key=lambda t: t.pk):
            if not inventory.reserve(tt.pk, wanted[tt.public_id][0]):
                transaction.set_rollback(True)
                return None, tt
    return order, None


def checkout_create(*, buyer, lines: list[CheckoutLine]) -> CheckoutResult:
    """Validate the lines, hold the tickets, create the order and its PaymentIntent.

    Errors: EMPTY_ORDER, INVALID_QUANTITY, TICKET_TYPE_NOT_FOUND, NOT_ON_SALE,
    ORDER_LIMIT_EXCEEDED, MIXED_ORDER, SOLD_OUT, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    wanted = _parse_lines(lines)
    _sold_out_from_catalogue(wanted)
    types = {t.public_id: t for t in fixed_sql.fetch(TicketType, by="public_id", values=list(wanted), related=("festival",))}
    for public_id, tt in types.items():
        _festival_of_type[public_id] = tt.festival_id
    at = now()
    for public_id, (qty, index) in wanted.items():
        tt = types.get(public_id)
        if tt is None or tt.festival.status not in PUBLIC_STATUSES:  # a draft's types exist for nobody
            raise DomainError(TicketErrorCode.TICKET_TYPE_NOT_FOUND, "Unknown ticket type.", f"lines.{index}.ticketTypeId")
        if not is_on_sale(tt, at):
            raise DomainError(TicketErrorCode.NOT_ON_SALE, f"{tt.name} is not on sale.", f"lines.{index}.ticketTypeId")
        if qty > tt.per_order_limit:
            raise DomainError(
                TicketErrorCode.ORDER_LIMIT_EXCEEDED,
                f"At most {tt.per_order_limit} x {tt.name} per order.",
                f"lines.{index}.quantity",
            )
    chosen = list(types.values())
    if len({t.festival_id for t in chosen}) > 1 or len({t.currency for t in chosen}) > 1:
        raise DomainError(OrderErrorCode.MIXED_ORDER, "One order holds tickets of one festival and currency.", "lines")

    festival = chosen[0].festival
    total = sum(types[pid].price_amount * qty for pid, (qty, _) in wanted.items())
    expires_at = at + conf.hold_ttl()
    # The ticket type's row lock is what every buyer of the type queues on: it is held for one
    # statement (one type, PostgreSQL) or one round trip (the counter UPDATEs last). Sold out
    # writes nothing. The PaymentIntent is created after that commit, outside the lock.
    try:
        order = _hold(buyer=buyer, festival=festival, chosen=chosen, wanted=wanted, total=total, expires_at=expires_at)
    except DomainError as exc:
        if exc.code == TicketErrorCode.SOLD_OUT:
            _warm_catalogue(festival)
        raise
    if total == 0:
        # Free tickets: nothing to pay, fulfil now.
        result = order_fulfil(order_id=order.pk, payment=None, source="checkout")
        return CheckoutResult(order=result.order, client_secret=None, payment_intent_id=None)
    try:
        pi = ensure_payment_intent(order_id=order.pk)
    except PaymentGatewayError as exc:
        # No client secret reached the buyer: give the tickets back now, nothing half-made stays.
        order_abandon(order_id=order.pk, source="checkout", note=f"payment intent not created: {exc.code}")
        raise DomainError(
            OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Payments are unavailable right now; please try again.", retry_after=5
        ) from exc
    order.payment_intent_id = pi.id  # stored by ensure_payment_intent (no re-read)
    return CheckoutResult(order=order, client_secret=pi.client_secret, payment_intent_id=pi.id)


def ensure_payment_intent(*, order_id: int, attempts: int = 2) -> PaymentIntentInfo:
    """The order's PaymentIntent, created at most once (order row locked, key from the order).

    A timeout is retried with the same key: on Stripe the key replays the first answer, on
    localstripe the gateway finds the PaymentIntent by the key in its metadata.
    """
    gateway = payment_gateway.get_gateway()
    with transaction.atomic():
        order = _lock_order(order_id, related=False)  # amount, currency, ids: its own columns
        if order.payment_intent_id:
            return gateway.retrieve_payment_intent(order.payment_intent_id)
        last: PaymentGatewayUnavailable | None = None
        for _ in range(attempts):
            try:
                pi = gateway.create_payment_intent(
                    amount=order.total_amount,
                    currency=order.currency,
                    idempotency_key=_checkout_key(order),
                    metadata={"order_id": str(order.public_id), "order_number": order.number},
                )
                break
            except PaymentGatewayUnavailable as exc:
                last = exc
        else:
            assert last is not None
            raise last
        order.payment_intent_id = pi.id
        # Fixed SQL (domains/common/fixed_sql.py; no save receivers on either model): every won
        # checkout runs these two. One statement for the payment (INSERT ... ON CONFLICT DO
        # NOTHING), not get_or_create's SELECT + savepoint + INSERT: a row for this
        # PaymentIntent already there is left as it is.
        fixed_sql.update(order, ("payment_intent_id", "updated_at"))
        fixed_sql.insert(
            Payment(order=order, provider_payment_id=pi.id, amount=pi.amount, currency=pi.currency.upper()),
            want_pk=False, ignore_conflicts=True,
        )
    return pi


def order_abandon(*, order_id: int, source: str, note: str = "") -> Order:
    """A pending checkout that will not be paid through us: fail it and release its hold."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.status == Order.Status.PENDING:
            _release_holds(order)
            _set_status(order, Order.Status.FAILED, source=source, note=note)
            order.save(update_fields=["status", "updated_at"])
    return order


# --------------------------------------------------------------------------- confirm


@dataclass
class ConfirmResult:
    order: Order
    payment_status: str
    client_secret: str | None


def checkout_confirm(*, buyer, order_public_id: uuid.UUID) -> ConfirmResult:
    """Ask Stripe how the checkout's payment stands; fulfil when it succeeded.

    Errors: ORDER_NOT_FOUND (also for someone else's order), ORDER_EXPIRED, ORDER_NOT_PAYABLE,
    PAYMENT_NOT_COMPLETED, PAYMENT_DECLINED, PAYMENT_PROVIDER_UNAVAILABLE.
    """
    order = Order.objects.filter(public_id=order_public_id, buyer=buyer).first()
    if order is None:
        raise DomainError(OrderErrorCode.ORDER_NOT_FOUND, "Order not found.", "orderId")
    if order.fulfilled_at is not None:
        return ConfirmResult(order=order, payment_status="succeeded", client_secret=None)
    if order.payment_intent_id is None:
        if order.status != Order.Status.PENDING:
            raise DomainError(OrderErrorCode.ORDER_NOT_PAYABLE, f"This order is {order.status}.", "orderId")
        if order.total_amount == 0:
            return ConfirmResult(order=order_fulfil(order_id=order.pk, payment=None, source="confirm").order, payment_status="succeeded", client_secret=None)
    try:
        pi = ensure_payment_intent(order_id=order.pk) if order.payment_intent_id is None else payment_gateway.get_gateway().retrieve_payment_intent(order.payment_intent_id)
    except PaymentGatewayError as exc:
        raise DomainError(
            OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Could not reach the payment provider; please try again.", retry_after=5
        ) from exc
    if pi.status == "succeeded":
        result = order_fulfil(order_id=order.pk, payment=pi, source="confirm")
        if result.order.fulfilled_at is None:
            raise DomainError(
                OrderErrorCode.ORDER_NOT_PAYABLE,
                "Your payment arrived after the order had expired and the tickets were gone; it will be refunded.",
                "orderId",
            )
        return ConfirmResult(order=result.order, payment_status=pi.status, client_secret=None)
    order.refresh_from_db()
    if order.status == Order.Status.EXPIRED or (order.status == Order.Status.PENDING and order.expires_at <= now()):
        raise DomainError(OrderErrorCode.ORDER_EXPIRED, "This checkout expired; please start again.", "orderId")
    if order.status != Order.Status.PENDING:
        raise DomainError(OrderErrorCode.ORDER_NOT_PAYABLE, f"This order is {order.status}.", "orderId")
    if pi.status == "requires_payment_method" and order.payments.filter(status=Payment.Status.FAILED).exists():
        raise DomainError(OrderErrorCode.PAYMENT_DECLINED, "The payment was declined.", "orderId")
    raise DomainError(OrderErrorCode.PAYMENT_NOT_COMPLETED, f"The payment is not complete ({pi.status}).", "orderId")


# --------------------------------------------------------------------------- fulfilment


def _next_invoice_number(festival_id: int) -> int:
    seq, _ = InvoiceSequence.objects.get_or_create(festival_id=festival_id)
    seq = InvoiceSequence.objects.select_for_update().get(pk=seq.pk)
    number = seq.next_number
    InvoiceSequence.objects.filter(pk=seq.pk).update(next_number=F("next_number") + 1)
    return number


def order_fulfil(*, order_id: int, payment: PaymentIntentInfo | None, source: str) -> FulfilResult:
    """Issue the order's tickets once, for a PaymentIntent that succeeded (None: free order).

    Safe to call any number of times from any path: the order row lock serialises callers
    and `fulfilled_at` tells the later ones it is done.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if payment is not None:
            if order.payment_intent_id is None:
                order.payment_intent_id = payment.id  # PaymentIntent created, id lost (timeout): adopt it
                order.save(update_fields=["payment_intent_id", "updated_at"])
            pay_row, _ = Payment.objects.get_or_create(
                provider_payment_id=payment.id,
                defaults={"order": order, "amount": payment.amount, "currency": payment.currency.upper()},
            )
            if pay_row.status != Payment.Status.SUCCEEDED:
                pay_row.status = Payment.Status.SUCCEEDED
                pay_row.charge_id = payment.latest_charge or ""
                pay_row.save(update_fields=["status", "charge_id", "updated_at"])
            if payment.id != order.payment_intent_id:
                log.warning("second payment for an order", extra={"order": str(order.public_id), "pi": payment.id})
                return FulfilResult(order, False, "foreign_payment")
            if payment.amount != order.total_amount or payment.currency.upper() != order.currency.upper():
                log.warning("payment amount does not match order", extra={"order": str(order.public_id), "pi": payment.id})
                if order.status == Order.Status.PENDING:
                    _set_status(order, Order.Status.NEEDS_ATTENTION, source=source, note="amount mismatch")
                    _release_holds(order)
                    order.save(update_fields=["status", "updated_at"])
                return FulfilResult(order, False, "amount_mismatch")
        if order.fulfilled_at is not None:
            return FulfilResult(order, False, "already_fulfilled")
        if order.status not in (Order.Status.PENDING, Order.Status.FAILED, Order.Status.EXPIRED):
            return FulfilResult(order, False, f"not_fulfillable_{order.status}")

        lines = list(order.lines.select_related("ticket_type").order_by("ticket_type_id"))
        holds = {h.ticket_type_id: h for h in order.holds.filter(status=InventoryHold.Status.ACTIVE)}
        late = False
        sid = transaction.savepoint()
        for line in lines:
            hold = holds.get(line.ticket_type_id)
            if hold is not None and hold.quantity == line.quantity:
                inventory.convert(line.ticket_type_id, line.quantity)
            else:
                late = True  # the hold was released (expired / failed): sell again if any left
                if not inventory.take(line.ticket_type_id, line.quantity):
                    transaction.savepoint_rollback(sid)
                    _set_status(order, Order.Status.NEEDS_ATTENTION, source=source, note="paid after the hold was released; sold out")
                    order.paid_at = order.paid_at or now()
                    order.save(update_fields=["status", "paid_at", "updated_at"])
                    log.warning("paid order could not be fulfilled: sold out", extra={"order": str(order.public_id)})
                    return FulfilResult(order, False, "no_capacity")
        transaction.savepoint_commit(sid)
        order.holds.filter(status=InventoryHold.Status.ACTIVE).update(status=InventoryHold.Status.CONVERTED, closed_at=now())
        for line in lines:
            tickets_issue(ticket_type=line.ticket_type, holder=order.buyer, quantity=line.quantity, order_line=line)
        at = now()
        order.paid_at = order.paid_at or at
        order.fulfilled_at = at
        order.invoice_number = _next_invoice_number(order.festival_id)
        order.invoice_issued_at = at
        _set_status(order, Order.Status.PAID, source=source, note="late payment re-sold" if late else "")
        order.save(update_fields=["status", "paid_at", "fulfilled_at", "invoice_number", "invoice_issued_at", "updated_at"])
        email_enqueue(
            key=f"order-confirmation:{order.public_id}",
            to_email=order.buyer.email,
            template="order_confirmation",
            context={
                "order_number": order.number,
                "order_id": str(order.public_id),
                "festival_name": order.festival.name,
                "buyer_name": order.buyer.full_name,
                "lines": [{"name": ln.ticket_type.name, "quantity": ln.quantity} for ln in lines],
                "total": format_money(order.total_amount, order.currency),
            },
            attachments=[{"kind": "ticket_pdfs", "id": str(order.public_id)}, {"kind": "invoice_pdf", "id": str(order.public_id)}],
        )
        transaction.on_commit(lambda: _enqueue_documents(order.pk))
    log.info("order fulfilled", extra={"order": str(order.public_id), "source": source})
    return FulfilResult(order, True, "fulfilled")


def _enqueue_documents(order_id: int) -> None:
    from workers.orders import render_order_documents

    render_order_documents.send(order_id)


def format_money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


# --------------------------------------------------------------------------- failure, expiry


def order_payment_failed(*, order_id: int, payment: PaymentIntentInfo, failure_code: str = "", failure_message: str = "", source: str) -> str:
    """A payment attempt failed: fail the pending order and release its hold.

    A failure that arrives after the order was paid (or for another PaymentIntent) changes
    nothing but the Payment row of that attempt.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        pay_row, _ = Payment.objects.get_or_create(
            provider_payment_id=payment.id,
            defaults={"order": order, "amount": payment.amount, "currency": payment.currency.upper()},
        )
        if pay_row.status == Payment.Status.SUCCEEDED:
            return "ignored_after_success"
        pay_row.status = Payment.Status.FAILED
        pay_row.failure_code = failure_code[:64]
        pay_row.failure_message = failure_message[:300]
        pay_row.save(update_fields=["status", "failure_code", "failure_message", "updated_at"])
        if order.payment_intent_id != payment.id or order.status != Order.Status.PENDING:
            return "ignored"
        _release_holds(order)
        _set_status(order, Order.Status.FAILED, source=source, note=failure_code)
        order.save(update_fields=["status", "updated_at"])
    return "failed"


def holds_release_expired(*, ticket_type_id: int | None = None, limit: int = 500) -> int:
    """Expire pending orders whose hold ran out and return their tickets to sale.

    Orders locked by someone else (being fulfilled right now) are skipped, not waited for.
    """
    at = now()
    qs = Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=at)
    if ticket_type_id is not None:
        qs = qs.filter(holds__ticket_type_id=ticket_type_id, holds__status=InventoryHold.Status.ACTIVE)
    ids = list(qs.order_by("expires_at").values_list("pk", flat=True).distinct()[:limit])
    released = 0
    for pk in ids:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Order.Status.PENDING, expires_at__lte=at)
                .first()
            )
            if order is None:
                continue
            _release_holds(order)
            _set_status(order, Order.Status.EXPIRED, source="expiry")
            order.save(update_fields=["status", "updated_at"])
            released += 1
    if released:
        log.info("expired holds released", extra={"orders": released})
    return released


# --------------------------------------------------------------------------- refunds


@dataclass(frozen=True)
class RefundFact:
    provider_refund_id: str
    amount: int
    currency: str
    ticket_public_ids: tuple[str, ...] = ()
    reason: str = ""
    staff_sequence: int | None = None  # from our `staff_refund` metadata (domains/orders/refunds.py)


def order_record_refunds(
    *, order_id: int, payment_intent_id: str, refunds: list[RefundFact], amount_refunded: int, source: str, actor=None,
    void_reason: str = "refunded",
) -> str:
    """Record refunds Stripe made (once each, by refund id) and void the refunded tickets.

    Tickets named in the refund's metadata (`ticket_ids`, as staff refunds will set) are
    voided; without names, a refund that covers the whole order voids every ticket. A refund
    of a second (duplicate) payment is recorded but keeps the order and its tickets. A lost
    dispute is booked here too (domains/orders/disputes.py), with its own `void_reason`.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        pay_row = Payment.objects.filter(provider_payment_id=payment_intent_id).first()
        new = []
        for fact in refunds:
            try:
                with transaction.atomic():
                    new.append(
                        (
                            Refund.objects.create(
                                order=order,
                                payment=pay_row,
                                provider_refund_id=fact.provider_refund_id,
                                amount=fact.amount,
                                currency=fact.currency.upper(),
                                reason=fact.reason[:200],
                                created_by=actor,
                                staff_sequence=fact.staff_sequence,
                            ),
                            fact,
                        )
                    )
            except IntegrityError:
                continue  # already recorded
        if not new:
            return "ignored"
        if payment_intent_id != order.payment_intent_id:
            return "duplicate_payment_refunded"
        order.refunded_amount = min(order.total_amount, order.refunded_amount + sum(r.amount for r, _ in new))
        for refund, fact in new:
            valid = Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID)
            if fact.ticket_public_ids:
                targets = list(valid.filter(public_id__in=list(fact.ticket_public_ids)))
            elif order.refunded_amount >= order.total_amount:
                targets = list(valid)
            else:
                targets = []
            if targets:
                tickets_void(tickets=targets, status=Ticket.Status.REFUNDED, reason=void_reason, refund=refund)
        if order.status == Order.Status.PENDING:
            # Refunded before we saw it paid (Stripe did not report the payment succeeded when
            # asked): its held units go back now, as the order leaves pending and the expiry job
            # (pending orders only) would never release them.
            _release_holds(order)
        if order.refunded_amount >= order.total_amount:
            _set_status(order, Order.Status.REFUNDED, source=source, actor=actor)
        elif order.status == Order.Status.PAID:
            _set_status(order, Order.Status.PARTIALLY_REFUNDED, source=source, actor=actor)
        order.save(update_fields=["status", "refunded_amount", "updated_at"])
    return "refunded"
