"""Public `vendors`, admin `allVendors` and `booths`: filters, privacy, cursor pagination."""

from __future__ import annotations

import json

import pytest

from tests.support.graphql import GraphQLClient
from tests.vendors.conftest import ALL_VENDORS, BOOTHS, PUBLIC_VENDORS

PRIVATE_FIELDS = ["contactEmail", "contactPhone", "status", "reviewNote", "powerAmps", "spaceSize", "ownerEmail", "crewSize"]


def test_public_list_shows_only_approved_vendors(gql, make_vendor):
    for status in ("draft", "submitted", "rejected", "suspended"):
        make_vendor(status, name=f"Hidden {status}")
    make_vendor("approved", name="Bao Bar")
    make_vendor("approved", name="Amber Ales", category="drink")
    response = gql.execute(PUBLIC_VENDORS)
    names = [e["node"]["businessName"] for e in response.data["vendors"]["edges"]]
    assert names == ["Amber Ales", "Bao Bar"]
    assert response.data["vendors"]["totalCount"] == 2


def test_public_list_carries_no_contact_or_review_data(gql, make_vendor):
    vendor = make_vendor("approved", name="Bao Bar", review_note="internal remark")
    body = gql.execute("{ vendors { edges { node { id businessName category description logoUrl websiteUrl socialLinks highlights booth { code } } } } }").body
    text = json.dumps(body)
    for secret in (vendor.contact_email, vendor.contact_phone, vendor.owner.email, "internal remark"):
        assert secret not in text
    vendor_type = gql.execute('{ __type(name: "Vendor") { fields { name } } }').data["__type"]
    exposed = {f["name"] for f in vendor_type["fields"]}
    assert exposed.isdisjoint(PRIVATE_FIELDS)


def test_public_list_filters_by_category_and_search(gql, make_vendor):
    make_vendor("approved", name="Bao Bar", category="food")
    make_vendor("approved", name="Amber Ales", category="drink")
    make_vendor("approved", name="Bao Tees", category="merchandise", description="Shirts")
    by_category = gql.execute(PUBLIC_VENDORS, {"category": "DRINK"}).data["vendors"]["edges"]
    assert [e["node"]["businessName"] for e in by_category] == ["Amber Ales"]
    by_search = gql.execute(PUBLIC_VENDORS, {"search": "bao"}).data["vendors"]["edges"]
    assert [e["node"]["businessName"] for e in by_search] == ["Bao Bar", "Bao Tees"]
    assert gql.execute(PUBLIC_VENDORS, {"search": "shirts", "category": "MERCHANDISE"}).data["vendors"]["totalCount"] == 1


def test_public_list_shows_the_booth_location(gql, assigned):
    assignment = assigned(name="Located")
    node = gql.execute(PUBLIC_VENDORS).data["vendors"]["edges"][0]["node"]
    assert node["booth"] == {"code": assignment.booth.code, "zone": "Food Court", "mapX": None, "mapY": None}


