"""Gate scans: `scan_validate` (read only) and `scan_commit` (admits), plus offline batches.

The invariant: under any concurrency one ticket is admitted at most once per its entry rule.
Every attempt is written to the scan log, refusals included; a nonce repeated by the same device
returns the stored answer (the unique (device, nonce) constraint settles a race between two
retries). A scan's writes (entry state and log row) are one transaction, on either of two paths:

- Checked (PostgreSQL): the ticket and its entry state are read without a lock, the scan is
  decided here (`rules.decide`), and one statement (`rows.record_if_unchanged`, the database
  function of migration scanning 0002) takes the ticket's row lock, checks that the ticket row
  and its entry state are still the versions that were read, and only then writes. A scan that
  finds them changed (another gate admitted the ticket, a refund voided it) writes nothing and
  is decided again on a new read; one that keeps meeting changes takes the locked path. Two
  round trips and no transaction held open while Python decides (docs/PERFORMANCE.md).
- Locked (other databases, and the fallback): one transaction that locks the ticket row
  (`SELECT ... FOR UPDATE`, no joins) and only then reads the ticket, its relations and its entry
  state in a *separate* statement: under READ COMMITTED a row joined into the locking query
  would be the version from before the wait (PostgreSQL rechecks only the locked row): two gates
  would both see "never admitted", and a ticket whose holder or type changed meanwhile would not
  be found at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.db import IntegrityError, transaction

from domains.common.clock import now
from domains.common.ratelimit import enforce_many
from domains.scanning.models import (
    ACCEPTING_VERDICTS,
    Direction,
    Gate,
    ScanLog,
    ScannerDevice,
    TicketEntryState,
    TicketTypeEntryRule,
    Verdict,
)
from domains.scanning.notify import stats_changed
from domains.scanning.rules import DEFAULT_RULE, Decision, Rule, decide, festival_day
from domains.scanning.services import rows
from domains.tickets.locking import ticket_lock
from domains.tickets.models import Ticket
from domains.tickets.qr import KIND_TICKET, KIND_VENDOR, InvalidQrCode, qr_decode

log = logging.getLogger(__name__)

# Generous for a real gate (a device scans at most a few times a second); a benchmark raises them.
DEVICE_LIMIT = int(os.environ.get("SCAN_RATE_PER_DEVICE", "60"))  # per DEVICE_WINDOW seconds
STAFF_LIMIT = int(os.environ.get("SCAN_RATE_PER_STAFF", "120"))
RATE_WINDOW = 10

MESSAGES = {
    Verdict.ADMITTED: "Admitted.",
    Verdict.ALREADY_USED: "Already used.",
    Verdict.INVALID: "Not a valid ticket.",
    Verdict.VOIDED: "This ticket is no longer valid.",
    Verdict.NOT_VALID_TODAY: "Not valid today.",
    Verdict.WRONG_GATE: "Not valid at this gate.",
    Verdict.EXITED: "Exit recorded.",
    Verdict.EXIT_NOT_ALLOWED: "Exit scans are off for this ticket type.",
    Verdict.NOT_INSIDE: "This ticket is not inside.",
    Verdict.RESTORED: "Admission undone.",
}
# Only an authentic, current code shows whose ticket it is (a superseded code must not show
# the new holder's name to whoever kept a screenshot of the old one).
_SHOWS_HOLDER = frozenset(
    {Verdict.ADMITTED, Verdict.ALREADY_USED, Verdict.NOT_VALID_TODAY, Verdict.WRONG_GATE, Verdict.EXITED,
     Verdict.EXIT_NOT_ALLOWED, Verdict.NOT_INSIDE, Verdict.RESTORED}
)


@dataclass(frozen=True)
class ScanResult:
    verdict: Verdict
    message: str
    scanned_at: dt.datetime
    scan_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    holder_name: str = ""
    ticket_type_name: str = ""
    first_used_at: dt.datetime | None = None
    first_used_gate: str = ""
    gate: str = ""
    # True when the answer is the stored one of an earlier scan with the same nonce.
    replayed: bool = False
    offline: bool = False
    conflict: bool = False
    vendor: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict in ACCEPTING_VERDICTS


def _lock_ticket(public_id: uuid.UUID) -> Ticket | None:
    """The ticket row, locked until the transaction ends, then read with its relations
    (domains/tickets/locking.py says why in that order; tests switch this off as a control)."""
    if rows.raw_reads():
        return rows.ticket_row(public_id, lock=True)
    return ticket_lock(public_id=public_id)


def _lock_ticket_and_state(public_id: uuid.UUID) -> tuple[Ticket | None, TicketEntryState | None]:
    """The ticket, locked, then its entry state read in a separate statement (see the module
    docstring); one round trip on PostgreSQL inside `rows.scan_transaction()`. Tests switch the lock
    off here as a control."""
    if rows.raw_reads():
        return rows.ticket_and_state(public_id, lock=True)
    ticket = _lock_ticket(public_id)
    return ticket, (_state_for(ticket.pk) if ticket is not None else None)


def _at_gate(ticket: Ticket | None, gate: Gate) -> bool:
    """A ticket exists for a gate only at its own festival's gates: another festival's ticket is
    an unknown ticket there (scans answer INVALID, supervisors NOT_FOUND)."""
    return ticket is not None and ticket.ticket_type.festival_id == gate.festival_id


def _unknown_ticket(base: dict, tx: rows.ScanTransaction | None = None) -> ScanResult:
    """The logged INVALID answer to a code whose ticket is not found at this gate (`_at_gate`)."""
    row = _log(tx, verdict=Verdict.INVALID, reason="unknown ticket", **base)
    return _result(row, ticket=None, gate=base["gate"], first_gate=None)


def _read_ticket(public_id: uuid.UUID) -> Ticket | None:
    if rows.raw_reads():
        return rows.ticket_row(public_id, lock=False)
    return Ticket.objects.select_related("ticket_type__festival", "holder").filter(public_id=public_id).first()


def rule_scope(ticket_type_id: int) -> str:
    return f"entryrule:{ticket_type_id}"


def _rule_for(ticket_type_id: int) -> Rule:
    """The ticket type's entry rule; kept per process until entry_rule_set (or the admin)
    changes it (domains/common/readcache.py; ENTRY_RULE_CACHE_SECONDS, 0 = no cache)."""
    from domains.common import readcache

    return readcache.cached(rule_scope(ticket_type_id), "rule", lambda: _read_rule(ticket_type_id), setting="ENTRY_RULE_CACHE_SECONDS")


def _rule_of(ticket: Ticket) -> Rule:
    """The ticket type's entry rule: read with the ticket on PostgreSQL, else `_rule_for`."""
    rule = rows.rule_read_with(ticket)
    return rule if rule is not None else _rule_for(ticket.ticket_type_id)


