"""Reads: scan statistics, the scan log, the offline scanner's delta, supervisor lookup."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError, NotFound
from domains.common.signing import b64url, qr_public_keys
from domains.events.models import Festival
from domains.scanning.models import Gate, ScanLog, ScannerDevice, TicketEntryState, Verdict
from domains.scanning.rules import _zone
from domains.tickets.models import Ticket

REFUSALS = [
    Verdict.ALREADY_USED, Verdict.INVALID, Verdict.VOIDED, Verdict.NOT_VALID_TODAY, Verdict.WRONG_GATE,
    Verdict.EXIT_NOT_ALLOWED, Verdict.NOT_INSIDE, Verdict.OUTSIDE_WINDOW, Verdict.CREW_LIMIT_REACHED, Verdict.SUSPENDED,
]


def festival_for_event(event_id) -> Festival:
    """The festival named by its public id; the current one when `event_id` is empty."""
    if not event_id:
        festival = Festival.objects.filter(is_current=True).first()
    else:
        try:
            festival = Festival.objects.filter(public_id=uuid.UUID(str(event_id))).first()
        except ValueError:
            festival = None
    if festival is None:
        raise NotFound("Event", "eventId")
    return festival


def scanner_keys() -> list[tuple[str, str]]:
    """(key id, base64url raw Ed25519 public key) that offline scanners verify codes with."""
    return [(kid, b64url(raw)) for kid, raw in qr_public_keys()]


@dataclass(frozen=True)
class Count_:
    key: str
    count: int


@dataclass(frozen=True)
class TypeCount:
    name: str
    admitted: int
    sold: int


@dataclass(frozen=True)
class ScanStats:
    festival_id: uuid.UUID
    admitted_tickets: int  # distinct tickets admitted at least once
    admissions: int  # admission scans (re-entries and daily entries count each time)
    inside: int
    sold: int
    by_ticket_type: tuple[TypeCount, ...]
    by_gate: tuple[Count_, ...]
    by_hour: tuple[Count_, ...]  # festival-local hour, ISO "YYYY-MM-DDTHH:00"
    refusals: tuple[Count_, ...]
    conflicts: int
    # When these figures were read (a poll may get a recent reading). Not part of equality: the
    # subscription pushes only figures that changed.
    computed_at: dt.datetime = field(compare=False)

    @property
    def admitted_ratio(self) -> float:
        return round(self.admitted_tickets / self.sold, 4) if self.sold else 0.0


def scan_stats(*, festival: Festival) -> ScanStats:
    """Five aggregate queries on indexed columns, whatever the number of scans."""
    read_at = now()
    zone = _zone(festival.timezone)
    logs = ScanLog.objects.filter(festival=festival)
    admitted_logs = logs.filter(verdict=Verdict.ADMITTED, undone=False)
    by_gate = admitted_logs.values("gate__name").annotate(n=Count("id")).order_by("gate__name")
    by_hour = (
        admitted_logs.annotate(h=TruncHour("scanned_at", tzinfo=zone)).values("h").annotate(n=Count("id")).order_by("h")
    )
    verdicts = dict(logs.values_list("verdict").annotate(n=Count("id")).order_by())
    conflicts = logs.filter(conflict=True).count()
    per_type = (
        Ticket.objects.filter(ticket_type__festival=festival)
        .values("ticket_type__name", "ticket_type__sort_order")
        .annotate(
            sold=Count("id", filter=Q(status=Ticket.Status.VALID)),
            admitted=Count("id", filter=Q(entry_state__admissions__gt=0)),
            inside=Count("id", filter=Q(entry_state__inside=True)),
        )
        .order_by("ticket_type__sort_order", "ticket_type__name")
    )
    per_type = list(per_type)
    by_gate = list(by_gate)
    return ScanStats(
        festival_id=festival.public_id,
        admitted_tickets=sum(r["admitted"] for r in per_type),
        admissions=sum(r["n"] for r in by_gate),
        inside=sum(r["inside"] for r in per_type),
        sold=sum(r["sold"] for r in per_type),
        by_ticket_type=tuple(TypeCount(r["ticket_type__name"], r["admitted"], r["sold"]) for r in per_type),
        by_gate=tuple(Count_(r["gate__name"], r["n"]) for r in by_gate),
        by_hour=tuple(Count_(r["h"].astimezone(zone).strftime("%Y-%m-%dT%H:00"), r["n"]) for r in by_hour),
        refusals=tuple(Count_(str(v), verdicts[v]) for v in REFUSALS if verdicts.get(v)),
        conflicts=conflicts,
        computed_at=read_at,
    )


# festival pk -> (monotonic time the reading started, the reading); one lock per festival so
# that pollers arriving while a reading is made wait for it instead of making their own.
_recent: dict[int, tuple[float, ScanStats]] = {}
_recent_locks: dict[int, threading.Lock] = {}


def scan_stats_recent(*, festival: Festival) -> ScanStats:
    """The figures, read from the database at most once per SCAN_STATS_MAX_AGE_MS in each
    process: a wall of staff dashboards polling every 2 s would otherwise make the five
    aggregates (~30 ms with 20,000 tickets and 4,000 scans) once per poll. The answer's
    `computed_at` says how old it is; 0 reads every time (the tests' default)."""
    max_age = settings.SCAN_STATS_MAX_AGE_MS / 1000
    if max_age <= 0:
        return scan_stats(festival=festival)
    lock = _recent_locks.setdefault(festival.pk, threading.Lock())  # setdefault: atomic
    with lock:
        found = _recent.get(festival.pk)
        if found is not None and time.monotonic() - found[0] < max_age:
            return found[1]
        started = time.monotonic()
        stats = scan_stats(festival=festival)
        _recent[festival.pk] = (started, stats)
        return stats


# --- scan log ------------------------------------------------------------------------------


def _encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"scanlog:{pk}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "scanlog":
            raise ValueError
        return int(pk)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Bad cursor.", "after") from None


@dataclass(frozen=True)
class ScanLogPage:
    rows: list[tuple[str, ScanLog]]
    has_next: bool
    end_cursor: str | None


def scan_log_page(
    *, festival: Festival, first: int, after: str | None = None, gate_id=None, device_id=None, verdict: str | None = None,
    since: dt.datetime | None = None, until: dt.datetime | None = None, max_page: int = 100,
) -> ScanLogPage:
    """Newest first, keyset-paginated on the primary key (stable while scans keep arriving)."""
    if first < 1 or first > max_page:
        raise DomainError(CommonErrorCode.INVALID_INPUT, f"first must be between 1 and {max_page}.", "first")
    qs = ScanLog.objects.filter(festival=festival).select_related(
        "ticket__holder", "ticket_type", "gate", "device", "staff_user", "first_used_gate"
    )
    try:
        if gate_id:
            qs = qs.filter(gate__public_id=uuid.UUID(str(gate_id)))
        if device_id:
            qs = qs.filter(device__public_id=uuid.UUID(str(device_id)))
    except ValueError:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Bad id.", "gateId" if gate_id else "deviceId") from None
    if verdict:
        qs = qs.filter(verdict=verdict)
    if since:
        qs = qs.filter(scanned_at__gte=since)
    if until:
        qs = qs.filter(scanned_at__lt=until)
    if after:
        qs = qs.filter(pk__lt=_decode_cursor(after))
    rows = list(qs.order_by("-pk")[: first + 1])
    has_next = len(rows) > first
    rows = rows[:first]
    edges = [(_encode_cursor(r.pk), r) for r in rows]
    return ScanLogPage(edges, has_next, edges[-1][0] if edges else None)


# --- offline scanner delta -----------------------------------------------------------------

# Rows committed slightly out of timestamp order are caught by re-sending the last seconds
# of every window; entries are states, so a scanner applying one twice is harmless.
SYNC_OVERLAP = dt.timedelta(seconds=10)


@dataclass(frozen=True)
class RevokedTicket:
    ticket_id: uuid.UUID
    # Codes with a version below this are refused; with status != valid every version is.
    current_version: int
    status: str


@dataclass(frozen=True)
class UsedTicket:
    ticket_id: uuid.UUID
    inside: bool
    admissions: int
    first_admitted_at: dt.datetime | None
    day: dt.date | None
    days_admitted: list[str]


@dataclass(frozen=True)
class ScannerSync:
    cursor: str
    revoked: list[RevokedTicket]
    used: list[UsedTicket]


def _sync_cursor(at: dt.datetime) -> str:
    return base64.urlsafe_b64encode(f"sync:{at.isoformat()}".encode()).decode()


def _changed_since(cursor: str | None) -> dt.datetime | None:
    """The earliest change time to report for a cursor we issued (its time less SYNC_OVERLAP)."""
    if not cursor:
        return None
    try:
        kind, _, stamp = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "sync":
            raise ValueError
        at = dt.datetime.fromisoformat(stamp)
        if at.tzinfo is None:  # ours always carry their offset
            raise ValueError
        return at - SYNC_OVERLAP
    except (ValueError, UnicodeError, OverflowError):  # year 1 less the overlap overflows
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Bad cursor.", "since") from None


def scanner_sync(*, festival: Festival, since: str | None, limit: int = 5000) -> ScannerSync:
    """What changed since `since` (all of it for none): tickets whose old codes must be refused
    (voided, refunded, or a newer secret version) and tickets used at the gates."""
    start = now()
    after = _changed_since(since)
    tickets = Ticket.objects.filter(ticket_type__festival=festival).filter(
        ~Q(status=Ticket.Status.VALID) | Q(secret_version__gt=1)
    )
    states = TicketEntryState.objects.filter(ticket__ticket_type__festival=festival, admissions__gt=0)
    if after is not None:
        tickets = tickets.filter(updated_at__gte=after)
        states = TicketEntryState.objects.filter(ticket__ticket_type__festival=festival, updated_at__gte=after)
    revoked = [
        RevokedTicket(pid, version, status)
        for pid, version, status in tickets.values_list("public_id", "secret_version", "status")[:limit]
    ]
    used = [
        UsedTicket(s.ticket.public_id, s.inside, s.admissions, s.first_admitted_at, s.day, list(s.days_admitted))
        for s in states.select_related("ticket")[:limit]
    ]
    return ScannerSync(_sync_cursor(start), revoked, used)


# --- supervisor lookup ---------------------------------------------------------------------


@dataclass(frozen=True)
class LookupRow:
    ticket: Ticket
    state: TicketEntryState | None
    order_number: str


def ticket_lookup(*, festival: Festival, query: str, limit: int = 20) -> list[LookupRow]:
    """Tickets of this festival by holder name (contains), holder email or order number (exact)."""
    query = (query or "").strip()
    if len(query) < 3:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Type at least three characters.", "query")
    match = Q(holder__email__iexact=query) | Q(order_line__order__number__iexact=query) | Q(holder__full_name__icontains=query)
    tickets = (
        Ticket.objects.filter(ticket_type__festival=festival)
        .filter(match)
        .select_related("holder", "ticket_type", "order_line__order", "entry_state__first_gate")
        .order_by("holder__full_name", "id")[:limit]
    )
    rows = []
    for t in tickets:
        state = t.entry_state if hasattr(t, "entry_state") else None
        rows.append(LookupRow(t, state, t.order_line.order.number if t.order_line_id else ""))
    return rows


def device_list(*, festival: Festival) -> list[ScannerDevice]:
    return list(ScannerDevice.objects.filter(gate__festival=festival).select_related("gate"))


def gate_list(*, festival: Festival) -> list[Gate]:
    return list(Gate.objects.filter(festival=festival))
