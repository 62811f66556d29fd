"""updateVendorProfile / submitVendorApplication / myVendorProfile / reviewVendor through GraphQL."""

from __future__ import annotations

import pytest

from tests.vendors.conftest import MY_PROFILE, REVIEW, SUBMIT, UPDATE_PROFILE

FULL = {
    "businessName": "Taco Loco",
    "category": "FOOD",
    "description": "Street tacos",
    "contactEmail": "Hola@TacoLoco.test",
    "contactPhone": "+1 555 0101",
    "powerAmps": 32,
    "spaceSize": "MEDIUM",
    "highlights": ["Al pastor", "  ", "Horchata"],
    "socialLinks": ["https://instagram.com/tacoloco"],
}


def test_vendor_creates_draft_then_submits(as_user):
    vendor = as_user("vendor")
    assert vendor.execute(MY_PROFILE).data == {"myVendorProfile": None}
    profile = vendor.execute(UPDATE_PROFILE, {"input": {"businessName": "Taco Loco"}}).payload("updateVendorProfile")
    assert profile["errors"] == []
    assert profile["profile"]["status"] == "DRAFT"
    # the account email is the default contact
    assert profile["profile"]["contactEmail"] == vendor.user.email

    result = vendor.execute(UPDATE_PROFILE, {"input": FULL, "submit": True}).payload("updateVendorProfile")
    assert result["errors"] == []
    p = result["profile"]
    assert p["status"] == "SUBMITTED"
    assert p["contactEmail"] == "hola@tacoloco.test"
    assert p["editableFields"] == []
    assert p["reviewHistory"][0] == {"action": "SUBMIT", "fromStatus": "DRAFT", "toStatus": "SUBMITTED", "note": ""}
    mine = vendor.execute(MY_PROFILE).data["myVendorProfile"]
    assert mine["businessName"] == "Taco Loco" and mine["spaceSize"] == "MEDIUM"


def test_submit_incomplete_profile_lists_missing_fields(as_user):
    vendor = as_user("vendor")
    vendor.execute(UPDATE_PROFILE, {"input": {"businessName": "Half done", "contactEmail": ""}})
    response = vendor.execute(SUBMIT)
    errors = response.payload("submitVendorApplication")["errors"]
    assert {e["code"] for e in errors} == {"VENDOR_PROFILE_INCOMPLETE"}
    assert {e["field"] for e in errors} == {"category", "description", "contactEmail"}
    assert vendor.execute(MY_PROFILE).data["myVendorProfile"]["status"] == "DRAFT"


@pytest.mark.parametrize(
    "field,value",
    [
        ("logoUrl", "javascript:alert(1)"),
        ("websiteUrl", "not a url"),
        ("contactEmail", "nope"),
        ("contactPhone", "call me maybe"),
        ("powerAmps", 5000),
        ("crewSize", 0),
        ("businessName", "x" * 151),
        ("highlights", ["x" * 101]),
        ("socialLinks", ["https://a.test"] * 11),
    ],
)
def test_invalid_values_are_refused_and_nothing_changes(as_user, field, value):
    vendor = as_user("vendor")
    response = vendor.execute(UPDATE_PROFILE, {"input": {"businessName": "Keep", field: value}})
    errors = response.payload("updateVendorProfile")["errors"]
    assert errors and errors[0]["field"] == field
    assert errors[0]["code"] in ("INVALID_INPUT", "INVALID_EMAIL")
    assert vendor.execute(MY_PROFILE).data["myVendorProfile"] is None


def test_submitted_and_suspended_profiles_are_locked(vendor_client):
    for status in ("submitted", "suspended"):
        client, _ = vendor_client(status)
        response = client.execute(UPDATE_PROFILE, {"input": {"description": "new"}})
        assert response.error_codes("updateVendorProfile") == ["VENDOR_PROFILE_LOCKED"]


def test_resubmitting_a_submitted_profile_is_a_no_op(vendor_client):
    client, _ = vendor_client("submitted")
    payload = client.execute(SUBMIT).payload("submitVendorApplication")
    assert payload == {"profile": {"status": "SUBMITTED"}, "errors": []}


def test_approved_vendor_edits_non_critical_fields_and_stays_approved(vendor_client):
    client, _ = vendor_client("approved")
    payload = client.execute(UPDATE_PROFILE, {"input": {"description": "Now with vegan options", "contactPhone": "+1 555 0199"}})
    profile = payload.payload("updateVendorProfile")["profile"]
    assert profile["status"] == "APPROVED"
    assert profile["description"] == "Now with vegan options"
    assert profile["criticalFields"] == ["businessName", "category", "powerAmps", "spaceSize"]