def _read_rule(ticket_type_id: int) -> Rule:
    found = list(
        TicketTypeEntryRule.objects.filter(ticket_type_id=ticket_type_id).values_list("mode", "allow_exit", "allowed_gates__id")
    )
    if not found:
        return DEFAULT_RULE
    return Rule(found[0][0], found[0][1], frozenset(r[2] for r in found if r[2] is not None))


def _state_for(ticket_id: int) -> TicketEntryState | None:
    if rows.raw_reads():
        return rows.state_row(ticket_id)
    found = list(TicketEntryState.objects.select_related("first_gate", "day_first_gate").filter(ticket_id=ticket_id)[:1])
    return found[0] if found else None


def throttle(*, device: ScannerDevice | None, staff_user, cost: int = 1) -> None:
    limits = []
    if device is not None:
        limits.append((f"scan:device:{device.pk}", DEVICE_LIMIT, RATE_WINDOW, "This scanner is scanning too fast."))
    if staff_user is not None:
        limits.append((f"scan:staff:{staff_user.pk}", STAFF_LIMIT, RATE_WINDOW, "Too many scans for one account."))
    enforce_many(limits)  # both counters in one round trip


def _result(log_row: ScanLog, *, ticket: Ticket | None, gate: Gate, first_gate: Gate | None, replayed=False, vendor=None) -> ScanResult:
    verdict = Verdict(log_row.verdict)
    shows = ticket is not None and verdict in _SHOWS_HOLDER
    return ScanResult(
        verdict=verdict,
        message=log_row.note if vendor else MESSAGES.get(verdict, verdict.label),
        scanned_at=log_row.scanned_at,
        scan_id=log_row.public_id,
        ticket_id=ticket.public_id if shows else None,
        holder_name=(ticket.holder.full_name or "") if shows else "",
        ticket_type_name=ticket.ticket_type.name if shows else "",
        first_used_at=log_row.first_used_at,
        first_used_gate=first_gate.name if first_gate else "",
        gate=gate.name,
        replayed=replayed,
        offline=log_row.offline,
        conflict=log_row.conflict,
        vendor=vendor or {},
    )


