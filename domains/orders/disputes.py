"""Stripe disputes (chargebacks, and inquiries that may become one) of an order's payment or of
an upgrade's price difference, from the ``charge.dispute.*`` events (domains/orders/webhooks.py
finds the order or upgrade and calls `dispute_record` inside the event's transaction).

Rules
-----
* Staff are told at once: the first event of a dispute records it (`Dispute`, Stripe's id
  unique), audits it and emails the organisers (the festival's contact address, else
  ORGANISER_EMAIL, as contact messages go); the staff desk shows it (`staffOrder.disputes`,
  `staffOrders(filter: {disputed: OPEN})`). Closing emails them again. One email per dispute
  and transition (keys `dispute-opened:` / `dispute-closed:` and the dispute's public id).
* While a dispute is open the tickets stay valid. A dispute is a claim by the cardholder's
  bank, not a decision: inquiries and "friendly fraud" are often withdrawn or won, and the
  buyer may be at the gate with the ticket. Voiding it then would turn the buyer away for a
  claim that may fail, could not be undone without re-issuing (new QR codes, new emails), and
  would destroy our best evidence (the ticket being scanned in by its holder). Staff see the
  dispute and can still refund or void by hand when they believe it is fraud.
* Lost: the money is gone, as after a refund. The order's payment is booked through the refund
  service (`order_record_refunds`, no Stripe call), as a refund whose id is the dispute's: the
  same rules for `refunded_amount` (capped at the total), the order's status and the tickets
  (a loss covering what is left of the order voids every valid ticket, status refunded, QR
  codes refused; a partial loss voids none and staff choose), capacity back on sale as after
  any refund (the buyer has their money back and holds nothing; a sellable unit left locked
  would be a ticket nobody can buy), and a loss of a second (duplicate) payment keeps the order.
  Voided tickets are audited one by one (`ticket.refunded`, reason "dispute lost").
  An upgrade's lost dispute changes nothing automatically, for the reasons a refund of an
  upgrade does not (domains/upgrades/refunds.py): staff decide with the facts.
* Won, warning_closed, prevented: recorded and audited; nothing else changes.
* Status only moves forward (`_RANK`: inquiry, chargeback, review, closed), so events that
  arrive twice, late, out of order or under other event ids leave what the most advanced one
  says: a replay or an older status changes nothing, a `closed` before its `created` records
  the dispute closed and the `created` after it is ignored. A second, different close
  (won after lost) is left for staff (needs attention), never applied.
* Locks: the order row (as every order service takes it: `_lock_order`), or for an upgrade the
  upgrade row (as `upgrade_record_refund`), then the dispute's row: two deliveries of one
  dispute at the same time apply it once, the second finding the first's committed row.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction

from domains.audit.services import audit_record
from domains.common.clock import now
from domains.events.selectors import organiser_email
from domains.notifications.services import email_enqueue
from domains.orders import services
from domains.orders.models import Dispute, Order, Refund
from domains.payments.event_shapes import expanded_id, expanded_object
from domains.tickets.models import Ticket

log = logging.getLogger(__name__)

S = Dispute.Status
# How far a dispute has gone; a status of a lower rank never replaces one of a higher rank.
_RANK = {
    S.WARNING_NEEDS_RESPONSE: 0,
    S.WARNING_UNDER_REVIEW: 1,
    S.NEEDS_RESPONSE: 2,
    S.UNDER_REVIEW: 3,
    S.WARNING_CLOSED: 4,
    S.WON: 4,
    S.LOST: 4,
    S.PREVENTED: 4,
}


@dataclass(frozen=True)
class DisputeFact:
    """What a ``charge.dispute.*`` event says about its dispute (shape-checked by
    domains/payments/event_shapes.py before it is read)."""

    stripe_dispute_id: str
    payment_intent_id: str | None
    amount: int
    currency: str
    reason: str
    status: str
    evidence_due_by: dt.datetime | None
    opened_at: dt.datetime | None

    @classmethod
    def from_stripe(cls, obj: dict) -> DisputeFact:
        """The dispute's PaymentIntent is its own, else its charge's when the charge is expanded."""
        charge = expanded_object(obj.get("charge"))
        due = (obj.get("evidence_details") or {}).get("due_by")
        created = obj.get("created")
        return cls(
            stripe_dispute_id=obj["id"],
            payment_intent_id=expanded_id(obj.get("payment_intent")) or expanded_id(charge.get("payment_intent")),
            amount=obj["amount"],
            currency=obj["currency"].upper(),
            reason=obj.get("reason") or "",
            status=obj["status"],
            evidence_due_by=_at(due),
            opened_at=_at(created),
        )


def _at(timestamp: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp is not None else None


@dataclass
class DisputeResult:
    """`outcome`: recorded | updated | closed | unchanged | stale | already_closed |
    conflicting_close | unknown_status | foreign_dispute; `attention` names what staff must look
    at beyond the dispute itself (money not booked, a partial loss), empty when nothing."""

    outcome: str
    dispute: Dispute | None = None
    voided: int = 0
    attention: str = ""


def dispute_record(*, fact: DisputeFact, order_id: int | None = None, upgrade_id: int | None = None) -> DisputeResult:
    """Apply what Stripe says of a dispute of the order's payment (`order_id`) or of the
    upgrade's (`upgrade_id`), once per dispute and status: see the module docstring."""
    if fact.status not in _RANK:
        return DisputeResult("unknown_status")
    with transaction.atomic():
        if upgrade_id is not None:
            from domains.upgrades.services import _lock_upgrade

            upgrade = _lock_upgrade(upgrade_id)
            ticket = Ticket.objects.select_related("order_line__order__festival", "ticket_type__festival").get(pk=upgrade.ticket_id)
            order = ticket.order_line.order if ticket.order_line_id else None
        else:
            upgrade, ticket = None, None
            order = services._lock_order(order_id)
        dispute = Dispute.objects.select_for_update().filter(stripe_dispute_id=fact.stripe_dispute_id).first()
        if dispute is None:
            dispute = Dispute.objects.create(
                stripe_dispute_id=fact.stripe_dispute_id, order=order, upgrade=upgrade, payment_intent_id=fact.payment_intent_id,
                amount=fact.amount, currency=fact.currency, reason=fact.reason[:100], status=fact.status,
                evidence_due_by=fact.evidence_due_by, opened_at=fact.opened_at,
            )
            previous, outcome = None, "recorded"
        else:
            if (dispute.order_id, dispute.upgrade_id) != (order.pk if order else None, upgrade.pk if upgrade else None):
                return DisputeResult("foreign_dispute", dispute)  # the same id for another payment: never from Stripe
            if dispute.status == fact.status:
                return DisputeResult("unchanged", dispute)
            if not dispute.is_open:
                # A close is final. An older open status arriving late is stale; another close
                # (won after lost) contradicts what we applied: staff look at it.
                return DisputeResult("already_closed" if fact.status in Dispute.OPEN_STATUSES else "conflicting_close", dispute)
            if _RANK[fact.status] < _RANK[dispute.status]:
                return DisputeResult("stale", dispute)
            previous, outcome = dispute.status, "updated"
            dispute.status = fact.status
            dispute.amount, dispute.currency = fact.amount, fact.currency
            dispute.reason = fact.reason[:100] or dispute.reason
            dispute.evidence_due_by = fact.evidence_due_by or dispute.evidence_due_by
            dispute.save(update_fields=["status", "amount", "currency", "reason", "evidence_due_by", "updated_at"])
        result = DisputeResult(outcome, dispute)
        if dispute.is_open:
            _audit(dispute, "dispute.opened" if previous is None else "dispute.updated", previous, order=order, ticket=ticket)
            if previous is None:
                _notify(dispute, "dispute_opened", order=order, ticket=ticket)
            _log(result, order)
            return result
        result.outcome = "closed"
        dispute.closed_at = now()
        dispute.save(update_fields=["closed_at", "updated_at"])
        voided: list[Ticket] = []
        if dispute.status == S.LOST and upgrade is None:
            voided, result.attention = _book_loss(dispute, order)
        elif dispute.status == S.LOST:
            result.attention = "upgrade dispute lost; the ticket keeps its tier until staff decide"
        result.voided = len(voided)
        _audit(dispute, "dispute.closed", previous, order=order, ticket=ticket, extra={"tickets_voided": [str(t.public_id) for t in voided]})
        for t in voided:
            audit_record(action="ticket.refunded", order=order, ticket=t, reason="dispute lost",
                         data={"status": ["valid", t.status], "dispute_id": str(dispute.public_id)})
        _notify(dispute, "dispute_closed", order=order, ticket=ticket, extra={"tickets_voided": len(voided), "attention": result.attention})
    _log(result, order)
    return result


