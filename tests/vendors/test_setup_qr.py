"""vendorSetupQr (GraphQL) and vendor_setup_scan (the service the gate scan calls)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domains.vendors.services import VendorSetupVerdict as V
from domains.vendors.services import vendor_review, vendor_setup_scan
from tests.support.graphql import GraphQLClient
from tests.vendors.conftest import SETUP_END, SETUP_QR, SETUP_START

INSIDE = SETUP_START + dt.timedelta(hours=2)


@pytest.fixture
def setup_code(assigned, token_for):
    """(code from vendorSetupQr, assignment, vendor client)."""

    def make(**extra):
        assignment = assigned(**extra)
        client = GraphQLClient().authenticate(token_for(assignment.vendor.owner))
        payload = client.execute(SETUP_QR).payload("vendorSetupQr")
        assert payload["errors"] == []
        return payload["code"], assignment, client

    return make


def test_setup_qr_is_a_signed_vendor_code(setup_code):
    code, assignment, client = setup_code()
    parts = code.split(".")
    assert parts[0] == "FT1" and parts[2] == "V" and parts[3] == assignment.public_id.hex and parts[4] == "1"
    payload = client.execute(SETUP_QR).payload("vendorSetupQr")
    assert payload["svg"].startswith("<svg") and payload["boothCode"] == assignment.booth.code
    assert (payload["validFrom"], payload["validUntil"]) == (SETUP_START.isoformat(), SETUP_END.isoformat())
    assert (payload["crewLimit"], payload["crewEntriesUsed"]) == (2, 0)


def test_valid_inside_the_window(setup_code):
    code, assignment, _ = setup_code()
    result = vendor_setup_scan(code, "north", INSIDE)
    assert result.verdict == V.VENDOR_SETUP_ADMITTED
    assert (result.booth_code, result.crew_entries, result.crew_limit) == (assignment.booth.code, 1, 2)
    assert assignment.setup_entries.get().gate == "north"


@pytest.mark.parametrize("at", [SETUP_START - dt.timedelta(seconds=1), SETUP_END, SETUP_END + dt.timedelta(days=1)])
def test_refused_outside_the_window(setup_code, at):
    code, assignment, _ = setup_code()
    assert vendor_setup_scan(code, "north", at).verdict == V.OUTSIDE_WINDOW
    assignment.refresh_from_db()
    assert assignment.crew_entries == 0


def test_window_start_is_inclusive(setup_code):
    code, _, _ = setup_code()
    assert vendor_setup_scan(code, "north", SETUP_START).verdict == V.VENDOR_SETUP_ADMITTED


def test_crew_limit(setup_code):
    code, assignment, client = setup_code(crew_limit=2)
    verdicts = [vendor_setup_scan(code, "north", INSIDE).verdict for _ in range(3)]
    assert verdicts == [V.VENDOR_SETUP_ADMITTED, V.VENDOR_SETUP_ADMITTED, V.CREW_LIMIT_REACHED]
    assert client.execute(SETUP_QR).payload("vendorSetupQr")["crewEntriesUsed"] == 2
    assert assignment.setup_entries.count() == 2


def test_refused_after_suspension_and_back_after_reinstatement(setup_code, make_user):
    code, assignment, client = setup_code()
    staff = make_user("staff")
    vendor_review(reviewer=staff, vendor_id=assignment.vendor.public_id, decision="suspend", note="Unsafe gas")
    assert vendor_setup_scan(code, "north", INSIDE).verdict == V.SUSPENDED
    # the suspended vendor cannot fetch a code either
    assert client.execute(SETUP_QR).error_codes("vendorSetupQr") == ["VENDOR_NOT_APPROVED"]
    vendor_review(reviewer=staff, vendor_id=assignment.vendor.public_id, decision="approve", note="ok")
    assert vendor_setup_scan(code, "north", INSIDE).verdict == V.VENDOR_SETUP_ADMITTED


def test_refused_while_under_re_review(setup_code):
    from domains.vendors.services import vendor_profile_update

    code, assignment, _ = setup_code()
    vendor_profile_update(owner=assignment.vendor.owner, changes={"business_name": "Rebranded"})
    assert vendor_setup_scan(code, "north", INSIDE).verdict == V.SUSPENDED


def test_refused_after_unassignment_and_for_an_old_version(setup_code, make_user):
    from domains.vendors.services import booth_unassign

    code, assignment, _ = setup_code()
    assignment.qr_version = 2
    assignment.save(update_fields=["qr_version"])
    assert vendor_setup_scan(code, "north", INSIDE).verdict == V.INVALID
    assignment.qr_version = 1
    assignment.save(update_fields=["qr_version"])
    booth_unassign(admin=make_user("admin"), booth_id=assignment.booth.public_id)
    assert vendor_setup_scan(code, "north", INSIDE).verdict == V.INVALID


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_refused_when_forged(setup_code, assigned):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from domains.common.signing import b64url

    code, assignment, _ = setup_code()
    body, _, signature = code.rpartition(".")
    other = assigned()  # another vendor's assignment: its id under our signature
    forged = {
        "flipped signature": f"{body}.{_flip(signature, 10)}",
        "other object, same signature": f"{body.replace(assignment.public_id.hex, other.public_id.hex)}.{signature}",
        "higher crew version": f"{body[:-1]}2.{signature}",
        "ticket kind": code.replace(".V.", ".T.", 1),
        "another key": f"{body}.{b64url(Ed25519PrivateKey.generate().sign(body.encode()))}",
        "unknown assignment": f"FT1.{body.split('.')[1]}.V.{uuid.uuid4().hex}.1.{signature}",
        "empty": "",
        "garbage": "hello",
    }
    for name, forged_code in forged.items():
        assert vendor_setup_scan(forged_code, "north", INSIDE).verdict == V.INVALID, name
    assignment.refresh_from_db()
    assert assignment.crew_entries == 0


def test_a_ticket_code_is_not_a_setup_code(setup_code):
    from domains.tickets.qr import KIND_TICKET, qr_encode_payload

    _, assignment, _ = setup_code()
    ticket_like = qr_encode_payload(KIND_TICKET, assignment.public_id, assignment.qr_version)
    assert vendor_setup_scan(ticket_like, "north", INSIDE).verdict == V.INVALID


def test_no_setup_qr_without_approval_or_booth(vendor_client):
    client, _ = vendor_client("approved")
    assert client.execute(SETUP_QR).error_codes("vendorSetupQr") == ["BOOTH_NOT_ASSIGNED"]
    client, _ = vendor_client("submitted")
    assert client.execute(SETUP_QR).error_codes("vendorSetupQr") == ["VENDOR_NOT_APPROVED"]


def test_a_code_for_another_festival_is_invalid_at_this_gate(setup_code):
    code, assignment, _ = setup_code()
    assert vendor_setup_scan(code, "north", INSIDE, festival_id=assignment.festival_id + 1000).verdict == V.INVALID
    assert vendor_setup_scan(code, "north", INSIDE, festival_id=assignment.festival_id).verdict == V.VENDOR_SETUP_ADMITTED
