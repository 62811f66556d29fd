"""assignBooth / unassignBooth: the rules, every error code, the email, the dashboard."""

from __future__ import annotations

from tests.vendors.conftest import ASSIGN, DASHBOARD, SETUP_END, SETUP_START, UNASSIGN


def _assign(admin, vendor, booth, **extra):
    return admin.execute(ASSIGN, {"vendorId": str(vendor.public_id), "boothId": str(booth.public_id), **extra})


def test_assign_an_approved_vendor_with_default_setup_window(as_user, make_vendor, make_booth):
    from domains.notifications.models import OutboundEmail

    admin = as_user("admin")
    vendor, booth = make_vendor("approved", name="Bao Bar", crew_size=4), make_booth(code="F-01")
    payload = _assign(admin, vendor, booth).payload("assignBooth")
    assert payload["errors"] == []
    a = payload["assignment"]
    assert (a["vendorName"], a["boothCode"], a["crewLimit"], a["crewEntriesUsed"]) == ("Bao Bar", "F-01", 4, 0)
    # festival starts 2027-06-10 (UTC): setup from 08:00 the day before to 12:00 on day one
    assert (a["setupStartsAt"], a["setupEndsAt"]) == ("2027-06-09T08:00:00+00:00", "2027-06-10T12:00:00+00:00")
    assert payload["booth"] == {"code": "F-01", "assigned": True}
    email = OutboundEmail.objects.get(template="vendor_booth_assigned")
    assert email.to_email == vendor.owner.email and email.context["booth_code"] == "F-01"


def test_assigning_the_same_pair_again_is_harmless(as_user, make_vendor, make_booth):
    from domains.notifications.models import OutboundEmail

    admin = as_user("admin")
    vendor, booth = make_vendor("approved"), make_booth()
    first = _assign(admin, vendor, booth).payload("assignBooth")["assignment"]["id"]
    second = _assign(admin, vendor, booth).payload("assignBooth")
    assert second["errors"] == [] and second["assignment"]["id"] == first
    assert OutboundEmail.objects.filter(template="vendor_booth_assigned").count() == 1


def test_unapproved_vendors_are_refused(as_user, make_vendor, make_booth):
    admin = as_user("admin")
    booth = make_booth()
    for status in ("draft", "submitted", "rejected", "suspended"):
        response = _assign(admin, make_vendor(status), booth)
        assert response.error_codes("assignBooth") == ["VENDOR_NOT_APPROVED"]


def test_one_vendor_per_booth_and_one_booth_per_vendor(as_user, make_vendor, make_booth):
    admin = as_user("admin")
    first, second = make_vendor("approved"), make_vendor("approved")
    booth, other_booth = make_booth(), make_booth()
    _assign(admin, first, booth)
    assert _assign(admin, second, booth).error_codes("assignBooth") == ["BOOTH_ALREADY_ASSIGNED"]
    assert _assign(admin, first, other_booth).error_codes("assignBooth") == ["VENDOR_ALREADY_HAS_BOOTH"]


def test_the_database_refuses_a_second_live_assignment(make_vendor, make_booth, festival):
    """The constraints hold even for code that skips the service."""
    import pytest
    from django.db import IntegrityError, transaction

    from domains.vendors.models import BoothAssignment

    booth = make_booth()
    first, second = make_vendor("approved"), make_vendor("approved")
    window = {"setup_starts_at": SETUP_START, "setup_ends_at": SETUP_END, "festival": festival}
    BoothAssignment.objects.create(booth=booth, vendor=first, **window)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoothAssignment.objects.create(booth=booth, vendor=second, **window)
    with pytest.raises(IntegrityError), transaction.atomic():
        BoothAssignment.objects.create(booth=make_booth(), vendor=first, **window)


def test_unassign_frees_the_booth_and_keeps_history(as_user, make_vendor, make_booth):
    admin = as_user("admin")
    first, second, booth = make_vendor("approved"), make_vendor("approved"), make_booth()
    _assign(admin, first, booth)
    payload = admin.execute(UNASSIGN, {"boothId": str(booth.public_id)}).payload("unassignBooth")
    assert payload == {"booth": {"code": booth.code, "assigned": False}, "errors": []}
    assert admin.execute(UNASSIGN, {"boothId": str(booth.public_id)}).error_codes("unassignBooth") == ["BOOTH_NOT_ASSIGNED"]
    assert _assign(admin, second, booth).payload("assignBooth")["errors"] == []
    assert booth.assignments.count() == 2 and booth.assignments.filter(ended_at__isnull=True).count() == 1


def test_invalid_setup_window_and_crew_limit(as_user, make_vendor, make_booth):
    admin = as_user("admin")
    vendor, booth = make_vendor("approved"), make_booth()
    r = _assign(admin, vendor, booth, starts=SETUP_END.isoformat(), ends=SETUP_START.isoformat())
    assert r.payload("assignBooth")["errors"][0]["field"] == "setupEndsAt"
    r = _assign(admin, vendor, booth, crewLimit=0)
    assert r.payload("assignBooth")["errors"][0] == {"code": "INVALID_INPUT", "message": "Between 1 and 100 people.", "field": "crewLimit"}


def test_dashboard_shows_booth_setup_and_reviews(vendor_client, assigned, token_for):
    from tests.support.graphql import GraphQLClient

    assignment = assigned(crew_limit=3, review_note="Welcome aboard")
    client = GraphQLClient().authenticate(token_for(assignment.vendor.owner))
    board = client.execute(DASHBOARD).data["vendorDashboard"]
    assert board["status"] == "APPROVED" and board["reviewNote"] == "Welcome aboard"
    assert board["booth"] == {"code": assignment.booth.code, "zone": "Food Court", "priceAmount": 25_000, "currency": "USD"}
    assert board["assignment"]["setupStartsAt"] == "2027-06-09T08:00:00+00:00"
    assert (board["crewPassesUsed"], board["crewPassesTotal"]) == (0, 3)


def test_dashboard_before_any_profile(as_user):
    board = as_user("vendor").execute(DASHBOARD).data["vendorDashboard"]
    assert board == {
        "status": None, "reviewNote": "", "crewPassesUsed": 0, "crewPassesTotal": 0,
        "profile": None, "booth": None, "assignment": None, "reviews": [],
    }
