"""Admins place approved vendors on booths.

One vendor per booth at a time and one booth per vendor per festival. Both rules are checked
under row locks (booth first, then vendor: one order everywhere, so two assignments cannot
deadlock) and backed by partial unique constraints, so a caller that skips the locks still
cannot create a second live assignment; it gets the same clean error.

Why one booth per vendor: the setup QR, the crew limit and the dashboard are per assignment,
and a vendor that needs more room gets a bigger booth. Moving a vendor is unassign + assign.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from domains.accounts.models import Role, User
from domains.accounts.services.validation import check_text
from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError, NotFound
from domains.events.models import Festival
from domains.notifications.services import email_enqueue
from domains.vendors.errors import VendorErrorCode
from domains.vendors.models import Booth, BoothAssignment, VendorProfile

MAX_CREW_LIMIT = 100
SETUP_OPENS = dt.time(8, 0)  # the day before the festival, local time
SETUP_CLOSES = dt.time(12, 0)  # on the first day, local time


def default_setup_window(festival: Festival) -> tuple[dt.datetime, dt.datetime]:
    """From 08:00 the day before the festival to 12:00 on its first day, festival-local."""
    zone = ZoneInfo(festival.timezone)
    starts = dt.datetime.combine(festival.starts_on - dt.timedelta(days=1), SETUP_OPENS, zone)
    ends = dt.datetime.combine(festival.starts_on, SETUP_CLOSES, zone)
    return starts, ends


# Row access is in these small functions so that the concurrency control test can switch the
# locks off and prove that the race they prevent is real.
def _locked_booth(booth_id: uuid.UUID) -> Booth | None:
    return Booth.objects.select_for_update(of=("self",)).select_related("festival").filter(public_id=booth_id).first()


def _locked_vendor(vendor_id: uuid.UUID) -> VendorProfile | None:
    return VendorProfile.objects.select_for_update(of=("self",)).select_related("owner").filter(public_id=vendor_id).first()


def _booth_holder(booth: Booth) -> BoothAssignment | None:
    return BoothAssignment.objects.filter(booth=booth, ended_at__isnull=True).first()


def _vendor_booth(vendor: VendorProfile, festival_id: int) -> BoothAssignment | None:
    return BoothAssignment.objects.filter(vendor=vendor, festival_id=festival_id, ended_at__isnull=True).first()


def _require_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise DomainError(CommonErrorCode.PERMISSION_DENIED, "Only admins place vendors on booths.")


def booth_assign(
    *,
    admin: User,
    vendor_id: uuid.UUID,
    booth_id: uuid.UUID,
    setup_starts_at: dt.datetime | None = None,
    setup_ends_at: dt.datetime | None = None,
    crew_limit: int | None = None,
    setup_instructions: str = "",
) -> BoothAssignment:
    """Give an approved vendor a free booth and email the vendor.

    Refused: an unapproved vendor (VENDOR_NOT_APPROVED), a booth that holds another vendor
    (BOOTH_ALREADY_ASSIGNED), a vendor that holds another booth at this festival
    (VENDOR_ALREADY_HAS_BOOTH). Assigning a vendor to the booth it already holds returns that
    assignment unchanged, so a retried request is harmless. The setup window defaults to
    `default_setup_window`, the crew limit to the crew size the vendor asked for.
    """
    _require_admin(admin)
    check_text(setup_instructions, field="setupInstructions", max_length=2000)
    if crew_limit is not None and not 1 <= crew_limit <= MAX_CREW_LIMIT:
        raise DomainError(CommonErrorCode.INVALID_INPUT, f"Between 1 and {MAX_CREW_LIMIT} people.", "crewLimit")
    with transaction.atomic():
        booth = _locked_booth(booth_id)
        if booth is None or not booth.is_active:
            raise NotFound("Booth", "boothId")
        vendor = _locked_vendor(vendor_id)
        if vendor is None:
            raise NotFound("Vendor", "vendorId")
        if vendor.status != VendorProfile.Status.APPROVED:
            raise DomainError(
                VendorErrorCode.VENDOR_NOT_APPROVED, f"The vendor is {vendor.status}, not approved.", "vendorId"
            )
        holder = _booth_holder(booth)
        if holder is not None:
            if holder.vendor_id == vendor.pk:
                return holder
            raise DomainError(VendorErrorCode.BOOTH_ALREADY_ASSIGNED, "The booth already holds a vendor.", "boothId")
        if _vendor_booth(vendor, booth.festival_id) is not None:
            raise DomainError(
                VendorErrorCode.VENDOR_ALREADY_HAS_BOOTH, "The vendor already holds a booth here.", "vendorId"
            )
        default_starts, default_ends = default_setup_window(booth.festival)
        starts = setup_starts_at or default_starts
        ends = setup_ends_at or default_ends
        if ends <= starts:
            raise DomainError(CommonErrorCode.INVALID_INPUT, "The setup window must end after it starts.", "setupEndsAt")
        try:
            with transaction.atomic():
                assignment = BoothAssignment.objects.create(
                    booth=booth,
                    vendor=vendor,
                    festival_id=booth.festival_id,
                    assigned_by=admin,
                    setup_starts_at=starts,
                    setup_ends_at=ends,
                    crew_limit=crew_limit or vendor.crew_size,
                    setup_instructions=setup_instructions.strip(),
                )
        except IntegrityError:
            # Only reachable when a caller bypassed the locks: the constraints decided.
            if _booth_holder(booth) is not None:
                raise DomainError(
                    VendorErrorCode.BOOTH_ALREADY_ASSIGNED, "The booth already holds a vendor.", "boothId"
                ) from None
            raise DomainError(
                VendorErrorCode.VENDOR_ALREADY_HAS_BOOTH, "The vendor already holds a booth here.", "vendorId"
            ) from None
        email_enqueue(
            key=f"vendor-booth-assigned:{assignment.public_id}",
            to_email=vendor.owner.email,
            template="vendor_booth_assigned",
            context={
                "vendor_id": str(vendor.public_id),
                "business_name": vendor.business_name,
                "booth_code": booth.code,
                "zone": booth.zone,
                "festival_name": booth.festival.name,
                "setup_starts_at": starts.isoformat(),
                "setup_ends_at": ends.isoformat(),
                "crew_limit": assignment.crew_limit,
            },
        )
    return assignment


def booth_unassign(*, admin: User, booth_id: uuid.UUID) -> BoothAssignment:
    """End the booth's current assignment (kept for history); its setup QR stops working."""
    _require_admin(admin)
    with transaction.atomic():
        booth = _locked_booth(booth_id)
        if booth is None:
            raise NotFound("Booth", "boothId")
        holder = _booth_holder(booth)
        if holder is None:
            raise DomainError(VendorErrorCode.BOOTH_NOT_ASSIGNED, "The booth holds no vendor.", "boothId")
        holder.ended_at = now()
        holder.ended_by = admin
        holder.save(update_fields=["ended_at", "ended_by"])
    return holder
