"""Vendor crews entering during setup with the vendor's setup QR (called by the gate scan)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.db.models import F

from domains.common.clock import now
from domains.vendors.models import BoothAssignment, VendorProfile, VendorSetupEntry
from domains.vendors.setup_qr import setup_qr_decode


class VendorSetupVerdict(StrEnum):
    VENDOR_SETUP_ADMITTED = "VENDOR_SETUP_ADMITTED"
    # Authentic code, but not between setup_starts_at and setup_ends_at.
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    # Every crew pass of the assignment has been used.
    CREW_LIMIT_REACHED = "CREW_LIMIT_REACHED"
    # The vendor is suspended, or no longer approved (under re-review after a critical edit).
    SUSPENDED = "SUSPENDED"
    # Malformed, forged, another kind of code, an ended assignment or an old version.
    INVALID = "INVALID"


@dataclass(frozen=True)
class SetupScanResult:
    verdict: VendorSetupVerdict
    message: str
    assignment: BoothAssignment | None = None
    vendor_name: str = ""
    booth_code: str = ""
    zone: str = ""
    crew_entries: int = 0
    crew_limit: int = 0


def vendor_setup_scan(
    code: str, gate: str, at: dt.datetime | None = None, *, festival_id: int | None = None
) -> SetupScanResult:
    """Answer one scan of a setup QR at `gate` (at `at`, default now) with a verdict.

    Pass `festival_id` (the gate's festival) so that a code for another festival's booth is
    INVALID at this gate.

    Checked in this order: authentic and current (INVALID), vendor approved (SUSPENDED),
    inside the setup window (OUTSIDE_WINDOW), a crew pass left (CREW_LIMIT_REACHED). An
    admission counts one crew entry under the assignment's row lock, so concurrent scans at
    several gates never admit more than `crew_limit` people. A refusal writes nothing; the
    gate's scan log (domains/scanning) records every scan with its verdict.
    """
    decoded = setup_qr_decode(code)
    if decoded is None:
        return SetupScanResult(VendorSetupVerdict.INVALID, "Not a valid vendor setup code.")
    public_id, version = decoded
    at = at or now()
    with transaction.atomic():
        assignment = (
            BoothAssignment.objects.select_for_update(of=("self",))
            .select_related("vendor", "booth")
            .filter(public_id=public_id)
            .first()
        )
        if (
            assignment is None
            or assignment.ended_at is not None
            or assignment.qr_version != version
            or (festival_id is not None and assignment.festival_id != festival_id)
        ):
            return SetupScanResult(VendorSetupVerdict.INVALID, "This setup code is no longer valid.")
        vendor, booth = assignment.vendor, assignment.booth
        details = {
            "assignment": assignment,
            "vendor_name": vendor.business_name,
            "booth_code": booth.code,
            "zone": booth.zone,
            "crew_limit": assignment.crew_limit,
            "crew_entries": assignment.crew_entries,
        }
        if vendor.status != VendorProfile.Status.APPROVED:
            return SetupScanResult(VendorSetupVerdict.SUSPENDED, f"The vendor is {vendor.status}.", **details)
        if not assignment.setup_starts_at <= at < assignment.setup_ends_at:
            return SetupScanResult(VendorSetupVerdict.OUTSIDE_WINDOW, "Outside the setup window.", **details)
        if assignment.crew_entries >= assignment.crew_limit:
            return SetupScanResult(VendorSetupVerdict.CREW_LIMIT_REACHED, "Every crew pass is used.", **details)
        BoothAssignment.objects.filter(pk=assignment.pk).update(crew_entries=F("crew_entries") + 1)
        VendorSetupEntry.objects.create(assignment=assignment, gate=(gate or "")[:64], scanned_at=at)
        assignment.crew_entries += 1
        details["crew_entries"] = assignment.crew_entries
        return SetupScanResult(VendorSetupVerdict.VENDOR_SETUP_ADMITTED, "Crew member admitted for setup.", **details)
