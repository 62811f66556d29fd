"""Verdicts through the real GraphQL endpoint (RELIABILITY items 19, 20)."""

from __future__ import annotations

import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domains.common.signing import b64url, b64url_decode
from domains.scanning.models import ScanLog, TicketTypeEntryRule
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_encode, qr_encode_payload
from tests.scanning import factories
from tests.scanning.conftest import local

pytestmark = pytest.mark.django_db


def test_admitted_once_then_already_used_with_first_use(env):
    ticket = env.ticket()
    code = qr_encode(ticket)
    first = env.scan(code)
    assert first["errors"] == []
    assert first["result"]["verdict"] == "ADMITTED"
    assert first["result"]["holderName"] == "Ada Lovelace"
    assert first["result"]["ticketTypeName"] == "Weekend"
    again = env.scan(code, device=env.device_b)
    assert again["result"]["verdict"] == "ALREADY_USED"
    assert again["result"]["firstUsedGate"] == "North"
    assert again["result"]["firstUsedAt"].startswith("2026-07-03T10:00")  # 12:00 Berlin
    assert again["result"]["gate"] == "South"
    assert ScanLog.objects.count() == 2


def test_same_nonce_three_times_is_one_scan(env):
    code = qr_encode(env.ticket())
    answers = [env.scan(code, nonce="n-1")["result"] for _ in range(3)]
    assert [a["verdict"] for a in answers] == ["ADMITTED"] * 3
    assert [a["replayed"] for a in answers] == [False, True, True]
    assert len({a["scanId"] for a in answers}) == 1
    assert ScanLog.objects.count() == 1
    # Another device's nonce of the same value is its own scan.
    assert env.scan(code, device=env.device_b, nonce="n-1")["result"]["verdict"] == "ALREADY_USED"


def _flip(code: str, index: int) -> str:
    c = code[index]
    return code[:index] + ("A" if c != "A" else "B") + code[index + 1 :]


def test_forged_truncated_other_key_and_superseded_codes(env):
    ticket = env.ticket()
    good = qr_encode(ticket)
    body, _, sig = good.rpartition(".")
    other_key = Ed25519PrivateKey.generate()
    resigned = f"{body}.{b64url(other_key.sign(body.encode()))}"
    sig_bytes = bytearray(b64url_decode(sig))
    sig_bytes[5] ^= 0x01
    flipped_sig = f"{body}.{b64url(bytes(sig_bytes))}"
    other_ticket_body = body.replace(ticket.public_id.hex, uuid.uuid4().hex)
    cases = {
        "flipped signature bit": flipped_sig,
        "edited payload": f"{other_ticket_body}.{sig}",
        "truncated": good[:-10],
        "another key": resigned,
        "garbage": "hello",
        "empty": "",
    }
    for name, code in cases.items():
        result = env.scan(code)["result"]
        assert result["verdict"] == "INVALID", name
        # Nothing about any ticket in the refusal.
        assert result["ticketId"] is None and result["holderName"] is None and result["ticketTypeName"] is None, name
        assert result["firstUsedAt"] is None and result["firstUsedGate"] is None, name
    # An authentic code naming no ticket of ours: INVALID, and still nothing leaks.
    unknown = env.scan(qr_encode_payload("T", uuid.uuid4(), 1))["result"]
    assert unknown["verdict"] == "INVALID" and unknown["holderName"] is None

    # Superseded secret version (transfer, upgrade): VOIDED, and the new holder is not shown.
    Ticket.objects.filter(pk=ticket.pk).update(secret_version=2)
    result = env.scan(good)["result"]
    assert result["verdict"] == "VOIDED"
    assert result["holderName"] is None
    ticket.refresh_from_db()
    assert env.scan(qr_encode(ticket))["result"]["verdict"] == "ADMITTED"
    assert ScanLog.objects.filter(verdict="INVALID", ticket__isnull=True).count() == len(cases) + 1


def test_never_admitted_after_refund_or_void(env):
    for status in (Ticket.Status.REFUNDED, Ticket.Status.VOID):
        ticket = env.ticket(status=status)
        assert env.scan(qr_encode(ticket))["result"]["verdict"] == "VOIDED"
    # Refund after a validate: the commit still refuses.
    ticket = env.ticket()
    code = qr_encode(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUNDED, secret_version=2)
    assert env.scan(code)["result"]["verdict"] == "VOIDED"
    assert not ScanLog.objects.filter(verdict="ADMITTED").exists()