def _walk(client, document, field, variables=None, first=2):
    names, after, pages = [], None, 0
    while True:
        data = client.execute(document, {**(variables or {}), "first": first, "after": after}).data[field]
        pages += 1
        names += [e["node"].get("businessName") or e["node"].get("code") for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            return names, pages, data["totalCount"]
        after = data["pageInfo"]["endCursor"]


def test_cursor_pagination_walks_every_row_once(gql, make_vendor):
    for name in ["Echo", "Alpha", "Delta", "Bravo", "Charlie"]:
        make_vendor("approved", name=name)
    make_vendor("approved", name="Alpha")  # same name: the public id breaks the tie
    names, pages, total = _walk(gql, PUBLIC_VENDORS, "vendors")
    assert names == ["Alpha", "Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert (pages, total) == (3, 6)


def test_pagination_is_stable_when_rows_are_added_before_the_cursor(gql, make_vendor):
    for name in ["B", "C", "D"]:
        make_vendor("approved", name=name)
    first = gql.execute(PUBLIC_VENDORS, {"first": 2}).data["vendors"]
    make_vendor("approved", name="A")  # sorts before the cursor: an offset would repeat "C"
    rest = gql.execute(PUBLIC_VENDORS, {"first": 2, "after": first["pageInfo"]["endCursor"]}).data["vendors"]
    assert [e["node"]["businessName"] for e in rest["edges"]] == ["D"]


def test_page_size_is_capped_and_bad_cursors_are_refused(gql, make_vendor, settings):
    settings.GRAPHQL_MAX_PAGE_SIZE = 3
    for n in range(5):
        make_vendor("approved", name=f"V{n}")
    assert len(gql.execute(PUBLIC_VENDORS, {"first": 500}).data["vendors"]["edges"]) == 3
    for cursor in ("garbage", "W10", "WyJhIl0"):  # not base64 JSON / wrong arity
        response = gql.execute(PUBLIC_VENDORS, {"after": cursor})
        assert response.errors[0]["extensions"]["code"] == "INVALID_INPUT"
    assert gql.execute(PUBLIC_VENDORS, {"first": -1}).errors[0]["extensions"]["code"] == "INVALID_INPUT"


def test_all_vendors_filters_by_status_and_search_and_paginates(as_user, make_vendor):
    staff = as_user("staff")
    make_vendor("submitted", name="Queue One")
    make_vendor("submitted", name="Queue Two")
    make_vendor("approved", name="Done")
    make_vendor("suspended", name="Stopped", contact_email="ops@stopped.test")
    submitted = staff.execute(ALL_VENDORS, {"status": "SUBMITTED"}).data["allVendors"]
    assert [e["node"]["businessName"] for e in submitted["edges"]] == ["Queue One", "Queue Two"]
    # staff search contact data too (the public cannot)
    found = staff.execute(ALL_VENDORS, {"search": "ops@stopped"}).data["allVendors"]["edges"]
    assert [(e["node"]["businessName"], e["node"]["status"]) for e in found] == [("Stopped", "SUSPENDED")]
    names, pages, total = _walk(staff, ALL_VENDORS, "allVendors", first=3)
    assert total == 4 and pages == 2 and len(set(names)) == 4


def test_booths_list_shows_assignment_state_and_filters(as_user, make_booth, assigned):
    admin = as_user("admin")
    taken = assigned(name="Holder")
    make_booth(code="M-01", zone="Market", size="large")
    make_booth(code="M-02", zone="Market")
    data = admin.execute(BOOTHS).data["booths"]
    by_code = {e["node"]["code"]: e["node"] for e in data["edges"]}
    assert by_code[taken.booth.code]["assigned"] is True
    assert by_code[taken.booth.code]["assignment"] == {"vendorName": "Holder", "crewLimit": 2}
    assert by_code["M-01"]["assignment"] is None and by_code["M-01"]["priceAmount"] == 25_000
    free = admin.execute(BOOTHS, {"assigned": False}).data["booths"]["edges"]
    assert {e["node"]["code"] for e in free} == {"M-01", "M-02"}
    assert {e["node"]["code"] for e in admin.execute(BOOTHS, {"assigned": True}).data["booths"]["edges"]} == {taken.booth.code}
    assert admin.execute(BOOTHS, {"zone": "market", "size": "LARGE"}).data["booths"]["totalCount"] == 1
    assert admin.execute(BOOTHS, {"search": "M-0"}).data["booths"]["totalCount"] == 2
    names, pages, total = _walk(admin, BOOTHS, "booths", first=2)
    assert total == 3 and pages == 2 and len(names) == 3


@pytest.mark.parametrize("first", [1, 2, 3])
def test_booth_pagination_any_page_size(as_user, make_booth, first):
    admin = as_user("admin")
    for n in range(5):
        make_booth(code=f"Z-{n}")
    names, _, _ = _walk(admin, BOOTHS, "booths", first=first)
    assert names == [f"Z-{n}" for n in range(5)]


def test_anonymous_public_list_needs_no_login(db):
    assert GraphQLClient().execute(PUBLIC_VENDORS).data["vendors"]["totalCount"] == 0