def _log(tx: rows.ScanTransaction | None = None, **fields) -> ScanLog:
    """Write one scan log row in the scan's transaction `tx` (a failing insert, a repeated
    nonce, must undo the whole scan), or in a transaction of its own; once it commits, prompt
    the dashboards (refusals count too)."""
    if tx is None:
        with rows.scan_transaction() as own:
            return _log(own, **fields)
    row = ScanLog(**fields)
    rows.insert(row, want_pk=False)  # nothing reads a log row's id back
    festival_public_id = fields["gate"].festival.public_id
    tx.on_commit(lambda: stats_changed(festival_public_id))
    return row


def _replay(device: ScannerDevice | None, nonce: str | None) -> ScanResult | None:
    if device is None or not nonce:
        return None
    row = (
        ScanLog.objects.select_related("ticket__ticket_type", "ticket__holder", "gate", "first_used_gate")
        .filter(device=device, nonce=nonce)
        .first()
    )
    if row is None:
        return None
    vendor = {"replayed": True} if row.ticket_id is None and row.verdict in _VENDOR_VERDICTS else None
    return _result(row, ticket=row.ticket, gate=row.gate, first_gate=row.first_used_gate, replayed=True, vendor=vendor)


def scan_validate(
    *, code: str, gate: Gate, direction: str = Direction.ENTRY, at: dt.datetime | None = None, staff_user=None
) -> ScanResult:
    """What a commit would answer now, without writing anything (not even the log). Counted
    against the staff member's scan rate when one is given (a validate loop is still load)."""
    if staff_user is not None:
        throttle(device=None, staff_user=staff_user)
    at = at or now()
    try:
        payload = qr_decode(code)
    except InvalidQrCode:
        return ScanResult(Verdict.INVALID, MESSAGES[Verdict.INVALID], at, gate=gate.name)
    if payload.kind != KIND_TICKET:
        return ScanResult(Verdict.INVALID, "Vendor setup codes are answered by a commit scan." if payload.kind == KIND_VENDOR else MESSAGES[Verdict.INVALID], at, gate=gate.name)
    ticket = _read_ticket(payload.public_id)
    if not _at_gate(ticket, gate):
        return ScanResult(Verdict.INVALID, MESSAGES[Verdict.INVALID], at, gate=gate.name)
    state = _state_for(ticket.pk)
    decision = decide(
        ticket=ticket, version=payload.version, state=state, rule=_rule_of(ticket), gate_id=gate.pk,
        direction=direction, day=festival_day(at, gate.festival.timezone),
    )
    shows = decision.verdict in _SHOWS_HOLDER
    first_gate = None
    if decision.first_used_gate_id is not None and state is not None:
        first_gate = state.day_first_gate if state.day_first_gate_id == decision.first_used_gate_id else state.first_gate
    return ScanResult(
        verdict=decision.verdict, message=MESSAGES.get(decision.verdict, ""), scanned_at=at,
        ticket_id=ticket.public_id if shows else None,
        holder_name=ticket.holder.full_name if shows else "",
        ticket_type_name=ticket.ticket_type.name if shows else "",
        first_used_at=decision.first_used_at, first_used_gate=first_gate.name if first_gate else "", gate=gate.name,
    )


# How far back a scanner's own clock is believed for an offline scan. A phone whose clock was
# reset (to 1970 or 2000, after a flat battery) or set to another year would otherwise date its
# scans before everyone else's and win every conflict; no scanner stays offline for a week.
OFFLINE_CLOCK_TRUST = dt.timedelta(days=7)


def believed_scan_time(scanned_at: dt.datetime | None, received: dt.datetime) -> dt.datetime:
    """When a scan happened: the scanner's time if it lies within OFFLINE_CLOCK_TRUST before the
    server received the scan; otherwise (no time, a clock ahead, a clock far behind) the time
    it was received, the only time the server knows."""
    if scanned_at is None or scanned_at > received or scanned_at < received - OFFLINE_CLOCK_TRUST:
        return received
    return scanned_at