def test_day_pass_and_daily_multi_day_pass(env, set_now):
    day_pass = factories.ticket_type(env.festival, name="Friday", valid_on=local(3, 0).date())
    daily = factories.ticket_type(env.festival, name="3-day", mode=TicketTypeEntryRule.Mode.DAILY)
    day_code = qr_encode(env.ticket(day_pass))
    daily_code = qr_encode(env.ticket(daily))

    set_now(local(3, 10))
    assert env.scan(day_code)["result"]["verdict"] == "ADMITTED"
    assert env.scan(daily_code)["result"]["verdict"] == "ADMITTED"
    set_now(local(3, 22))
    assert env.scan(day_code)["result"]["verdict"] == "ALREADY_USED"
    refused = env.scan(daily_code)["result"]
    assert refused["verdict"] == "ALREADY_USED" and refused["firstUsedAt"].startswith("2026-07-03T08:00")
    # 00:30 in Berlin on the 4th is still the 3rd in UTC: the festival-local day counts.
    set_now(local(4, 0, 30))
    assert env.scan(day_code)["result"]["verdict"] == "NOT_VALID_TODAY"
    assert env.scan(daily_code)["result"]["verdict"] == "ADMITTED"
    set_now(local(4, 15))
    assert env.scan(daily_code)["result"]["verdict"] == "ALREADY_USED"
    set_now(local(5, 11))
    assert env.scan(daily_code)["result"]["verdict"] == "ADMITTED"


def test_exit_then_reentry(env):
    with_exits = factories.ticket_type(env.festival, name="Camping", allow_exit=True)
    code = qr_encode(env.ticket(with_exits))
    assert env.scan(code, direction="EXIT")["result"]["verdict"] == "NOT_INSIDE"
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"
    assert env.scan(code)["result"]["verdict"] == "ALREADY_USED"
    assert env.scan(code, direction="EXIT")["result"]["verdict"] == "EXITED"
    assert env.scan(code, device=env.device_b)["result"]["verdict"] == "ADMITTED"
    assert env.scan(code)["result"]["verdict"] == "ALREADY_USED"
    # Without exit scans for the type, an exit does not open re-entry.
    single = qr_encode(env.ticket())
    assert env.scan(single)["result"]["verdict"] == "ADMITTED"
    assert env.scan(single, direction="EXIT")["result"]["verdict"] == "EXIT_NOT_ALLOWED"
    assert env.scan(single)["result"]["verdict"] == "ALREADY_USED"


def test_wrong_gate(env):
    vip = factories.ticket_type(env.festival, name="VIP", gates=[env.gate_b])
    code = qr_encode(env.ticket(vip))
    wrong = env.scan(code)["result"]
    assert wrong["verdict"] == "WRONG_GATE" and wrong["holderName"] == "Ada Lovelace"
    assert env.scan(code, device=env.device_b)["result"]["verdict"] == "ADMITTED"


def test_ticket_of_another_festival_is_invalid(env):
    other = factories.festival()
    tt = factories.ticket_type(other)
    result = env.scan(qr_encode(factories.ticket(tt, env.holder)))["result"]
    assert result["verdict"] == "INVALID" and result["holderName"] is None


def test_validate_writes_nothing(env):
    code = qr_encode(env.ticket())
    query = "mutation($c: String!, $g: ID!) { scanValidate(code: $c, gate: $g) { result { verdict holderName scanId } errors { code } } }"
    payload = env.staff_client.execute(query, {"c": code, "g": str(env.gate.public_id)}).payload("scanValidate")
    assert payload["result"]["verdict"] == "ADMITTED" and payload["result"]["scanId"] is None
    assert ScanLog.objects.count() == 0
    env.scan(code)
    payload = env.staff_client.execute(query, {"c": code, "g": str(env.gate.public_id)}).payload("scanValidate")
    assert payload["result"]["verdict"] == "ALREADY_USED"


