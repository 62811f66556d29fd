"""Reads of the audit trail."""

from __future__ import annotations

from django.db.models import Q

from domains.audit.models import AuditEntry


def audit_for_order(order) -> list[AuditEntry]:
    """Entries about the order or any ticket ever issued by it, oldest first."""
    return list(
        AuditEntry.objects.filter(Q(order=order) | Q(ticket__order_line__order=order))
        .select_related("actor", "ticket")
        .order_by("created_at", "id")
    )
