"""Reads about vendors and booths. Who may see what is decided here by filters, never by the caller."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from domains.accounts.models import User
from domains.common.errors import DomainError
from domains.events.models import Festival
from domains.vendors.errors import VendorErrorCode
from domains.vendors.models import Booth, BoothAssignment, VendorProfile, VendorReview
from domains.vendors.setup_qr import setup_qr_encode

# Keyset pagination orders (unique: public_id breaks ties); see schema/pagination.py.
VENDOR_ORDER = ("business_name", "public_id")
BOOTH_ORDER = ("code", "public_id")


def _active_assignments(festival: Festival | None = None) -> QuerySet[BoothAssignment]:
    qs = BoothAssignment.objects.filter(ended_at__isnull=True).select_related("booth", "vendor")
    return qs.filter(festival=festival) if festival is not None else qs


def _with_assignments(qs: QuerySet[VendorProfile], festival: Festival | None) -> QuerySet[VendorProfile]:
    """Each profile gets `current_assignments`: its live assignments (at `festival` when given)."""
    return qs.prefetch_related(
        Prefetch("assignments", queryset=_active_assignments(festival), to_attr="current_assignments")
    )


def _search(qs: QuerySet, search: str | None, fields: tuple[str, ...]) -> QuerySet:
    search = (search or "").strip()[:100]
    if not search:
        return qs
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__icontains": search})
    return qs.filter(condition)


def vendor_public_list(
    *, festival: Festival | None = None, category: str | None = None, search: str | None = None
) -> QuerySet[VendorProfile]:
    """Approved vendors only (the public never sees drafts, rejections or suspensions)."""
    qs = VendorProfile.objects.filter(status=VendorProfile.Status.APPROVED)
    if category:
        qs = qs.filter(category=category)
    qs = _search(qs, search, ("business_name", "description"))
    return _with_assignments(qs, festival).order_by(*VENDOR_ORDER)


def vendor_admin_list(
    *, status: str | None = None, category: str | None = None, search: str | None = None
) -> QuerySet[VendorProfile]:
    qs = VendorProfile.objects.select_related("owner")
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    qs = _search(qs, search, ("business_name", "description", "contact_email", "owner__email"))
    return _with_assignments(qs, None).prefetch_related("reviews").order_by(*VENDOR_ORDER)


def vendor_profile_of(user: User) -> VendorProfile | None:
    """The user's own profile (nobody reads another's through this)."""
    qs = VendorProfile.objects.filter(owner=user).select_related("owner").prefetch_related("reviews")
    return _with_assignments(qs, None).first()


def vendor_reviews(profile: VendorProfile) -> list[VendorReview]:
    """Newest first (the model's ordering); uses the prefetched rows when there are some."""
    return list(profile.reviews.all())


def booth_list(
    *,
    festival_slug: str | None = None,
    zone: str | None = None,
    size: str | None = None,
    assigned: bool | None = None,
    search: str | None = None,
) -> QuerySet[Booth]:
    """Booths with `current_assignments` (zero or one live assignment each)."""
    qs = Booth.objects.select_related("festival")
    if festival_slug:
        qs = qs.filter(festival__slug=festival_slug)
    if zone:
        qs = qs.filter(zone__iexact=zone)
    if size:
        qs = qs.filter(size=size)
    if assigned is not None:
        live = BoothAssignment.objects.filter(booth=OuterRef("pk"), ended_at__isnull=True)
        qs = qs.filter(Exists(live)) if assigned else qs.exclude(Exists(live))
    qs = _search(qs, search, ("code", "zone", "notes"))
    return qs.prefetch_related(
        Prefetch("assignments", queryset=_active_assignments(), to_attr="current_assignments")
    ).order_by(*BOOTH_ORDER)


def vendor_current_assignment(profile: VendorProfile) -> BoothAssignment | None:
    """The vendor's live assignment with the latest setup window (one per festival)."""
    return (
        BoothAssignment.objects.filter(vendor=profile, ended_at__isnull=True)
        .select_related("booth", "booth__festival")
        .order_by("-setup_starts_at")
        .first()
    )


@dataclass(frozen=True)
class VendorDashboard:
    profile: VendorProfile | None
    assignment: BoothAssignment | None
    reviews: list[VendorReview]


def vendor_dashboard(user: User) -> VendorDashboard:
    profile = vendor_profile_of(user)
    if profile is None:
        return VendorDashboard(profile=None, assignment=None, reviews=[])
    return VendorDashboard(
        profile=profile, assignment=vendor_current_assignment(profile), reviews=vendor_reviews(profile)
    )


def vendor_setup_qr(user: User) -> tuple[str, BoothAssignment]:
    """The signed setup code of the user's current booth: only for an approved vendor with a booth."""
    profile = VendorProfile.objects.filter(owner=user).first()
    if profile is None or profile.status != VendorProfile.Status.APPROVED:
        raise DomainError(VendorErrorCode.VENDOR_NOT_APPROVED, "Setup passes are for approved vendors.")
    assignment = vendor_current_assignment(profile)
    if assignment is None:
        raise DomainError(VendorErrorCode.BOOTH_NOT_ASSIGNED, "You have no booth yet.")
    return setup_qr_encode(assignment), assignment