def scan_commit(
    *,
    code: str,
    gate: Gate,
    device: ScannerDevice | None,
    staff_user,
    nonce: str | None = None,
    direction: str = Direction.ENTRY,
    scanned_at: dt.datetime | None = None,
    offline: bool = False,
    claimed_admitted: bool = False,
    throttled: bool = True,
) -> ScanResult:
    """Answer one scan and record it. ADMITTED happens at most once per the ticket's entry
    rule whatever runs concurrently; the same (device, nonce) returns the first answer."""
    nonce = (nonce or "").strip()[:64] or None
    # No look-up of the nonce first (one query on every scan for the rare retry): a repeated
    # (device, nonce) fails the log row's unique constraint, which rolls the scan's transaction
    # back (its admission included) and answers with the stored first result below.
    if throttled:
        throttle(device=device, staff_user=staff_user)
    received = now()
    at = believed_scan_time(scanned_at, received)
    base = dict(
        festival_id=gate.festival_id, gate=gate, device=device, staff_user=staff_user, direction=direction,
        nonce=nonce, scanned_at=at, received_at=received, offline=offline,
    )
    try:
        try:
            payload = qr_decode(code)
        except InvalidQrCode as exc:
            row = _log(verdict=Verdict.INVALID, reason=exc.reason[:64], **base)
            return _result(row, ticket=None, gate=gate, first_gate=None)
        if payload.kind == KIND_VENDOR:
            return _vendor_scan(code, at, base)
        if payload.kind != KIND_TICKET:
            row = _log(verdict=Verdict.INVALID, reason="unknown kind", **base)
            return _result(row, ticket=None, gate=gate, first_gate=None)
        return _ticket_scan(payload, at, base, claimed_admitted)
    except IntegrityError:
        # Another request with the same (device, nonce) won the race; its answer stands.
        replay = _replay(device, nonce)
        if replay is None:
            raise
        return replay


# How many times a scan decided on rows that changed before it could write (`_ticket_scan_checked`)
# decides again on a new read before it takes the ticket's lock for the whole scan instead.
CHECKED_ATTEMPTS = 3


def _ticket_scan(payload, at, base, claimed_admitted) -> ScanResult:
    """On PostgreSQL the scan is read without a lock, decided, and written by one statement
    that writes only if the ticket and its entry state are still what was read; the rare scan
    that keeps meeting changes (the same ticket at two gates at once) takes the lock instead."""
    if rows.checked_writes():
        for _ in range(CHECKED_ATTEMPTS):
            result = _ticket_scan_checked(payload, at, base, claimed_admitted)
            if result is not None:
                return result
    return _ticket_scan_locked(payload, at, base, claimed_admitted)


@dataclass(frozen=True)
class _Outcome:
    """A scan decided: the entry state to write (`write`: "insert", "update" or "") and the
    log row's fields."""

    state: TicketEntryState | None
    write: str
    first_gate: Gate | None
    log: dict


def _outcome(ticket: Ticket, state, payload, at, base, claimed_admitted) -> _Outcome:
    gate: Gate = base["gate"]
    day = festival_day(at, ticket.ticket_type.festival.timezone)
    decision = decide(
        ticket=ticket, version=payload.version, state=state, rule=_rule_of(ticket),
        gate_id=gate.pk, direction=base["direction"], day=day,
    )
    state, write = _next_state(decision, ticket=ticket, state=state, gate=gate, at=at, day=day)
    first_gate = None
    if decision.first_used_gate_id is not None:
        first_gate = state.day_first_gate if state.day_first_gate_id == decision.first_used_gate_id else state.first_gate
    refused_as_invalid = decision.verdict == Verdict.INVALID
    log = dict(
        verdict=decision.verdict,
        reason=decision.reason[:64],
        ticket=None if refused_as_invalid else ticket,
        ticket_type_id=None if refused_as_invalid else ticket.ticket_type_id,
        first_used_at=decision.first_used_at,
        first_used_gate=first_gate,
        conflict=claimed_admitted and decision.verdict != Verdict.ADMITTED,
        **base,
    )
    return _Outcome(state, write, first_gate, log)


def _ticket_scan_checked(payload, at, base, claimed_admitted) -> ScanResult | None:
    """One attempt: read, decide, write if unchanged (rows.record_if_unchanged). None: the
    ticket or its state changed since the read, nothing was written."""
    gate: Gate = base["gate"]
    ticket, state, seen = rows.ticket_and_state_seen(payload.public_id)
    if not _at_gate(ticket, gate):
        return _unknown_ticket(base)
    outcome = _outcome(ticket, state, payload, at, base, claimed_admitted)
    if outcome.log["ticket"] is None:  # INVALID (a version never issued): nothing of the ticket is written
        row = _log(**outcome.log)
        return _result(row, ticket=None, gate=gate, first_gate=None)
    row = ScanLog(**outcome.log)
    if not rows.record_if_unchanged(seen, state=outcome.state, write=outcome.write, log_row=row):
        return None
    # At once in autocommit (the write has committed); else once the caller's transaction does.
    transaction.on_commit(lambda: stats_changed(gate.festival.public_id))
    return _result(row, ticket=ticket, gate=gate, first_gate=outcome.first_gate)


