"""Permission walk over every vendor root field: who may call it, and whose data it shows."""

from __future__ import annotations

import uuid

import pytest

from tests.support.graphql import GraphQLClient
from tests.vendors.conftest import (
    ALL_VENDORS,
    ASSIGN,
    BOOTHS,
    DASHBOARD,
    MY_PROFILE,
    PUBLIC_VENDORS,
    REVIEW,
    SETUP_QR,
    SUBMIT,
    UNASSIGN,
    UPDATE_PROFILE,
)

ROLES = ["anonymous", "attendee", "vendor", "staff", "admin"]
# operation -> (document, variables builder, roles allowed)
OPERATIONS = {
    "vendors": (PUBLIC_VENDORS, lambda ids: {}, set(ROLES)),
    "myVendorProfile": (MY_PROFILE, lambda ids: {}, {"vendor"}),
    "vendorDashboard": (DASHBOARD, lambda ids: {}, {"vendor"}),
    "vendorSetupQr": (SETUP_QR, lambda ids: {}, {"vendor"}),
    "updateVendorProfile": (UPDATE_PROFILE, lambda ids: {"input": {"description": "x"}}, {"vendor"}),
    "submitVendorApplication": (SUBMIT, lambda ids: {}, {"vendor"}),
    "allVendors": (ALL_VENDORS, lambda ids: {}, {"staff", "admin"}),
    "reviewVendor": (REVIEW, lambda ids: {"vendorId": ids["vendor"], "decision": "APPROVE"}, {"staff", "admin"}),
    "booths": (BOOTHS, lambda ids: {}, {"admin"}),
    "assignBooth": (ASSIGN, lambda ids: {"vendorId": ids["vendor"], "boothId": ids["booth"]}, {"admin"}),
    "unassignBooth": (UNASSIGN, lambda ids: {"boothId": ids["booth"]}, {"admin"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_authorisation_matrix(operation, role, as_user, make_vendor, make_booth):
    document, variables, allowed = OPERATIONS[operation]
    target = make_vendor("submitted")
    ids = {"vendor": str(target.public_id), "booth": str(make_booth().public_id)}
    client = GraphQLClient() if role == "anonymous" else as_user(role)
    response = client.execute(document, variables(ids))
    assert response.status_code == 200
    if role in allowed:
        assert not response.errors, response.errors
    else:
        assert response.data is None or response.data.get(operation) is None
        code = response.errors[0]["extensions"]["code"]
        assert code == ("UNAUTHENTICATED" if role == "anonymous" else "FORBIDDEN")


def test_every_vendor_root_field_is_in_the_walk():
    from schema.schema import schema

    graphql = schema._schema
    roots = [graphql.query_type, graphql.mutation_type]
    vendor_fields = {name for root in roots for name in root.fields if "endor" in name or "ooth" in name}
    assert vendor_fields == set(OPERATIONS)


def test_a_vendor_sees_only_its_own_profile(vendor_client, make_vendor):
    other = make_vendor("approved", name="Someone Else")
    client, mine = vendor_client("approved", name="Mine")
    profile = client.execute(MY_PROFILE).data["myVendorProfile"]
    assert profile["id"] == str(mine.public_id) and profile["businessName"] == "Mine"
    # the dashboard is its own too
    assert client.execute(DASHBOARD).data["vendorDashboard"]["profile"]["businessName"] == "Mine"
    assert other.business_name != "Mine"


def test_attendee_cannot_read_a_vendor_profile_through_any_field(as_user, make_vendor):
    """The only field an attendee reaches is the public list, which has no contact or review data."""
    make_vendor("approved", name="Public Tacos")
    attendee = as_user("attendee")
    for document in (MY_PROFILE, DASHBOARD, ALL_VENDORS, SETUP_QR, BOOTHS):
        response = attendee.execute(document)
        assert response.errors[0]["extensions"]["code"] == "FORBIDDEN"
    leaking = attendee.execute("{ vendors { edges { node { contactEmail } } } }")
    assert "Cannot query field 'contactEmail'" in leaking.errors[0]["message"]


def test_a_vendor_cannot_approve_itself_or_assign_booths(vendor_client, make_booth):
    client, profile = vendor_client("submitted")
    response = client.execute(REVIEW, {"vendorId": str(profile.public_id), "decision": "APPROVE"})
    assert response.errors[0]["extensions"]["code"] == "FORBIDDEN"
    response = client.execute(ASSIGN, {"vendorId": str(profile.public_id), "boothId": str(make_booth().public_id)})
    assert response.errors[0]["extensions"]["code"] == "FORBIDDEN"
    profile.refresh_from_db()
    assert profile.status == "submitted" and not profile.assignments.exists()


def test_staff_reviews_but_does_not_place_booths(as_user, make_vendor, make_booth):
    staff = as_user("staff")
    vendor = make_vendor("approved")
    response = staff.execute(ASSIGN, {"vendorId": str(vendor.public_id), "boothId": str(make_booth().public_id)})
    assert response.errors[0]["extensions"]["code"] == "FORBIDDEN"


def test_non_vendor_accounts_get_no_profile_from_the_service(make_user):
    """Defence in depth behind the role check of the field."""
    from domains.common.errors import DomainError
    from domains.vendors.services import vendor_profile_update

    with pytest.raises(DomainError) as exc:
        vendor_profile_update(owner=make_user("attendee"), changes={"business_name": "Sneaky"})
    assert exc.value.code == "PERMISSION_DENIED"


def test_unknown_ids_are_not_found(as_user, make_vendor, make_booth):
    admin = as_user("admin")
    vendor, booth = make_vendor("approved"), make_booth()
    r = admin.execute(ASSIGN, {"vendorId": str(uuid.uuid4()), "boothId": str(booth.public_id)})
    assert r.payload("assignBooth")["errors"][0]["field"] == "vendorId"
    r = admin.execute(ASSIGN, {"vendorId": str(vendor.public_id), "boothId": str(uuid.uuid4())})
    assert r.payload("assignBooth")["errors"][0] == {"code": "NOT_FOUND", "message": "Booth not found.", "field": "boothId"}
    r = admin.execute(UNASSIGN, {"boothId": str(uuid.uuid4())})
    assert r.error_codes("unassignBooth") == ["NOT_FOUND"]