def _log(result: DisputeResult, order: Order | None) -> None:
    # A warning: money is at stake and staff should hear of it even if the email is lost.
    log.warning(
        "stripe dispute %s", result.outcome,
        extra={"dispute": result.dispute.stripe_dispute_id, "status": result.dispute.status, "order": str(order.public_id) if order else None},
    )


def _book_loss(dispute: Dispute, order: Order) -> tuple[list[Ticket], str]:
    """The lost money of the order's payment, booked by the refund service (no Stripe call);
    returns the tickets it voided and what staff must look at ("" when nothing)."""
    if order.fulfilled_at is None:
        return [], "dispute lost on an order that was never fulfilled; nothing booked"
    if dispute.currency != order.currency.upper():
        return [], f"dispute lost in {dispute.currency}, order in {order.currency}; nothing booked"
    services.order_record_refunds(
        order_id=order.pk,
        payment_intent_id=dispute.payment_intent_id,
        refunds=[
            services.RefundFact(
                # The dispute's id: the booking is unique like a Stripe refund's, once per dispute.
                provider_refund_id=dispute.stripe_dispute_id,
                amount=dispute.amount,
                currency=dispute.currency,
                reason=f"dispute lost ({dispute.reason or 'no reason given'})",
            )
        ],
        amount_refunded=dispute.amount,
        source="dispute",
        void_reason="dispute lost",
    )
    refund = Refund.objects.filter(provider_refund_id=dispute.stripe_dispute_id).first()
    if refund is None:
        return [], ""
    dispute.refund = refund
    dispute.save(update_fields=["refund", "updated_at"])
    voided = list(Ticket.objects.filter(refund=refund).order_by("pk"))
    if dispute.payment_intent_id != order.payment_intent_id:
        return voided, ""  # a second (duplicate) payment's loss: the order keeps its tickets
    if not voided and Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID).exists():
        return voided, "partial dispute lost; no ticket voided, staff choose"
    return voided, ""


