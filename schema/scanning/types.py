"""GraphQL types of the gates: verdicts, scan results, logs, statistics, devices."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from domains.scanning import selectors
from domains.scanning.models import Direction, ScanLog, ScannerDevice, TicketTypeEntryRule, Verdict
from domains.scanning.services import ScanResult, is_supervisor
from schema.context import get_viewer
from schema.errors import Error
from schema.permissions import STAFF_ROLES, HasRole, IsAuthenticated

ScanVerdict = strawberry.enum(
    Enum("ScanVerdict", {v.value: v.value for v in Verdict}),
    description="A gate's answer. Refusals are normal answers, not errors.",
)
ScanDirection = strawberry.enum(Enum("ScanDirection", {d.value: d.value for d in Direction}))
EntryMode = strawberry.enum(Enum("EntryMode", {m.name: m.value for m in TicketTypeEntryRule.Mode}))


@strawberry.enum
class BatchOutcome(Enum):
    STOOD = "STOOD"
    # The device admitted someone the server would not (already used elsewhere, refunded...).
    CONFLICT = "CONFLICT"


class IsGateSupervisor(BasePermission):
    message = "A gate supervisor must do this."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs) -> bool:
        viewer = get_viewer(info)
        return viewer is not None and is_supervisor(viewer.user)


def supervisor_only():
    return [PermissionExtension(permissions=[IsAuthenticated(), HasRole(*STAFF_ROLES), IsGateSupervisor()], use_directives=False)]


@strawberry.type
class VendorSetupInfo:
    vendor_name: str
    booth_code: str
    zone: str
    crew_entries: int
    crew_limit: int


@strawberry.type(name="ScanResult", description="The answer to one scan, with what a human at the gate should check.")
class ScanResultType:
    verdict: ScanVerdict
    message: str
    scanned_at: dt.datetime
    scan_id: uuid.UUID | None = strawberry.field(description="The scan log entry (null for scanValidate).")
    ticket_id: uuid.UUID | None
    holder_name: str | None = strawberry.field(description="Compare with an ID. Null for INVALID and VOIDED codes.")
    ticket_type_name: str | None
    first_used_at: dt.datetime | None = strawberry.field(description="ALREADY_USED: when it was first admitted (today, for daily passes).")
    first_used_gate: str | None
    gate: str
    replayed: bool = strawberry.field(description="The stored answer of an earlier scan with the same nonce.")
    offline: bool
    conflict: bool
    vendor: VendorSetupInfo | None

    @classmethod
    def from_result(cls, r: ScanResult) -> ScanResultType:
        vendor = None
        if r.vendor.get("vendor_name"):
            vendor = VendorSetupInfo(**{k: r.vendor[k] for k in ("vendor_name", "booth_code", "zone", "crew_entries", "crew_limit")})
        return cls(
            verdict=ScanVerdict(r.verdict.value), message=r.message, scanned_at=r.scanned_at, scan_id=r.scan_id,
            ticket_id=r.ticket_id, holder_name=r.holder_name or None, ticket_type_name=r.ticket_type_name or None,
            first_used_at=r.first_used_at, first_used_gate=r.first_used_gate or None, gate=r.gate,
            replayed=r.replayed, offline=r.offline, conflict=r.conflict, vendor=vendor,
        )


@strawberry.type
class ScanPayload:
    result: ScanResultType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.input
class OfflineScanInput:
    code: str
    scanned_at: dt.datetime
    nonce: str
    gate_id: strawberry.ID | None = strawberry.field(default=None, description="Must be the uploading device's gate when given.")
    device_id: strawberry.ID | None = strawberry.field(default=None, description="Must be the uploading device when given.")
    direction: ScanDirection = ScanDirection.ENTRY  # type: ignore[assignment]
    local_verdict: ScanVerdict = strawberry.field(default=ScanVerdict.ADMITTED, description="What the device showed.")  # type: ignore[assignment]


@strawberry.type
class OfflineScanResult:
    nonce: str
    outcome: BatchOutcome
    result: ScanResultType


@strawberry.type
class ScanBatchPayload:
    results: list[OfflineScanResult] | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ScannerKey:
    key_id: str
    algorithm: str = "Ed25519"
    public_key: str = strawberry.field(description="Raw 32-byte public key, base64url without padding.")
    code_format: str = strawberry.field(
        default="FT1.<keyId>.<kind>.<32 hex id>.<version>.<base64url signature over everything before the last dot>"
    )


@strawberry.type
class RevokedTicketType:
    ticket_id: uuid.UUID
    current_version: int = strawberry.field(description="Codes with a lower version are VOIDED.")
    status: str = strawberry.field(description="Anything but 'valid' voids every version.")


@strawberry.type
class UsedTicketType:
    ticket_id: uuid.UUID
    inside: bool
    admissions: int
    first_admitted_at: dt.datetime | None
    day: dt.date | None
    days_admitted: list[str]


@strawberry.type
class ScannerSyncType:
    cursor: str = strawberry.field(description="Pass as `since` next time.")
    revoked: list[RevokedTicketType]
    used: list[UsedTicketType]

    @classmethod
    def from_sync(cls, s: selectors.ScannerSync) -> ScannerSyncType:
        return cls(
            cursor=s.cursor,
            revoked=[RevokedTicketType(ticket_id=r.ticket_id, current_version=r.current_version, status=r.status) for r in s.revoked],
            used=[
                UsedTicketType(ticket_id=u.ticket_id, inside=u.inside, admissions=u.admissions, first_admitted_at=u.first_admitted_at, day=u.day, days_admitted=u.days_admitted)
                for u in s.used
            ],
        )


@strawberry.type
class GateType:
    id: uuid.UUID
    name: str


@strawberry.type
class ScannerDeviceType:
    id: uuid.UUID
    name: str
    gate: GateType
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def from_model(cls, d: ScannerDevice) -> ScannerDeviceType:
        return cls(id=d.public_id, name=d.name, gate=GateType(id=d.gate.public_id, name=d.gate.name), created_at=d.created_at, revoked_at=d.revoked_at)


@strawberry.type
class GatePayload:
    gate: GateType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ScannerDevicePayload:
    device: ScannerDeviceType | None = None
    token: str | None = strawberry.field(default=None, description="Shown once at registration; send it as the X-Device-Token header.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class EntryRulePayload:
    ok: bool | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ScanLogEntry:
    id: uuid.UUID
    verdict: ScanVerdict
    reason: str
    direction: ScanDirection
    method: str
    scanned_at: dt.datetime
    received_at: dt.datetime
    offline: bool
    conflict: bool
    undone: bool
    gate: GateType
    device_id: uuid.UUID | None
    device_name: str | None
    staff_name: str | None
    ticket_id: uuid.UUID | None
    holder_name: str | None
    ticket_type_name: str | None
    first_used_at: dt.datetime | None
    nonce: str | None
    note: str

    @classmethod
    def from_model(cls, r: ScanLog) -> ScanLogEntry:
        return cls(
            id=r.public_id, verdict=ScanVerdict(r.verdict), reason=r.reason, direction=ScanDirection(r.direction),
            method=r.method, scanned_at=r.scanned_at, received_at=r.received_at, offline=r.offline, conflict=r.conflict,
            undone=r.undone, gate=GateType(id=r.gate.public_id, name=r.gate.name),
            device_id=r.device.public_id if r.device else None, device_name=r.device.name if r.device else None,
            staff_name=(r.staff_user.full_name or r.staff_user.email) if r.staff_user else None,
            ticket_id=r.ticket.public_id if r.ticket else None,
            holder_name=r.ticket.holder.full_name if r.ticket else None,
            ticket_type_name=r.ticket_type.name if r.ticket_type else None,
            first_used_at=r.first_used_at, nonce=r.nonce, note=r.note,
        )


@strawberry.type
class ScanLogEdge:
    cursor: str
    node: ScanLogEntry


@strawberry.type
class PageInfo_:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ScanLogConnection:
    edges: list[ScanLogEdge]
    page_info: PageInfo_


@strawberry.type
class CountByKey:
    key: str
    count: int


@strawberry.type
class TicketTypeAdmissions:
    name: str
    admitted: int
    sold: int


@strawberry.type(name="ScanStats")
class ScanStatsType:
    event_id: uuid.UUID
    admitted_tickets: int = strawberry.field(description="Distinct tickets admitted at least once.")
    admissions: int = strawberry.field(description="Admission scans, re-entries and daily entries included.")
    inside: int
    sold: int
    admitted_ratio: float = strawberry.field(description="admittedTickets / sold.")
    by_ticket_type: list[TicketTypeAdmissions]
    by_gate: list[CountByKey]
    by_hour: list[CountByKey] = strawberry.field(description="Festival-local hour, YYYY-MM-DDTHH:00.")
    refusals: list[CountByKey] = strawberry.field(description="By verdict.")
    conflicts: int
    computed_at: dt.datetime = strawberry.field(description="When these figures were read from the database.")

    @classmethod
    def from_stats(cls, s: selectors.ScanStats) -> ScanStatsType:
        return cls(
            event_id=s.festival_id, admitted_tickets=s.admitted_tickets, admissions=s.admissions, inside=s.inside,
            sold=s.sold, admitted_ratio=s.admitted_ratio,
            by_ticket_type=[TicketTypeAdmissions(name=t.name, admitted=t.admitted, sold=t.sold) for t in s.by_ticket_type],
            by_gate=[CountByKey(key=c.key, count=c.count) for c in s.by_gate],
            by_hour=[CountByKey(key=c.key, count=c.count) for c in s.by_hour],
            refusals=[CountByKey(key=c.key, count=c.count) for c in s.refusals],
            conflicts=s.conflicts,
            computed_at=s.computed_at,
        )


@strawberry.type
class TicketLookupResult:
    ticket_id: uuid.UUID
    holder_name: str
    holder_email: str
    ticket_type_name: str
    status: str
    order_number: str | None
    admissions: int
    inside: bool
    first_admitted_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: selectors.LookupRow) -> TicketLookupResult:
        t, s = row.ticket, row.state
        return cls(
            ticket_id=t.public_id, holder_name=t.holder.full_name, holder_email=t.holder.email,
            ticket_type_name=t.ticket_type.name, status=t.status, order_number=row.order_number or None,
            admissions=s.admissions if s else 0, inside=bool(s and s.inside), first_admitted_at=s.first_admitted_at if s else None,
        )
