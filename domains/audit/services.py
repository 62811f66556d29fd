"""Writes of the audit trail. Call inside the transaction of the change being recorded, so
that the entry exists exactly when the change does."""

from __future__ import annotations

from domains.audit.models import AuditEntry


def audit_record(*, action: str, actor=None, order=None, ticket=None, reason: str = "", data: dict | None = None) -> AuditEntry:
    """Record one action. `ticket` without `order` takes the ticket's order when it has one."""
    if order is None and ticket is not None and ticket.order_line_id:
        order_id = ticket.order_line.order_id
    else:
        order_id = order.pk if order is not None else None
    return AuditEntry.objects.create(
        action=action,
        actor=actor if (actor is not None and getattr(actor, "pk", None)) else None,
        order_id=order_id,
        ticket=ticket,
        reason=(reason or "")[:500],
        data=data or {},
    )