def _audit(dispute: Dispute, action: str, previous: str | None, *, order, ticket, extra: dict | None = None) -> None:
    audit_record(
        action=action,
        order=order,
        ticket=ticket,
        reason=f"Stripe dispute {dispute.status}",
        data={
            "dispute_id": str(dispute.public_id),
            "stripe_dispute_id": dispute.stripe_dispute_id,
            "status": [previous, dispute.status],
            "amount": dispute.amount,
            "currency": dispute.currency,
            "reason": dispute.reason,
            "upgrade_id": str(dispute.upgrade.public_id) if dispute.upgrade_id else None,
            **(extra or {}),
        },
    )


def _notify(dispute: Dispute, template: str, *, order, ticket, extra: dict | None = None) -> None:
    festival = order.festival if order is not None else ticket.ticket_type.festival
    key = "dispute-opened" if template == "dispute_opened" else "dispute-closed"
    email_enqueue(
        key=f"{key}:{dispute.public_id}",
        to_email=organiser_email(festival),
        template=template,
        context={
            "festival_name": festival.name,
            "order_number": order.number if order else "",
            "order_id": str(order.public_id) if order else "",
            "upgrade_id": str(dispute.upgrade.public_id) if dispute.upgrade_id else "",
            "stripe_dispute_id": dispute.stripe_dispute_id,
            "status": dispute.status,
            "reason": dispute.reason,
            "amount": services.format_money(dispute.amount, dispute.currency),
            "evidence_due_by": dispute.evidence_due_by.strftime("%Y-%m-%d %H:%M UTC") if dispute.evidence_due_by else "",
            **(extra or {}),
        },
    )
