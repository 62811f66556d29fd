"""End to end: the vendor's setup QR scanned at a gate through `scanCommit` (domains/scanning)."""

from __future__ import annotations

from tests.scanning.conftest import env, local, set_now  # noqa: F401  (fixtures)
from tests.support.graphql import GraphQLClient
from tests.vendors.conftest import SETUP_QR


def test_setup_qr_at_the_gate(env, set_now, make_vendor, make_user, token_for):  # noqa: F811
    from domains.vendors.models import Booth
    from domains.vendors.services import booth_assign, vendor_review

    vendor = make_vendor("approved", name="Gate Tacos")
    booth = Booth.objects.create(festival=env.festival, code="F-99", zone="Food Court")
    booth_assign(
        admin=make_user("admin"), vendor_id=vendor.public_id, booth_id=booth.public_id,
        setup_starts_at=local(3, 8), setup_ends_at=local(3, 14), crew_limit=1,
    )
    code = GraphQLClient().authenticate(token_for(vendor.owner)).execute(SETUP_QR).payload("vendorSetupQr")["code"]

    first = env.scan(code, nonce="n1")["result"]
    assert (first["verdict"], first["ticketId"]) == ("VENDOR_SETUP_ADMITTED", None)
    assert env.scan(code, nonce="n2")["result"]["verdict"] == "CREW_LIMIT_REACHED"
    set_now(local(3, 15))
    assert env.scan(code, nonce="n5")["result"]["verdict"] == "OUTSIDE_WINDOW"
    vendor_review(reviewer=env.staff, vendor_id=vendor.public_id, decision="suspend", note="stop")
    assert env.scan(code, nonce="n3")["result"]["verdict"] == "SUSPENDED"
    tampered = code[:-12] + ("A" if code[-12] != "A" else "B") + code[-11:]
    assert env.scan(tampered, nonce="n4")["result"]["verdict"] == "INVALID"


def test_another_festivals_setup_code_is_invalid_at_this_gate(env, make_vendor, make_user, token_for):  # noqa: F811
    from domains.vendors.models import Booth, BoothAssignment
    from domains.vendors.services import booth_assign
    from tests.scanning import factories

    vendor = make_vendor("approved", name="Elsewhere Tacos")
    other = factories.festival()
    booth = Booth.objects.create(festival=other, code="F-98", zone="Food Court")
    booth_assign(
        admin=make_user("admin"), vendor_id=vendor.public_id, booth_id=booth.public_id,
        setup_starts_at=local(3, 8), setup_ends_at=local(3, 14), crew_limit=5,
    )
    code = GraphQLClient().authenticate(token_for(vendor.owner)).execute(SETUP_QR).payload("vendorSetupQr")["code"]

    refused = env.scan(code, nonce="x1")["result"]
    assert (refused["verdict"], refused["vendor"]) == ("INVALID", None)
    assert BoothAssignment.objects.get(booth=booth).crew_entries == 0
