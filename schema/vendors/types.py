"""Vendor types. Two views of a profile: `Vendor` (public: no contact, status, needs or notes)
and `VendorProfile` (the owner and staff). Nested objects are flattened where a deeper shape
would run into the query depth limit inside a paginated list."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry

from domains.vendors import models
from schema.errors import Error

VendorCategory = strawberry.enum(Enum("VendorCategory", {c.name: c.value for c in models.VendorCategory}))
VendorStatus = strawberry.enum(Enum("VendorStatus", {s.name: s.value for s in models.VendorProfile.Status}))
BoothSize = strawberry.enum(Enum("BoothSize", {s.name: s.value for s in models.BoothSize}))
VendorReviewAction = strawberry.enum(
    Enum("VendorReviewAction", {a.name: a.value for a in models.VendorReview.Action})
)


@strawberry.enum(description="A reviewer's decision on a vendor.")
class VendorDecision(Enum):
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"


def _current(obj) -> models.BoothAssignment | None:
    """The prefetched live assignment (selectors set `current_assignments`)."""
    current = getattr(obj, "current_assignments", None)
    return current[0] if current else None


@strawberry.type(name="BoothLocation", description="Where a vendor stands on the site map.")
class BoothLocationType:
    code: str
    zone: str
    map_x: float | None
    map_y: float | None

    @classmethod
    def from_model(cls, booth: models.Booth) -> BoothLocationType:
        return cls(code=booth.code, zone=booth.zone, map_x=booth.map_x, map_y=booth.map_y)


@strawberry.type(name="Vendor", description="An approved vendor as the public sees it.")
class VendorType:
    id: uuid.UUID
    business_name: str
    category: VendorCategory | None
    description: str
    logo_url: str
    website_url: str
    social_links: list[str]
    highlights: list[str] = strawberry.field(description="Menu items or products.")
    booth: BoothLocationType | None = strawberry.field(description="The booth at the festival asked about.")

    @classmethod
    def from_model(cls, p: models.VendorProfile) -> VendorType:
        assignment = _current(p)
        return cls(
            id=p.public_id,
            business_name=p.business_name,
            category=VendorCategory(p.category) if p.category else None,
            description=p.description,
            logo_url=p.logo_url,
            website_url=p.website_url,
            social_links=list(p.social_links),
            highlights=list(p.highlights),
            booth=BoothLocationType.from_model(assignment.booth) if assignment else None,
        )


@strawberry.type(name="BoothAssignment")
class BoothAssignmentType:
    id: uuid.UUID
    vendor_id: uuid.UUID
    vendor_name: str
    booth_id: uuid.UUID
    booth_code: str
    zone: str
    assigned_at: dt.datetime
    setup_starts_at: dt.datetime
    setup_ends_at: dt.datetime
    setup_instructions: str
    crew_limit: int
    crew_entries_used: int

    @classmethod
    def from_model(cls, a: models.BoothAssignment) -> BoothAssignmentType:
        return cls(
            id=a.public_id,
            vendor_id=a.vendor.public_id,
            vendor_name=a.vendor.business_name,
            booth_id=a.booth.public_id,
            booth_code=a.booth.code,
            zone=a.booth.zone,
            assigned_at=a.assigned_at,
            setup_starts_at=a.setup_starts_at,
            setup_ends_at=a.setup_ends_at,
            setup_instructions=a.setup_instructions,
            crew_limit=a.crew_limit,
            crew_entries_used=a.crew_entries,
        )


@strawberry.type(name="Booth")
class BoothType:
    id: uuid.UUID
    festival_slug: str
    code: str
    zone: str
    size: BoothSize
    power_amps: int
    price_amount: int = strawberry.field(description="Minor units of `currency`.")
    currency: str
    map_x: float | None
    map_y: float | None
    notes: str
    is_active: bool
    assigned: bool
    assignment: BoothAssignmentType | None = strawberry.field(description="The current assignment, if any.")

    @classmethod
    def from_model(cls, b: models.Booth, assignment: models.BoothAssignment | None = None) -> BoothType:
        assignment = assignment or _current(b)
        return cls(
            id=b.public_id,
            festival_slug=b.festival.slug,
            code=b.code,
            zone=b.zone,
            size=BoothSize(b.size),
            power_amps=b.power_amps,
            price_amount=b.price_amount,
            currency=b.currency,
            map_x=b.map_x,
            map_y=b.map_y,
            notes=b.notes,
            is_active=b.is_active,
            assigned=assignment is not None,
            assignment=BoothAssignmentType.from_model(assignment) if assignment else None,
        )


@strawberry.type(name="VendorReview")
class VendorReviewType:
    action: VendorReviewAction
    from_status: VendorStatus
    to_status: VendorStatus
    note: str
    created_at: dt.datetime

    @classmethod
    def from_model(cls, r: models.VendorReview) -> VendorReviewType:
        return cls(
            action=VendorReviewAction(r.action),
            from_status=VendorStatus(r.from_status),
            to_status=VendorStatus(r.to_status),
            note=r.note,
            created_at=r.created_at,
        )


@strawberry.type(name="VendorProfile", description="A vendor's full profile: the owner's and staff's view.")
class VendorProfileType:
    id: uuid.UUID
    owner_email: str
    business_name: str
    category: VendorCategory | None
    description: str
    logo_url: str
    website_url: str
    social_links: list[str]
    highlights: list[str]
    contact_email: str
    contact_phone: str
    power_amps: int
    space_size: BoothSize | None
    space_notes: str
    crew_size: int
    status: VendorStatus
    review_note: str
    submitted_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    editable_fields: list[str] = strawberry.field(
        description="Input fields the owner may change now; a change to one in `criticalFields` while "
        "approved sends the profile back for review."
    )
    critical_fields: list[str]
    booth: BoothAssignmentType | None
    review_history: list[VendorReviewType] = strawberry.field(description="Newest first.")

    @classmethod
    def from_model(cls, p: models.VendorProfile) -> VendorProfileType:
        from domains.vendors.services.profile import CRITICAL_FIELDS, EDITABLE_STATUSES, FIELD_NAMES

        assignment = _current(p)
        return cls(
            id=p.public_id,
            owner_email=p.owner.email,
            business_name=p.business_name,
            category=VendorCategory(p.category) if p.category else None,
            description=p.description,
            logo_url=p.logo_url,
            website_url=p.website_url,
            social_links=list(p.social_links),
            highlights=list(p.highlights),
            contact_email=p.contact_email,
            contact_phone=p.contact_phone,
            power_amps=p.power_amps,
            space_size=BoothSize(p.space_size) if p.space_size else None,
            space_notes=p.space_notes,
            crew_size=p.crew_size,
            status=VendorStatus(p.status),
            review_note=p.review_note,
            submitted_at=p.submitted_at,
            reviewed_at=p.reviewed_at,
            created_at=p.created_at,
            updated_at=p.updated_at,
            editable_fields=list(FIELD_NAMES.values()) if p.status in EDITABLE_STATUSES else [],
            critical_fields=[FIELD_NAMES[f] for f in CRITICAL_FIELDS],
            booth=BoothAssignmentType.from_model(assignment) if assignment else None,
            review_history=[VendorReviewType.from_model(r) for r in p.reviews.all()],
        )


@strawberry.type
class VendorDashboard:
    profile: VendorProfileType | None = strawberry.field(description="Null until the vendor starts a profile.")
    status: VendorStatus | None
    review_note: str
    booth: BoothType | None
    assignment: BoothAssignmentType | None = strawberry.field(
        description="Setup window, instructions and crew passes of the current booth."
    )
    crew_passes_used: int
    crew_passes_total: int
    reviews: list[VendorReviewType]


@strawberry.input
class VendorProfileInput:
    """Fields left out (null) stay as they are."""

    business_name: str | None = None
    category: VendorCategory | None = None
    description: str | None = None
    logo_url: str | None = None
    website_url: str | None = None
    social_links: list[str] | None = None
    highlights: list[str] | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    power_amps: int | None = None
    space_size: BoothSize | None = None
    space_notes: str | None = None
    crew_size: int | None = None


@strawberry.type
class VendorProfilePayload:
    profile: VendorProfileType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class AssignBoothPayload:
    assignment: BoothAssignmentType | None = None
    booth: BoothType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class UnassignBoothPayload:
    booth: BoothType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class VendorSetupQrPayload:
    code: str | None = strawberry.field(default=None, description="The signed setup code (FT1.<kid>.V....).")
    svg: str | None = strawberry.field(default=None, description="The code as an SVG QR image.")
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    crew_limit: int | None = None
    crew_entries_used: int | None = None
    booth_code: str | None = None
    errors: list[Error] = strawberry.field(default_factory=list)