def test_scans_are_staff_only_and_need_a_valid_device(env, as_user):
    code = qr_encode(env.ticket())
    attendee = as_user("attendee")
    response = attendee.execute(
        "mutation($c: String!, $d: ID!) { scanCommit(code: $c, deviceId: $d) { result { verdict } } }",
        {"c": code, "d": str(env.device.public_id)},
        headers={"X-Device-Token": env.device_token},
    )
    assert response.data is None or response.data.get("scanCommit") is None
    assert response.errors and response.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert env.scan(code, token="sdt_wrong")["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    assert env.scan(code, token="")["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    # Another device's token does not open this device.
    assert env.scan(code, token=env.device_b_token)["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    revoke = env.staff_client.execute(
        "mutation($d: ID!) { revokeScannerDevice(deviceId: $d) { device { revokedAt } errors { code } } }",
        {"d": str(env.device.public_id)},
    ).payload("revokeScannerDevice")
    assert revoke["device"]["revokedAt"]
    assert env.scan(code)["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    assert ScanLog.objects.count() == 0


def test_register_device_and_scan_with_its_token(env):
    payload = env.staff_client.execute(
        "mutation($g: ID!) { registerScannerDevice(gateId: $g, name: \"east 1\") { device { id gate { name } } token errors { code } } }",
        {"g": str(env.gate_b.public_id)},
    ).payload("registerScannerDevice")
    assert payload["device"]["gate"]["name"] == "South" and payload["token"].startswith("sdt_")
    from domains.scanning.models import ScannerDevice

    device = ScannerDevice.objects.get(public_id=payload["device"]["id"])
    assert payload["token"] not in device.token_hash
    result = env.scan(qr_encode(env.ticket()), device=device, token=payload["token"])["result"]
    assert result["verdict"] == "ADMITTED" and result["gate"] == "South"


@pytest.mark.parametrize("unknown", ["other festival", "random", "malformed"])
def test_device_mutations_name_the_gate_argument_they_were_given(env, unknown):
    """GATE_NOT_FOUND points at `gateId` (the devices' argument), whichever way the gate is wrong."""
    other = factories.gate(factories.festival(slug="elsewhere"), "Elsewhere")
    gate_id = {"other festival": str(other.public_id), "random": str(uuid.uuid4()), "malformed": "nope"}[unknown]
    register = env.staff_client.execute(
        "mutation($g: ID!) { registerScannerDevice(gateId: $g, name: \"x\") { errors { code field } } }", {"g": gate_id}
    ).payload("registerScannerDevice")
    move = env.staff_client.execute(
        "mutation($d: ID!, $g: ID!) { moveScannerDevice(deviceId: $d, gateId: $g) { errors { code field } } }",
        {"d": str(env.device.public_id), "g": gate_id},
    ).payload("moveScannerDevice")
    if unknown != "other festival":  # registering at any festival's gate is allowed (staff run them all)
        assert register["errors"] == [{"code": "GATE_NOT_FOUND", "field": "gateId"}]
    assert move["errors"] == [{"code": "GATE_NOT_FOUND", "field": "gateId"}]


def test_device_rate_limit(env, settings, monkeypatch):
    import domains.scanning.services.commit as commit

    monkeypatch.setattr(commit, "DEVICE_LIMIT", 3)
    codes = [qr_encode(env.ticket()) for _ in range(4)]
    # The limit counts in fixed windows: start the four scans well inside one window, or a
    # window boundary between them resets the count and the fourth scan is (rightly) allowed.
    into_window = time.time() % commit.RATE_WINDOW
    if into_window > commit.RATE_WINDOW - 3:
        time.sleep(commit.RATE_WINDOW - into_window + 0.05)
    answers = [env.scan(c) for c in codes]
    assert [a["result"]["verdict"] for a in answers[:3]] == ["ADMITTED"] * 3
    assert answers[3]["errors"][0]["code"] == "RATE_LIMITED"
    # The other device is not affected.
    assert env.scan(codes[3], device=env.device_b)["result"]["verdict"] == "ADMITTED"


def test_vendor_setup_code_goes_to_vendors(env):
    # An authentic kind-V code naming no assignment: the vendors service answers INVALID; logged.
    result = env.scan(qr_encode_payload("V", uuid.uuid4(), 1))["result"]
    assert result["verdict"] == "INVALID" and result["holderName"] is None
    assert ScanLog.objects.get().reason in ("vendor", "vendor codes unsupported")


def test_a_scan_naming_another_gate_than_the_devices_is_refused_and_admits_nothing(env):
    code = qr_encode(env.ticket())
    query = """mutation($c: String!, $d: ID!, $g: ID) {
      scanCommit(code: $c, deviceId: $d, gate: $g) { result { verdict gate } errors { code field } } }"""

    def scan(gate):
        return env.staff_client.execute(
            query, {"c": code, "d": str(env.device.public_id), "g": str(gate.public_id)},
            headers={"X-Device-Token": env.device_token},
        ).payload("scanCommit")

    refused = scan(env.gate_b)
    assert refused["result"] is None
    assert refused["errors"] == [{"code": "DEVICE_GATE_MISMATCH", "field": "gate"}]
    assert not ScanLog.objects.exists()
    assert scan(env.gate)["result"]["verdict"] == "ADMITTED"
