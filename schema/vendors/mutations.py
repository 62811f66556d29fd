"""Vendor mutations: parse, authorise, call one service, map the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.accounts.models import Role
from domains.vendors import selectors, services
from schema.context import require_viewer
from schema.errors import payload_errors
from schema.permissions import admin_only, requires, staff_only
from schema.vendors.types import (
    AssignBoothPayload,
    BoothAssignmentType,
    BoothType,
    UnassignBoothPayload,
    VendorDecision,
    VendorProfileInput,
    VendorProfilePayload,
    VendorProfileType,
)


def _changes(data: VendorProfileInput) -> dict:
    changes = {}
    for field in dataclasses.fields(data):
        value = getattr(data, field.name)
        if value is not strawberry.UNSET and value is not None:
            changes[field.name] = value.value if hasattr(value, "value") else value
    return changes


def _profile_payload(profile) -> VendorProfilePayload:
    # Re-read through the selector: the answer shows the booth and history like myVendorProfile.
    return VendorProfilePayload(profile=VendorProfileType.from_model(selectors.vendor_profile_of(profile.owner)))


def _booth_payload(booth_id: uuid.UUID) -> BoothType:
    return BoothType.from_model(selectors.booth_list().get(public_id=booth_id))


@strawberry.type
class VendorMutation:
    @strawberry_django.mutation(
        extensions=requires(Role.VENDOR),
        description="Create or edit the vendor's profile; `submit` sends a draft or rejected profile for review. "
        "While submitted or suspended the profile is locked; while approved, changing a critical field "
        "(see VendorProfile.criticalFields) sends it back for review.",
    )
    @payload_errors(VendorProfilePayload)
    def update_vendor_profile(
        self, info: Info, input: VendorProfileInput, submit: bool = False
    ) -> VendorProfilePayload:
        profile = services.vendor_profile_update(owner=require_viewer(info).user, changes=_changes(input), submit=submit)
        return _profile_payload(profile)

    @strawberry_django.mutation(
        extensions=requires(Role.VENDOR), description="Send a draft or rejected profile for review."
    )
    @payload_errors(VendorProfilePayload)
    def submit_vendor_application(self, info: Info) -> VendorProfilePayload:
        return _profile_payload(services.vendor_profile_submit(owner=require_viewer(info).user))

    @strawberry_django.mutation(
        extensions=staff_only(),
        description="Approve (also reinstates a suspended vendor), reject or suspend a vendor; reject and "
        "suspend need a note. The vendor is emailed.",
    )
    @payload_errors(VendorProfilePayload)
    def review_vendor(
        self, info: Info, vendor_id: uuid.UUID, decision: VendorDecision, note: str = ""
    ) -> VendorProfilePayload:
        profile = services.vendor_review(
            reviewer=require_viewer(info).user, vendor_id=vendor_id, decision=decision.value, note=note
        )
        return _profile_payload(profile)

    @strawberry_django.mutation(
        extensions=admin_only(),
        description="Put an approved vendor on a free booth (one vendor per booth, one booth per vendor per "
        "festival). The setup window defaults to 08:00 the day before the festival until 12:00 on day one.",
    )
    @payload_errors(AssignBoothPayload)
    def assign_booth(
        self,
        info: Info,
        vendor_id: uuid.UUID,
        booth_id: uuid.UUID,
        setup_starts_at: dt.datetime | None = None,
        setup_ends_at: dt.datetime | None = None,
        crew_limit: int | None = None,
        setup_instructions: str = "",
    ) -> AssignBoothPayload:
        assignment = services.booth_assign(
            admin=require_viewer(info).user,
            vendor_id=vendor_id,
            booth_id=booth_id,
            setup_starts_at=setup_starts_at,
            setup_ends_at=setup_ends_at,
            crew_limit=crew_limit,
            setup_instructions=setup_instructions,
        )
        return AssignBoothPayload(
            assignment=BoothAssignmentType.from_model(assignment), booth=_booth_payload(booth_id)
        )

    @strawberry_django.mutation(
        extensions=admin_only(), description="Free a booth; the vendor's setup code stops working."
    )
    @payload_errors(UnassignBoothPayload)
    def unassign_booth(self, info: Info, booth_id: uuid.UUID) -> UnassignBoothPayload:
        services.booth_unassign(admin=require_viewer(info).user, booth_id=booth_id)
        return UnassignBoothPayload(booth=_booth_payload(booth_id))
