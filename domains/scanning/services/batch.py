"""Offline scans uploaded later (`scanCommitBatch`).

Scans are applied in the order they were made (device time), each in its own transaction
through the same `scan_commit` as online scans, so the entry rules and the ticket lock are the
same. An entry scan the device admitted but the server would not (someone else was let in first,
the ticket was refunded meanwhile) is recorded with `conflict=True` for staff, never dropped; an
exit scan admits no one, so it is never a conflict.
Re-uploading a batch is a no-op: every scan carries its device's nonce, and (device, nonce)
is unique, so a scan already stored answers with its stored result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError
from domains.common.ratelimit import enforce
from domains.scanning.errors import ScanningErrorCode
from domains.scanning.models import Direction, ScannerDevice, Verdict
from domains.scanning.services.commit import ScanResult, believed_scan_time, scan_commit
from domains.scanning.services.devices import device_gate

MAX_BATCH = 500


@dataclass(frozen=True)
class OfflineScan:
    code: str
    scanned_at: dt.datetime
    nonce: str
    gate_id: str | None = None
    direction: str = Direction.ENTRY
    device_id: str | None = None  # when the scan names its device, it must be the uploader
    # What the device showed at the time; a local ADMITTED the server cannot confirm is a conflict.
    local_verdict: str = Verdict.ADMITTED


def scan_commit_batch(*, device: ScannerDevice, staff_user, scans: list[OfflineScan]) -> list[ScanResult]:
    """Results in the order of `scans`; applied in the order of their believed times
    (`believed_scan_time`; ties keep upload order). Every scan is logged at the uploading
    device's gate, as online: one naming another gate refuses the upload (DEVICE_GATE_MISMATCH,
    `scans.<i>.gateId`), and a closed gate's scanner uploads nothing (GATE_NOT_FOUND)."""
    if len(scans) > MAX_BATCH:
        raise DomainError(ScanningErrorCode.BATCH_TOO_LARGE, f"At most {MAX_BATCH} scans per upload.", "scans")
    for i, scan in enumerate(scans):
        if not (scan.nonce or "").strip():
            raise DomainError(CommonErrorCode.INVALID_INPUT, "Every offline scan needs a nonce.", f"scans.{i}.nonce")
        if scan.device_id is not None and str(scan.device_id) != str(device.public_id):
            raise DomainError(ScanningErrorCode.DEVICE_NOT_AUTHORISED, "A device uploads its own scans.", f"scans.{i}.deviceId")
        device_gate(device=device, claimed_gate_id=scan.gate_id, field=f"scans.{i}.gateId")
    # One upload counts as a few scans for the rate limit: a device catching up is not abuse.
    enforce(f"scan:batch:{device.pk}", limit=30, window=60, message="Too many uploads from this scanner.")
    received = now()
    order = sorted(range(len(scans)), key=lambda i: (believed_scan_time(scans[i].scanned_at, received), i))
    results: list[ScanResult | None] = [None] * len(scans)
    for i in order:
        scan = scans[i]
        results[i] = scan_commit(
            code=scan.code,
            gate=device.gate,
            device=device,
            staff_user=staff_user,
            nonce=scan.nonce,
            direction=scan.direction,
            scanned_at=scan.scanned_at,
            offline=True,
            # An exit's local verdict is no admission (the upload's default is ADMITTED for every
            # scan): only an entry can be an admission the server did not confirm.
            claimed_admitted=scan.direction == Direction.ENTRY and scan.local_verdict == Verdict.ADMITTED,
            throttled=False,
        )
    return results
