"""Has a ticket been let in at a gate? The one question the lifecycle asks the scanning area.

Transfers are refused, and refunds need an override, for tickets that were scanned in.
`ticket_was_admitted` is the hook: it reads `scanning.TicketEntryState` (admissions > 0)
through the app registry, so this area neither imports the scanning code nor breaks when
the scanning app is not installed (then no ticket counts as admitted). Tests may replace it.
"""

from __future__ import annotations

from django.apps import apps


def ticket_was_admitted(ticket_id: int) -> bool:
    if not apps.is_installed("domains.scanning"):
        return False
    try:
        state_model = apps.get_model("scanning", "TicketEntryState")
    except LookupError:
        return False
    return state_model.objects.filter(ticket_id=ticket_id, admissions__gt=0).exists()


def tickets_admitted(ticket_ids: list[int]) -> set[int]:
    """The subset of `ticket_ids` that were admitted, in one query."""
    if not ticket_ids or not apps.is_installed("domains.scanning"):
        return set()
    try:
        state_model = apps.get_model("scanning", "TicketEntryState")
    except LookupError:
        return set()
    return set(state_model.objects.filter(ticket_id__in=ticket_ids, admissions__gt=0).values_list("ticket_id", flat=True))