def _ticket_scan_locked(payload, at, base, claimed_admitted) -> ScanResult:
    gate: Gate = base["gate"]
    # Round trips on PostgreSQL: BEGIN + lock + state, then state write + log insert + COMMIT.
    with rows.scan_transaction() as tx:
        ticket, state = _lock_ticket_and_state(payload.public_id)
        if not _at_gate(ticket, gate):
            return _unknown_ticket(base, tx)
        outcome = _outcome(ticket, state, payload, at, base, claimed_admitted)
        _write_state(outcome.state, outcome.write)
        row = _log(tx, **outcome.log)
    return _result(row, ticket=outcome.log["ticket"], gate=gate, first_gate=outcome.first_gate)


def _next_state(decision: Decision, *, ticket, state, gate, at, day) -> tuple[TicketEntryState | None, str]:
    """The entry state after an accepting verdict, and how to write it ("insert", "update",
    or "" when the verdict changes nothing). Written by the caller, under the ticket's row lock
    or by `rows.record_if_unchanged`."""
    if decision.verdict == Verdict.ADMITTED:
        new = state is None
        if new:
            state = TicketEntryState(ticket=ticket)
        if state.first_admitted_at is None:
            state.first_admitted_at, state.first_gate = at, gate
        if state.day != day:
            # `day` is the latest day admitted: an offline scan of an earlier day, uploaded late,
            # only adds its day to the list.
            if state.day is None or day > state.day:
                state.day, state.day_first_admitted_at, state.day_first_gate = day, at, gate
            state.days_admitted = sorted({*state.days_admitted, day.isoformat()})
        state.inside = True
        state.admissions += 1
        state.last_scan_at = at
        return state, ("insert" if new else "update")
    if decision.verdict == Verdict.EXITED:
        state.inside = False
        state.last_scan_at = at
        return state, "update"
    return state, ""


def _write_state(state, write: str) -> None:
    # A new row is inserted directly (save() would try an UPDATE first: one more round trip).
    if write == "insert":
        rows.insert(state)
    elif write == "update":
        rows.update(state)


def _apply(decision: Decision, *, ticket, state, gate, at, day):
    """Write the consequence of an accepting verdict to the entry state (ticket row locked)."""
    state, write = _next_state(decision, ticket=ticket, state=state, gate=gate, at=at, day=day)
    _write_state(state, write)
    return state


_VENDOR_VERDICTS = {
    "VENDOR_SETUP_ADMITTED": Verdict.VENDOR_SETUP_ADMITTED,
    "OUTSIDE_WINDOW": Verdict.OUTSIDE_WINDOW,
    "CREW_LIMIT_REACHED": Verdict.CREW_LIMIT_REACHED,
    "SUSPENDED": Verdict.SUSPENDED,
    "INVALID": Verdict.INVALID,
}


def _vendor_scan(code: str, at, base) -> ScanResult:
    """Vendor setup codes (kind "V") are answered by domains/vendors; we log the verdict."""
    gate: Gate = base["gate"]
    vendor_setup_scan = None
    if django_apps.is_installed("domains.vendors"):
        from domains.vendors.services import vendor_setup_scan
    if vendor_setup_scan is None:
        row = _log(verdict=Verdict.INVALID, reason="vendor codes unsupported", **base)
        return _result(row, ticket=None, gate=gate, first_gate=None)
    answer = vendor_setup_scan(code, gate.name, at, festival_id=gate.festival_id)
    verdict = _VENDOR_VERDICTS.get(str(answer.verdict), Verdict.INVALID)
    vendor = {}
    if verdict != Verdict.INVALID:
        vendor = {
            "vendor_name": answer.vendor_name, "booth_code": answer.booth_code, "zone": answer.zone,
            "crew_entries": answer.crew_entries, "crew_limit": answer.crew_limit,
        }
    row = _log(verdict=verdict, reason="vendor", note=answer.message[:300], **base)
    return _result(row, ticket=None, gate=gate, first_gate=None, vendor=vendor or {"message": answer.message})
