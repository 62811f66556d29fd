"""Staff refunds: whole orders, some tickets, or an amount.

Rules
-----
* Only paid or partially refunded orders; at most what is left (total - refunded).
* `ticket_ids`: those tickets are voided (status refunded) and the amount defaults to their
  price. Without tickets and without amount: everything left is refunded and every valid
  ticket voided. Without tickets with an amount below what is left: a goodwill refund of
  money only, tickets stay valid.
* A ticket that was scanned in is refunded only with `override_scanned`. Whether it was is
  read with the ticket locked, so a scan at the gate either happened before (and is seen) or
  waits for the refund (and then finds the ticket refunded).
* Locks: the order row (FOR NO KEY UPDATE), then the refund's tickets in primary-key order,
  both held through the Stripe call. Transfers and upgrades lock the ticket and then insert
  an audit row referring to the order: FOR NO KEY UPDATE lets that insert through, and
  taking the tickets before Stripe means the refund never waits for a ticket after Stripe
  has refunded (a deadlock there lost a refund Stripe had made).
* The Stripe refund is created while the order row is locked, with an idempotency key from
  the order and the number of staff refunds recorded on it (see `_staff_sequence`), and its
  id is stored in the same transaction as the voids: the `charge.refunded` event that follows
  finds the refund id recorded (`order_record_refunds` skips it) and voids nothing twice. If
  we crash (or Stripe times out) after Stripe refunded, the event (carrying our `ticket_ids`
  metadata) records it instead; a staff retry of a ticket refund is refused because the
  tickets are no longer valid, and a retry of an amount gets Stripe's first refund back
  (same key) and confirms the recorded one instead of refunding again. Any other refund after
  the event recorded the attempt takes the next number; before it, Stripe refuses the reused
  key and staff are told to retry in a minute (nothing refunded).
* Voided tickets: status refunded, secret bumped (their QR codes are refused at once),
  capacity back on sale. Order status: refunded when the whole amount is refunded or no
  valid ticket is left, partially_refunded otherwise. Everything is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from domains.audit.admission import tickets_admitted
from domains.audit.models import AuditEntry
from domains.audit.services import audit_record
from domains.common.errors import DomainError
from domains.orders import gateway as payment_gateway
from domains.orders.errors import OrderErrorCode
from domains.orders.models import Order, OrderStatusChange, Payment, Refund
from domains.orders.staff_errors import StaffOrderErrorCode as E
from domains.payments.gateway import PaymentGatewayError, PaymentGatewayUnavailable, idempotency_key
from domains.tickets.errors import TicketErrorCode
from domains.tickets.models import Ticket
from domains.tickets.services import tickets_void

REFUNDABLE = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)


@dataclass
class RefundResult:
    order: Order
    refund: Refund
    voided: list[Ticket]


def set_order_status(order: Order, to_status: str, *, source: str, note: str = "", actor=None) -> None:
    if order.status == to_status:
        return
    OrderStatusChange.objects.create(order=order, from_status=order.status, to_status=to_status, source=source, note=note[:300], actor=actor)
    order.status = to_status


def _targets(order: Order, ticket_ids: list[uuid.UUID] | None) -> list[Ticket]:
    tickets = Ticket.objects.select_related("order_line").filter(order_line__order=order)
    if ticket_ids is None:
        return list(tickets.filter(status=Ticket.Status.VALID).order_by("pk"))
    if not ticket_ids:
        raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "Name at least one ticket, or none for the whole order.", "ticketIds")
    by_id = {t.public_id: t for t in tickets.filter(public_id__in=ticket_ids)}
    for i, tid in enumerate(ticket_ids):
        t = by_id.get(tid)
        if t is None:
            raise DomainError(TicketErrorCode.TICKET_NOT_FOUND, "This ticket is not part of the order.", f"ticketIds.{i}")
        if t.status != Ticket.Status.VALID:
            raise DomainError(TicketErrorCode.TICKET_NOT_VALID, f"This ticket is already {t.status}.", f"ticketIds.{i}")
    return sorted(by_id.values(), key=lambda t: t.pk)


def _lock_targets(order: Order, ticket_ids: list[uuid.UUID] | None) -> list[Ticket]:
    """`_targets`, with the tickets' rows locked first (primary-key order, as `tickets_void`
    and every other multi-ticket lock takes them) and read again after the lock: a transfer,
    upgrade, scan or webhook void that got there first has committed by then."""
    candidates = Ticket.objects.filter(order_line__order=order)
    candidates = candidates.filter(public_id__in=ticket_ids) if ticket_ids else candidates.filter(status=Ticket.Status.VALID)
    pks = list(candidates.order_by("pk").values_list("pk", flat=True))
    # Locked by their own primary keys, without joins (domains/tickets/locking.py says why).
    list(Ticket.objects.select_for_update().filter(pk__in=pks).order_by("pk").values_list("pk", flat=True))
    return _targets(order, ticket_ids)


def _staff_sequence(order: Order, *, staff, amount: int, targets: list[Ticket]) -> int:
    """The number of this refund among the order's staff refunds, for its idempotency key.

    Counted from this service's own `order.refunded` audit entries, which only it writes (in
    the transaction that records the refund), not from the order's Refund rows: the
    `charge.refunded` event adds a Refund row for a refund whose Stripe call timed out, so a
    count of Refund rows moved between the attempt and its retry, the retry got a new key and
    Stripe refunded twice. Not `Refund.created_by` either: it is set null when the staff
    account is erased, which would move the count back and reuse a key.

    An attempt that timed out and was then recorded by the event (a Refund row carrying its
    number) keeps its number for a retry of the same goodwill amount, so Stripe gives that
    refund back. Any other refund is a new one: the recorded attempt is entered in the audit
    trail as done and the next number taken. (Keeping the number for every later refund made
    Stripe refuse them all, the key having been used with other parameters.) A ticket refund's
    retry never gets here: the event voided its tickets.
    """
    sequence = AuditEntry.objects.filter(order=order, action="order.refunded").count() + 1
    attempt = Refund.objects.filter(order=order, staff_sequence=sequence).first()
    if attempt is None or (not targets and attempt.amount == amount):
        return sequence
    _audit_recorded_by_event(order, attempt, staff=staff, reason="recorded from Stripe's event after the staff refund's call timed out")
    return sequence + 1


def _audit_recorded_by_event(order: Order, refund: Refund, *, staff, reason: str) -> None:
    """Enter a staff refund that the charge.refunded event recorded (its call had timed out) in
    the audit trail as done: it counts in `_staff_sequence` from then on."""
    audit_record(
        action="order.refunded",
        actor=staff,
        order=order,
        reason=reason,
        data={"refund_id": str(refund.public_id), "amount": refund.amount, "currency": refund.currency,
              "tickets": [], "override_scanned": False, "recorded_by_event": True},
    )


def order_refund(
    *,
    staff,
    order_public_id: uuid.UUID,
    reason: str,
    ticket_ids: list[uuid.UUID] | None = None,
    amount: int | None = None,
    override_scanned: bool = False,
) -> RefundResult:
    """Refund (part of) an order through Stripe and void the refunded tickets at once.

    Errors: REASON_REQUIRED, ORDER_NOT_FOUND, ORDER_NOT_REFUNDABLE, TICKET_NOT_FOUND,
    TICKET_NOT_VALID, REFUND_TICKET_SCANNED, REFUND_AMOUNT_INVALID, REFUND_DECLINED,
    PAYMENT_PROVIDER_UNAVAILABLE.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(E.REASON_REQUIRED, "Say why (kept in the audit trail and shown to no customer).", "reason")
    if ticket_ids is not None:
        ticket_ids = list(dict.fromkeys(ticket_ids))
    with transaction.atomic():
        # no_key: see the module docstring (a FOR UPDATE blocks the audit insert of a transfer
        # or upgrade holding a ticket we need: a deadlock).
        order = Order.objects.select_for_update(of=("self",), no_key=True).select_related("festival", "buyer").filter(public_id=order_public_id).first()
        if order is None:
            raise DomainError(OrderErrorCode.ORDER_NOT_FOUND, "Order not found.", "orderId")
        remaining = order.total_amount - order.refunded_amount
        if order.status not in REFUNDABLE:
            raise DomainError(E.ORDER_NOT_REFUNDABLE, f"This order is {order.status}.", "orderId")
        if ticket_ids is None and amount is not None and amount < remaining:
            targets = []  # goodwill: money only, no ticket to lock
        else:
            targets = _lock_targets(order, ticket_ids)  # locked until we commit, Stripe included
        if ticket_ids is None and not targets and amount is None and remaining == 0:
            raise DomainError(E.ORDER_NOT_REFUNDABLE, "Nothing is left to refund.", "orderId")
        # After the ticket locks: a scan commits its admission under the same lock, so it is
        # either visible now or waits for us (and then refuses the refunded ticket).
        scanned = tickets_admitted([t.pk for t in targets])
        if scanned and not override_scanned:
            raise DomainError(
                E.REFUND_TICKET_SCANNED, f"{len(scanned)} of these tickets were scanned in; set overrideScanned to refund anyway.", "ticketIds"
            )
        if amount is None:
            amount = sum(t.order_line.unit_price for t in targets) if ticket_ids is not None else remaining
            amount = min(amount, remaining)
        if amount < 0 or amount > remaining or (amount == 0 and not targets):
            raise DomainError(E.REFUND_AMOUNT_INVALID, f"Refund between 1 and {remaining} (minor units).", "amount")

        sequence = _staff_sequence(order, staff=staff, amount=amount, targets=targets)
        payment = Payment.objects.filter(provider_payment_id=order.payment_intent_id).first() if order.payment_intent_id else None
        refund = Refund(
            order=order, payment=payment, amount=amount, currency=order.currency, reason=reason[:200], created_by=staff,
            status=Refund.Status.SUCCEEDED, staff_sequence=sequence,
        )
        if amount > 0:
            if not order.payment_intent_id:
                raise DomainError(E.REFUND_AMOUNT_INVALID, "This order was not paid through Stripe; refund 0.", "amount")
            try:
                info = payment_gateway.get_gateway().create_refund(
                    payment_intent=order.payment_intent_id,
                    amount=amount,
                    # "staff-refund", not the former "order-refund": keys of the former count (of
                    # all Refund rows) could equal this count's for a while after the change.
                    idempotency_key=idempotency_key("staff-refund", order.public_id, sequence),
                    metadata={
                        "order_id": str(order.public_id),
                        "ticket_ids": ",".join(str(t.public_id) for t in targets),
                        "staff_refund": str(sequence),
                    },
                )
            except PaymentGatewayUnavailable as exc:
                raise DomainError(
                    OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "Stripe did not answer in time, so the refund may or may not have been made. "
                    "Try again: a retry of the same refund is never paid twice.", retry_after=5
                ) from exc
            except PaymentGatewayError as exc:
                if exc.code == "idempotency_error":
                    # The key of an attempt that timed out, whose refund Stripe's event has not
                    # recorded yet (then `_staff_sequence` would move on), asked with other
                    # parameters: nothing was refunded now.
                    raise DomainError(
                        OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, "An earlier refund of this order timed out and Stripe "
                        "has not confirmed it yet. Retry that same refund, or try this one again in a minute.",
                        retry_after=60,
                    ) from exc
                raise DomainError(E.REFUND_DECLINED, f"Stripe refused the refund: {exc.message}", "orderId") from exc
            recorded = Refund.objects.filter(provider_refund_id=info.id).first()
            if recorded is not None:
                # Same key, so Stripe gave back the refund of an attempt that timed out, and the
                # charge.refunded event recorded it (amount, tickets) meanwhile: confirm it as
                # this staff refund (which moves the sequence on) instead of adding it again.
                Refund.objects.filter(pk=recorded.pk, created_by__isnull=True).update(created_by=staff)
                _audit_recorded_by_event(order, recorded, staff=staff, reason=reason)
                return RefundResult(order=order, refund=recorded, voided=[])
            refund.provider_refund_id = info.id
            refund.status = Refund.Status.PENDING if info.status == "pending" else (
                Refund.Status.FAILED if info.status in ("failed", "canceled") else Refund.Status.SUCCEEDED
            )
        refund.save()
        voided = list(targets)
        if targets:
            tickets_void(tickets=targets, status=Ticket.Status.REFUNDED, reason=f"refunded: {reason}", refund=refund)
        order.refunded_amount += amount
        left_valid = Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID).exists()
        if order.refunded_amount >= order.total_amount or not left_valid:
            set_order_status(order, Order.Status.REFUNDED, source="staff", note=reason, actor=staff)
        else:
            set_order_status(order, Order.Status.PARTIALLY_REFUNDED, source="staff", note=reason, actor=staff)
        order.save(update_fields=["status", "refunded_amount", "updated_at"])
        audit_record(
            action="order.refunded",
            actor=staff,
            order=order,
            reason=reason,
            data={
                "refund_id": str(refund.public_id),
                "amount": amount,
                "currency": order.currency,
                "tickets": [str(t.public_id) for t in targets],
                "override_scanned": bool(scanned),
            },
        )
        for t in targets:
            audit_record(
                action="ticket.refunded",
                actor=staff,
                order=order,
                ticket=t,
                reason=reason,
                data={"status": ["valid", t.status], "scanned": t.pk in scanned},
            )
    return RefundResult(order=order, refund=refund, voided=voided)
