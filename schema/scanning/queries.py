"""Scanning queries: public keys for offline scanners, the offline delta, logs, stats, lookup."""

from __future__ import annotations

import datetime as dt
import functools

import strawberry
import strawberry_django
from django.conf import settings
from strawberry.types import Info

from domains.common.errors import DomainError
from domains.scanning import selectors
from schema.errors import graphql_error_from
from schema.permissions import public, staff_only
from schema.scanning.types import (
    GateType,
    PageInfo_,
    ScanLogConnection,
    ScanLogEdge,
    ScanLogEntry,
    ScannerDeviceType,
    ScannerKey,
    ScannerSyncType,
    ScanStatsType,
    ScanVerdict,
    TicketLookupResult,
    supervisor_only,
)


def domain_errors(resolver):
    """A query has no payload: an expected failure becomes a GraphQL error with its code."""

    @functools.wraps(resolver)
    def wrapper(*args, **kwargs):
        try:
            return resolver(*args, **kwargs)
        except DomainError as exc:
            raise graphql_error_from(exc) from None

    return wrapper


@strawberry.type
class ScanningQuery:
    @strawberry_django.field(extensions=public(), description="Ed25519 public keys (by key id) that verify ticket QR codes offline: the current key first, then the keys of earlier secrets whose codes are still accepted. Trust exactly this list; fetch it again when a code names a key id you do not know.")
    def scanner_keys(self, info: Info) -> list[ScannerKey]:
        return [ScannerKey(key_id=kid, public_key=key) for kid, key in selectors.scanner_keys()]

    @strawberry_django.field(
        extensions=staff_only(),
        description="For offline scanners: tickets whose codes must now be refused and tickets already used, "
        "changed since the cursor (everything without one).",
    )
    @domain_errors
    def scanner_sync(self, info: Info, since: str | None = None, event_id: strawberry.ID | None = None) -> ScannerSyncType:
        festival = selectors.festival_for_event(event_id)
        return ScannerSyncType.from_sync(selectors.scanner_sync(festival=festival, since=since))

    @strawberry_django.field(extensions=staff_only(), description="Every scan attempt, newest first.")
    @domain_errors
    def scan_logs(
        self,
        info: Info,
        event_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
        gate_id: strawberry.ID | None = None,
        device_id: strawberry.ID | None = None,
        verdict: ScanVerdict | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> ScanLogConnection:
        festival = selectors.festival_for_event(event_id)
        page = selectors.scan_log_page(
            festival=festival, first=first, after=after, gate_id=gate_id, device_id=device_id,
            verdict=verdict.value if verdict else None, since=since, until=until, max_page=settings.GRAPHQL_MAX_PAGE_SIZE,
        )
        return ScanLogConnection(
            edges=[ScanLogEdge(cursor=c, node=ScanLogEntry.from_model(r)) for c, r in page.rows],
            page_info=PageInfo_(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry_django.field(
        extensions=staff_only(),
        description="Admissions and refusals so far, as of `computedAt` (at most SCAN_STATS_MAX_AGE_MS old, "
        "1 s by default; subscribe to scanStatsUpdated for pushes).",
    )
    @domain_errors
    def scan_stats(self, info: Info, event_id: strawberry.ID | None = None) -> ScanStatsType:
        return ScanStatsType.from_stats(selectors.scan_stats_recent(festival=selectors.festival_for_event(event_id)))

    @strawberry_django.field(extensions=staff_only())
    @domain_errors
    def scan_gates(self, info: Info, event_id: strawberry.ID | None = None) -> list[GateType]:
        return [GateType(id=g.public_id, name=g.name) for g in selectors.gate_list(festival=selectors.festival_for_event(event_id))]

    @strawberry_django.field(extensions=staff_only())
    @domain_errors
    def scanner_devices(self, info: Info, event_id: strawberry.ID | None = None) -> list[ScannerDeviceType]:
        return [ScannerDeviceType.from_model(d) for d in selectors.device_list(festival=selectors.festival_for_event(event_id))]

    @strawberry_django.field(
        extensions=supervisor_only(),
        description="Supervisors: tickets by holder name, email or order number (for a dead phone).",
    )
    @domain_errors
    def ticket_lookup(self, info: Info, query: str, event_id: strawberry.ID | None = None) -> list[TicketLookupResult]:
        festival = selectors.festival_for_event(event_id)
        return [TicketLookupResult.from_row(r) for r in selectors.ticket_lookup(festival=festival, query=query)]
