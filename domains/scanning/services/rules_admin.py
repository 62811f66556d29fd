"""Entry rules per ticket type, set by admins."""

from __future__ import annotations

import uuid

from django.db import transaction

from domains.common.errors import CommonErrorCode, DomainError, NotFound
from domains.scanning.models import Gate, TicketTypeEntryRule
from domains.tickets.models import TicketType


def entry_rule_set(*, ticket_type_id, mode: str, allow_exit: bool, gate_ids: list) -> TicketTypeEntryRule:
    """Replace the entry rule of a ticket type (gates must belong to its festival)."""
    if mode not in TicketTypeEntryRule.Mode.values:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Unknown entry mode.", "mode")
    try:
        ticket_type = TicketType.objects.get(public_id=uuid.UUID(str(ticket_type_id)))
        gate_uuids = [uuid.UUID(str(g)) for g in gate_ids]
    except (ValueError, TicketType.DoesNotExist):
        raise NotFound("Ticket type", "ticketTypeId") from None
    gates = list(Gate.objects.filter(festival_id=ticket_type.festival_id, public_id__in=gate_uuids))
    if len(gates) != len(set(gate_uuids)):
        raise NotFound("Gate", "gateIds")
    with transaction.atomic():
        rule, _ = TicketTypeEntryRule.objects.update_or_create(
            ticket_type=ticket_type, defaults={"mode": mode, "allow_exit": allow_exit}
        )
        rule.allowed_gates.set(gates)
    return rule
