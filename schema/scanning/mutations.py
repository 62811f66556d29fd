"""Scanning mutations. The scanner app sends the staff member's `Authorization: Bearer` token
and its device token in the `X-Device-Token` header (a header, not an argument, so that the
secret stays out of logged variables and persisted queries)."""

from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.scanning import selectors, services
from domains.scanning.services import OfflineScan
from schema.context import FestivalContext, require_viewer
from schema.errors import payload_errors
from schema.permissions import admin_only, staff_only
from schema.scanning.types import (
    BatchOutcome,
    EntryMode,
    EntryRulePayload,
    GatePayload,
    GateType,
    OfflineScanInput,
    OfflineScanResult,
    ScanBatchPayload,
    ScanDirection,
    ScannerDevicePayload,
    ScannerDeviceType,
    ScanPayload,
    ScanResultType,
    supervisor_only,
)

DEVICE_TOKEN_HEADER = "X-Device-Token"


def _device(info: Info, device_id):
    context = info.context
    if not isinstance(context, FestivalContext):
        return services.device_authenticate(device_id=device_id, token=None)
    token = context.request.headers.get(DEVICE_TOKEN_HEADER)
    return services.device_authenticate(device_id=device_id, token=token, versions=context.auth_versions)


@strawberry.type
class ScanningMutation:
    @strawberry_django.mutation(extensions=staff_only(), description="What a scan would answer now; writes nothing.")
    @payload_errors(ScanPayload)
    def scan_validate(self, info: Info, code: str, gate: strawberry.ID, direction: ScanDirection = ScanDirection.ENTRY) -> ScanPayload:  # type: ignore[assignment]
        result = services.scan_validate(
            code=code, gate=services.gate_get(gate_id=gate), direction=direction.value, staff_user=require_viewer(info).user
        )
        return ScanPayload(result=ScanResultType.from_result(result))

    @strawberry_django.mutation(
        extensions=staff_only(),
        description="Scan at the gate and admit. Needs the device's token in the X-Device-Token header. "
        "Send a fresh `nonce` per physical scan: a retry with the same nonce returns the first answer.",
    )
    @payload_errors(ScanPayload)
    def scan_commit(
        self, info: Info, code: str, device_id: strawberry.ID, gate: strawberry.ID | None = None,
        nonce: str | None = None, direction: ScanDirection = ScanDirection.ENTRY,  # type: ignore[assignment]
    ) -> ScanPayload:
        device = _device(info, device_id)
        result = services.scan_commit(
            code=code, gate=services.device_gate(device=device, claimed_gate_id=gate), device=device, staff_user=require_viewer(info).user, nonce=nonce,
            direction=direction.value,
        )
        return ScanPayload(result=ScanResultType.from_result(result))

    @strawberry_django.mutation(
        extensions=staff_only(),
        description="Upload scans made offline (X-Device-Token of the uploading device). Applied in time order; "
        "uploading the same scans again changes nothing.",
    )
    @payload_errors(ScanBatchPayload)
    def scan_commit_batch(self, info: Info, device_id: strawberry.ID, scans: list[OfflineScanInput]) -> ScanBatchPayload:
        device = _device(info, device_id)
        results = services.scan_commit_batch(
            device=device,
            staff_user=require_viewer(info).user,
            scans=[
                OfflineScan(code=s.code, scanned_at=s.scanned_at, nonce=s.nonce, gate_id=s.gate_id, device_id=s.device_id, direction=s.direction.value, local_verdict=s.local_verdict.value)
                for s in scans
            ],
        )
        return ScanBatchPayload(
            results=[
                OfflineScanResult(nonce=s.nonce, outcome=BatchOutcome.CONFLICT if r.conflict else BatchOutcome.STOOD, result=ScanResultType.from_result(r))
                for s, r in zip(scans, results, strict=True)
            ]
        )

    @strawberry_django.mutation(extensions=supervisor_only(), description="Supervisors: admit a ticket by hand (same rules as a scan; logged).")
    @payload_errors(ScanPayload)
    def scan_manual_admit(self, info: Info, ticket_id: strawberry.ID, gate: strawberry.ID, note: str = "") -> ScanPayload:
        result = services.scan_manual_admit(
            ticket_id=ticket_id, gate=services.gate_get(gate_id=gate), supervisor=require_viewer(info).user, note=note
        )
        return ScanPayload(result=ScanResultType.from_result(result))

    @strawberry_django.mutation(extensions=supervisor_only(), description="Supervisors: undo a mistaken admission (logged).")
    @payload_errors(ScanPayload)
    def scan_restore(self, info: Info, ticket_id: strawberry.ID, gate: strawberry.ID, note: str = "") -> ScanPayload:
        result = services.scan_restore(
            ticket_id=ticket_id, gate=services.gate_get(gate_id=gate), supervisor=require_viewer(info).user, note=note
        )
        return ScanPayload(result=ScanResultType.from_result(result))

    @strawberry_django.mutation(extensions=admin_only())
    @payload_errors(GatePayload)
    def create_gate(self, info: Info, name: str, event_id: strawberry.ID | None = None) -> GatePayload:
        gate = services.gate_create(festival=selectors.festival_for_event(event_id), name=name)
        return GatePayload(gate=GateType(id=gate.public_id, name=gate.name))

    @strawberry_django.mutation(extensions=admin_only(), description="Entry rule of a ticket type (empty gateIds: every gate).")
    @payload_errors(EntryRulePayload)
    def set_entry_rule(
        self, info: Info, ticket_type_id: strawberry.ID, mode: EntryMode, allow_exit: bool = False,
        gate_ids: list[strawberry.ID] | None = None,
    ) -> EntryRulePayload:
        services.entry_rule_set(ticket_type_id=ticket_type_id, mode=mode.value, allow_exit=allow_exit, gate_ids=gate_ids or [])
        return EntryRulePayload(ok=True)

    @strawberry_django.mutation(extensions=staff_only(), description="Register a scanner at a gate; the token is shown once.")
    @payload_errors(ScannerDevicePayload)
    def register_scanner_device(self, info: Info, gate_id: strawberry.ID, name: str) -> ScannerDevicePayload:
        registered = services.scanner_device_register(gate_id=gate_id, name=name, registered_by=require_viewer(info).user)
        return ScannerDevicePayload(device=ScannerDeviceType.from_model(registered.device), token=registered.token)

    @strawberry_django.mutation(extensions=staff_only(), description="Revoke a scanner's token (a lost phone).")
    @payload_errors(ScannerDevicePayload)
    def revoke_scanner_device(self, info: Info, device_id: strawberry.ID) -> ScannerDevicePayload:
        device = services.scanner_device_revoke(device_id=device_id, revoked_by=require_viewer(info).user)
        return ScannerDevicePayload(device=ScannerDeviceType.from_model(device))

    @strawberry_django.mutation(extensions=staff_only(), description="Move a scanner to another gate.")
    @payload_errors(ScannerDevicePayload)
    def move_scanner_device(self, info: Info, device_id: strawberry.ID, gate_id: strawberry.ID) -> ScannerDevicePayload:
        device = services.scanner_device_rebind(device_id=device_id, gate_id=gate_id)
        return ScannerDevicePayload(device=ScannerDeviceType.from_model(device))
