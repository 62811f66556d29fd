"""Vendor test helpers: a festival, booths, vendors in a given status, GraphQL documents."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

ERR = "errors { code message field }"
PROFILE = (
    "id ownerEmail businessName category description contactEmail contactPhone powerAmps spaceSize "
    "crewSize status reviewNote editableFields criticalFields booth { boothCode zone } "
    "reviewHistory { action fromStatus toStatus note }"
)
UPDATE_PROFILE = f"""mutation Update($input: VendorProfileInput!, $submit: Boolean! = false) {{
  updateVendorProfile(input: $input, submit: $submit) {{ profile {{ {PROFILE} }} {ERR} }} }}"""
SUBMIT = f"mutation {{ submitVendorApplication {{ profile {{ status }} {ERR} }} }}"
MY_PROFILE = f"query {{ myVendorProfile {{ {PROFILE} }} }}"
REVIEW = f"""mutation Review($vendorId: UUID!, $decision: VendorDecision!, $note: String! = "") {{
  reviewVendor(vendorId: $vendorId, decision: $decision, note: $note) {{ profile {{ id status reviewNote }} {ERR} }} }}"""
ASSIGNMENT = "id vendorId vendorName boothId boothCode zone setupStartsAt setupEndsAt crewLimit crewEntriesUsed"
ASSIGN = f"""mutation Assign($vendorId: UUID!, $boothId: UUID!, $crewLimit: Int, $starts: DateTime, $ends: DateTime) {{
  assignBooth(vendorId: $vendorId, boothId: $boothId, crewLimit: $crewLimit, setupStartsAt: $starts, setupEndsAt: $ends) {{
    assignment {{ {ASSIGNMENT} }} booth {{ code assigned }} {ERR} }} }}"""
UNASSIGN = f"""mutation Unassign($boothId: UUID!) {{
  unassignBooth(boothId: $boothId) {{ booth {{ code assigned }} {ERR} }} }}"""
SETUP_QR = f"query {{ vendorSetupQr {{ code svg validFrom validUntil crewLimit crewEntriesUsed boothCode {ERR} }} }}"
DASHBOARD = """query { vendorDashboard { status reviewNote crewPassesUsed crewPassesTotal
  profile { businessName } booth { code zone priceAmount currency }
  assignment { setupStartsAt setupEndsAt setupInstructions crewLimit crewEntriesUsed }
  reviews { action note } } }"""
PUBLIC_VENDORS = """query Vendors($category: VendorCategory, $search: String, $first: Int, $after: String) {
  vendors(category: $category, search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id businessName category booth { code zone mapX mapY } } } } }"""
ALL_VENDORS = """query All($status: VendorStatus, $search: String, $first: Int, $after: String) {
  allVendors(status: $status, search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id businessName status contactEmail } } } }"""
BOOTHS = """query Booths($zone: String, $assigned: Boolean, $size: BoothSize, $search: String, $first: Int, $after: String) {
  booths(zone: $zone, assigned: $assigned, size: $size, search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id code zone size priceAmount currency assigned assignment { vendorName crewLimit } } } } }"""

_seq = itertools.count(1)


@pytest.fixture
def festival(db):
    from domains.events.models import Festival

    return Festival.objects.create(
        slug="vendorfest",
        name="Vendor Fest",
        starts_on=dt.date(2027, 6, 10),
        ends_on=dt.date(2027, 6, 12),
        timezone="UTC",
        venue_name="Park",
        status=Festival.Status.ON_SALE,
        is_current=True,
    )


@pytest.fixture
def make_booth(festival):
    from domains.vendors.models import Booth

    def make(code: str | None = None, zone: str = "Food Court", **extra):
        n = next(_seq)
        return Booth.objects.create(
            festival=festival, code=code or f"B-{n:03d}", zone=zone, price_amount=25_000, currency="USD", **extra
        )

    return make


@pytest.fixture
def make_vendor(make_user):
    """A vendor account with a profile in `status` (history rows are not created)."""
    from domains.vendors.models import VendorProfile

    def make(status: str = "approved", name: str | None = None, category: str = "food", user=None, **extra):
        user = user or make_user("vendor")
        n = next(_seq)
        fields = {
            "business_name": name or f"Vendor {n:03d}",
            "category": category,
            "description": "Tasty things",
            "contact_email": f"contact{n}@vendor.test",
            "contact_phone": "+1 555 0100",
            "status": status,
            **extra,
        }
        return VendorProfile.objects.create(owner=user, **fields)

    return make


@pytest.fixture
def vendor_client(make_vendor, token_for):
    """(client signed in as the owner of a new profile in `status`, profile)."""
    from tests.support.graphql import GraphQLClient

    def make(status: str = "approved", **extra):
        profile = make_vendor(status, **extra)
        client = GraphQLClient().authenticate(token_for(profile.owner))
        client.user = profile.owner
        return client, profile

    return make


SETUP_START = dt.datetime(2027, 6, 9, 8, 0, tzinfo=dt.UTC)
SETUP_END = dt.datetime(2027, 6, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def assigned(make_vendor, make_booth, make_user):
    """An approved vendor on a booth, setup window SETUP_START..SETUP_END, crew limit 2."""
    from domains.vendors.services import booth_assign

    def make(crew_limit: int = 2, **vendor_extra):
        vendor = make_vendor("approved", **vendor_extra)
        booth = make_booth()
        admin = make_user("admin")
        return booth_assign(
            admin=admin,
            vendor_id=vendor.public_id,
            booth_id=booth.public_id,
            setup_starts_at=SETUP_START,
            setup_ends_at=SETUP_END,
            crew_limit=crew_limit,
        )

    return make
