"""Supervisors at the gate: admit a ticket by hand (a dead phone) and undo a mistaken admission.

Both go through the same row lock and entry rules as a camera scan and are written to the
scan log with `method=manual` and the supervisor's note. Only admins and staff holding the
`scanning.supervise_gate` permission may do this.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from domains.accounts.models import Role
from domains.common.clock import now
from domains.common.errors import DomainError, NotFound
from domains.scanning.errors import ScanningErrorCode
from domains.scanning.models import Direction, Gate, ScanLog, ScannerDevice, Verdict
from domains.scanning.rules import decide, festival_day
from domains.scanning.services import commit as _commit
from domains.scanning.services import rows
from domains.scanning.services.commit import ScanResult, _apply, _log, _result, _state_for

SUPERVISE_PERMISSION = "scanning.supervise_gate"


def is_supervisor(user) -> bool:
    return user is not None and (user.role == Role.ADMIN or (user.role == Role.STAFF and user.has_perm(SUPERVISE_PERMISSION)))


def require_supervisor(user) -> None:
    if not is_supervisor(user):
        raise DomainError(ScanningErrorCode.SUPERVISOR_REQUIRED, "A gate supervisor must do this.")


def _ticket_id(ticket_id) -> uuid.UUID:
    try:
        return uuid.UUID(str(ticket_id))
    except ValueError:
        raise NotFound("Ticket", "ticketId") from None


def scan_manual_admit(*, ticket_id, gate: Gate, supervisor, note: str = "", device: ScannerDevice | None = None) -> ScanResult:
    """Admit by hand under the same rules as a scan (it cannot admit a used or voided ticket)."""
    require_supervisor(supervisor)
    at = now()
    with transaction.atomic():
        ticket = _commit._lock_ticket(_ticket_id(ticket_id))
        if not _commit._at_gate(ticket, gate):
            raise NotFound("Ticket", "ticketId")
        state = _state_for(ticket.pk)
        day = festival_day(at, ticket.ticket_type.festival.timezone)
        decision = decide(
            ticket=ticket, version=ticket.secret_version, state=state, rule=_commit._rule_of(ticket),
            gate_id=gate.pk, direction=Direction.ENTRY, day=day,
        )
        state = _apply(decision, ticket=ticket, state=state, gate=gate, at=at, day=day)
        first_gate = None
        if decision.first_used_gate_id is not None:
            first_gate = state.day_first_gate if state.day_first_gate_id == decision.first_used_gate_id else state.first_gate
        row = _log(
            rows.current_transaction(),
            festival_id=gate.festival_id, gate=gate, device=device, staff_user=supervisor, direction=Direction.ENTRY,
            scanned_at=at, received_at=at, verdict=decision.verdict, reason=decision.reason[:64], ticket=ticket,
            ticket_type_id=ticket.ticket_type_id, method=ScanLog.Method.MANUAL, note=(note or "")[:300],
            first_used_at=decision.first_used_at, first_used_gate=first_gate,
        )
    return _result(row, ticket=ticket, gate=gate, first_gate=first_gate)


def _restate_days(state, ticket) -> None:
    """The days and first admissions of `state` from the admissions that still stand, as `_apply`
    would have written them (first applied overall; latest day and its first applied).

    Recomputed rather than adjusted: the admission undone (the latest applied) need not be of
    the latest day (an offline scan of an earlier day uploaded late), and undoing the latest
    day's leaves the earlier days admitted."""
    standing = ScanLog.objects.filter(ticket=ticket, verdict=Verdict.ADMITTED, undone=False).select_related("gate").order_by("id")
    timezone_name = ticket.ticket_type.festival.timezone
    first_of_day = {}
    for row in standing:
        first_of_day.setdefault(festival_day(row.scanned_at, timezone_name), row)
    first = min(first_of_day.values(), key=lambda row: row.pk, default=None)
    state.first_admitted_at, state.first_gate = (first.scanned_at, first.gate) if first else (None, None)
    state.day = max(first_of_day, default=None)
    latest = first_of_day.get(state.day)
    state.day_first_admitted_at, state.day_first_gate = (latest.scanned_at, latest.gate) if latest else (None, None)
    state.days_admitted = sorted(day.isoformat() for day in first_of_day)


def scan_restore(*, ticket_id, gate: Gate, supervisor, note: str = "") -> ScanResult:
    """Undo the latest admission of a ticket (the latest applied, which for an offline scan
    uploaded late may be of an earlier day): it may enter again (on that admission's day, for
    daily passes, unless another admission of that day stands)."""
    require_supervisor(supervisor)
    at = now()
    with transaction.atomic():
        ticket = _commit._lock_ticket(_ticket_id(ticket_id))
        if not _commit._at_gate(ticket, gate):
            raise NotFound("Ticket", "ticketId")
        state = _state_for(ticket.pk)
        admitted = (
            ScanLog.objects.filter(ticket=ticket, verdict=Verdict.ADMITTED, undone=False).order_by("-id").first()
        )
        if state is None or state.admissions == 0 or admitted is None:
            raise DomainError(ScanningErrorCode.NOT_ADMITTED, "This ticket has not been admitted.", "ticketId")
        ScanLog.objects.filter(pk=admitted.pk).update(undone=True)
        state.admissions -= 1
        state.inside = False
        _restate_days(state, ticket)
        state.last_scan_at = at
        state.save()
        row = _log(
            rows.current_transaction(),
            festival_id=gate.festival_id, gate=gate, device=None, staff_user=supervisor, direction=Direction.ENTRY,
            scanned_at=at, received_at=at, verdict=Verdict.RESTORED, ticket=ticket, ticket_type_id=ticket.ticket_type_id,
            method=ScanLog.Method.MANUAL, note=(note or "")[:300],
        )
    return _result(row, ticket=ticket, gate=gate, first_gate=None)