def test_approved_vendor_changing_a_critical_field_goes_back_to_review(vendor_client):
    client, _ = vendor_client("approved")
    profile = client.execute(UPDATE_PROFILE, {"input": {"businessName": "Brand New Name", "powerAmps": 63}}).payload(
        "updateVendorProfile"
    )["profile"]
    assert profile["status"] == "SUBMITTED"
    assert profile["reviewHistory"][0]["action"] == "RESUBMIT"
    assert "businessName" in profile["reviewHistory"][0]["note"] and "powerAmps" in profile["reviewHistory"][0]["note"]


def test_approved_vendor_cannot_submit_again(vendor_client):
    client, _ = vendor_client("approved")
    assert client.execute(SUBMIT).error_codes("submitVendorApplication") == ["VENDOR_INVALID_TRANSITION"]


def test_same_critical_value_is_not_a_change(vendor_client):
    client, profile = vendor_client("approved")
    response = client.execute(UPDATE_PROFILE, {"input": {"businessName": profile.business_name}})
    assert response.payload("updateVendorProfile")["profile"]["status"] == "APPROVED"


def test_review_flow_approve_reject_suspend_reinstate(as_user, vendor_client):
    from domains.notifications.models import OutboundEmail

    staff = as_user("staff")
    client, profile = vendor_client("submitted")
    vid = str(profile.public_id)

    assert staff.execute(REVIEW, {"vendorId": vid, "decision": "REJECT"}).payload("reviewVendor")["errors"][0]["field"] == "note"
    rejected = staff.execute(REVIEW, {"vendorId": vid, "decision": "REJECT", "note": "Need a food permit"}).payload("reviewVendor")
    assert rejected["profile"]["status"] == "REJECTED" and rejected["profile"]["reviewNote"] == "Need a food permit"

    # the vendor fixes it and submits again
    assert client.execute(UPDATE_PROFILE, {"input": {"description": "Permit attached"}, "submit": True}).payload(
        "updateVendorProfile"
    )["profile"]["status"] == "SUBMITTED"
    assert staff.execute(REVIEW, {"vendorId": vid, "decision": "APPROVE"}).payload("reviewVendor")["profile"]["status"] == "APPROVED"
    assert staff.execute(REVIEW, {"vendorId": vid, "decision": "SUSPEND", "note": "Unsafe gas"}).payload("reviewVendor")["profile"]["status"] == "SUSPENDED"
    assert staff.execute(REVIEW, {"vendorId": vid, "decision": "APPROVE", "note": "Fixed"}).payload("reviewVendor")["profile"]["status"] == "APPROVED"

    history = client.execute(MY_PROFILE).data["myVendorProfile"]["reviewHistory"]
    assert [h["action"] for h in history] == ["APPROVE", "SUSPEND", "APPROVE", "SUBMIT", "REJECT"]
    templates = list(OutboundEmail.objects.filter(to_email=profile.owner.email).order_by("id").values_list("template", flat=True))
    assert templates == ["vendor_rejected", "vendor_approved", "vendor_suspended", "vendor_approved"]


@pytest.mark.parametrize(
    "status,decision",
    [("draft", "APPROVE"), ("approved", "APPROVE"), ("rejected", "SUSPEND"), ("approved", "REJECT"), ("suspended", "REJECT")],
)
def test_review_refuses_transitions_that_make_no_sense(as_user, make_vendor, status, decision):
    staff = as_user("staff")
    profile = make_vendor(status)
    response = staff.execute(REVIEW, {"vendorId": str(profile.public_id), "decision": decision, "note": "n"})
    assert response.error_codes("reviewVendor") == ["VENDOR_INVALID_TRANSITION"]


def test_review_of_unknown_vendor_is_not_found(as_user, db):
    import uuid

    response = as_user("admin").execute(REVIEW, {"vendorId": str(uuid.uuid4()), "decision": "APPROVE"})
    assert response.payload("reviewVendor")["errors"][0] == {"code": "NOT_FOUND", "message": "Vendor not found.", "field": "vendorId"}


def test_nobody_reviews_their_own_profile(make_vendor, make_user):
    """A vendor account later made staff still cannot approve the profile it owns."""
    from domains.common.errors import DomainError
    from domains.vendors.services import vendor_review

    profile = make_vendor("submitted")
    profile.owner.role = "staff"
    profile.owner.save()
    with pytest.raises(DomainError) as exc:
        vendor_review(reviewer=profile.owner, vendor_id=profile.public_id, decision="approve")
    assert exc.value.code == "PERMISSION_DENIED"


@pytest.mark.django_db(transaction=True)
def test_decision_email_is_delivered_by_the_worker(as_user, make_vendor, run_jobs, outbox):
    staff = as_user("staff")
    profile = make_vendor("submitted", name="Crêpes & Co")
    staff.execute(REVIEW, {"vendorId": str(profile.public_id), "decision": "APPROVE", "note": "Welcome!"})
    run_jobs()
    [message] = outbox.messages()
    assert message["To"] == profile.owner.email
    assert message["Subject"].strip() == "Your vendor application for Crêpes & Co is approved"
    assert "Welcome!" in message.get_content()
