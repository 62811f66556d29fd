"""Vendor queries: the public list, the vendor's own views, the admin lists."""

from __future__ import annotations

import segno
import strawberry
import strawberry_django
from strawberry.types import Info

from domains.accounts.models import Role
from domains.events.selectors import festival_get
from domains.vendors import selectors
from schema.context import require_viewer
from schema.errors import payload_errors
from schema.pagination import Connection, paginate
from schema.permissions import admin_only, public, requires, staff_only
from schema.vendors.types import (
    BoothAssignmentType,
    BoothSize,
    BoothType,
    VendorCategory,
    VendorDashboard,
    VendorProfileType,
    VendorReviewType,
    VendorSetupQrPayload,
    VendorStatus,
    VendorType,
)


def _value(enum_member):
    return enum_member.value if enum_member is not None else None


@strawberry.type
class VendorQuery:
    @strawberry_django.field(
        extensions=public(),
        description="Approved vendors, by name; `booth` is their booth at the festival (by slug, or the current one).",
    )
    def vendors(
        self,
        info: Info,
        festival_slug: str | None = None,
        category: VendorCategory | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[VendorType]:
        qs = selectors.vendor_public_list(
            festival=festival_get(festival_slug), category=_value(category), search=search
        )
        return paginate(qs, order_by=selectors.VENDOR_ORDER, first=first, after=after, to_node=VendorType.from_model)

    @strawberry_django.field(extensions=requires(Role.VENDOR), description="The signed-in vendor's profile, or null.")
    def my_vendor_profile(self, info: Info) -> VendorProfileType | None:
        profile = selectors.vendor_profile_of(require_viewer(info).user)
        return VendorProfileType.from_model(profile) if profile else None

    @strawberry_django.field(
        extensions=requires(Role.VENDOR),
        description="Profile status and review notes, booth, setup window and instructions, crew passes used.",
    )
    def vendor_dashboard(self, info: Info) -> VendorDashboard:
        board = selectors.vendor_dashboard(require_viewer(info).user)
        profile, assignment = board.profile, board.assignment
        return VendorDashboard(
            profile=VendorProfileType.from_model(profile) if profile else None,
            status=VendorStatus(profile.status) if profile else None,
            review_note=profile.review_note if profile else "",
            booth=BoothType.from_model(assignment.booth, assignment) if assignment else None,
            assignment=BoothAssignmentType.from_model(assignment) if assignment else None,
            crew_passes_used=assignment.crew_entries if assignment else 0,
            crew_passes_total=assignment.crew_limit if assignment else 0,
            reviews=[VendorReviewType.from_model(r) for r in board.reviews],
        )

    @strawberry_django.field(
        extensions=requires(Role.VENDOR),
        description="The signed setup code for the vendor's crew: admits up to `crewLimit` people during the setup window.",
    )
    @payload_errors(VendorSetupQrPayload)
    def vendor_setup_qr(self, info: Info) -> VendorSetupQrPayload:
        code, assignment = selectors.vendor_setup_qr(require_viewer(info).user)
        return VendorSetupQrPayload(
            code=code,
            svg=segno.make(code, error="m").svg_inline(scale=4),
            valid_from=assignment.setup_starts_at,
            valid_until=assignment.setup_ends_at,
            crew_limit=assignment.crew_limit,
            crew_entries_used=assignment.crew_entries,
            booth_code=assignment.booth.code,
        )

    @strawberry_django.field(extensions=admin_only(), description="Booths with their assignment state.")
    def booths(
        self,
        info: Info,
        festival_slug: str | None = None,
        zone: str | None = None,
        size: BoothSize | None = None,
        assigned: bool | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[BoothType]:
        qs = selectors.booth_list(
            festival_slug=festival_slug, zone=zone, size=_value(size), assigned=assigned, search=search
        )
        return paginate(qs, order_by=selectors.BOOTH_ORDER, first=first, after=after, to_node=BoothType.from_model)

    @strawberry_django.field(extensions=staff_only(), description="Every vendor profile, for review.")
    def all_vendors(
        self,
        info: Info,
        status: VendorStatus | None = None,
        category: VendorCategory | None = None,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[VendorProfileType]:
        qs = selectors.vendor_admin_list(status=_value(status), category=_value(category), search=search)
        return paginate(
            qs, order_by=selectors.VENDOR_ORDER, first=first, after=after, to_node=VendorProfileType.from_model
        )
