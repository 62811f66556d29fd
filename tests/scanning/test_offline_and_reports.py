"""Offline batches, scanner sync and keys, logs, stats, supervisor lookup/admit/restore."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domains.common.signing import b64url_decode
from domains.scanning.models import ScanLog, TicketEntryState, TicketTypeEntryRule
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_encode
from tests.scanning import factories
from tests.scanning.conftest import local

pytestmark = pytest.mark.django_db

BATCH = """
mutation($d: ID!, $scans: [OfflineScanInput!]!) {
  scanCommitBatch(deviceId: $d, scans: $scans) {
    results { nonce outcome result { verdict conflict replayed firstUsedGate } }
    errors { code field }
  }
}"""


def upload(env, device, token, scans):
    return env.staff_client.execute(BATCH, {"d": str(device.public_id), "scans": scans}, headers={"X-Device-Token": token}).payload(
        "scanCommitBatch"
    )


def test_offline_batch_two_devices_one_stands_one_conflicts_and_reupload_is_noop(env, set_now):
    ticket = env.ticket()
    other = env.ticket()
    code = qr_encode(ticket)
    set_now(local(3, 14))
    # Device B (gate South) admitted the ticket at 10:05 and device A at 10:01; A uploads first.
    batch_a = [
        {"code": qr_encode(other), "scannedAt": local(3, 10, 3).isoformat(), "nonce": "a-2"},
        {"code": code, "scannedAt": local(3, 10, 1).isoformat(), "nonce": "a-1"},
    ]
    batch_b = [{"code": code, "scannedAt": local(3, 10, 5).isoformat(), "nonce": "b-1"}]
    first = upload(env, env.device, env.device_token, batch_a)
    assert first["errors"] == []
    assert [r["outcome"] for r in first["results"]] == ["STOOD", "STOOD"]
    second = upload(env, env.device_b, env.device_b_token, batch_b)
    (b,) = second["results"]
    assert b["outcome"] == "CONFLICT"
    assert b["result"]["verdict"] == "ALREADY_USED" and b["result"]["firstUsedGate"] == "North"
    logs = ScanLog.objects.count()
    state = TicketEntryState.objects.get(ticket=ticket)
    assert state.admissions == 1 and state.first_admitted_at == local(3, 10, 1)

    # Uploading both batches again changes nothing and answers the same.
    again_a = upload(env, env.device, env.device_token, batch_a)
    again_b = upload(env, env.device_b, env.device_b_token, batch_b)
    assert [r["outcome"] for r in again_a["results"]] == ["STOOD", "STOOD"]
    assert again_b["results"][0]["outcome"] == "CONFLICT"
    assert all(r["result"]["replayed"] for r in again_a["results"] + again_b["results"])
    assert ScanLog.objects.count() == logs
    assert ScanLog.objects.filter(conflict=True).count() == 1
    assert ScanLog.objects.filter(offline=True).count() == 3


def test_batch_needs_nonces_and_own_device(env):
    code = qr_encode(env.ticket())
    missing = upload(env, env.device, env.device_token, [{"code": code, "scannedAt": local(3, 10).isoformat(), "nonce": " "}])
    assert missing["errors"][0]["code"] == "INVALID_INPUT"
    foreign = upload(
        env, env.device, env.device_token,
        [{"code": code, "scannedAt": local(3, 10).isoformat(), "nonce": "x", "deviceId": str(env.device_b.public_id)}],
    )
    assert foreign["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    assert ScanLog.objects.count() == 0


def test_scanner_keys_verify_codes_offline(env, gql):
    keys = gql.execute("{ scannerKeys { keyId algorithm publicKey } }").payload("scannerKeys")
    code = qr_encode(env.ticket())
    _prefix, kid, *_rest = code.split(".")
    body, _, sig = code.rpartition(".")
    (key,) = [k for k in keys if k["keyId"] == kid]
    assert key["algorithm"] == "Ed25519"
    Ed25519PublicKey.from_public_bytes(b64url_decode(key["publicKey"])).verify(b64url_decode(sig), body.encode())


def test_scanner_sync_since_cursor(env, set_now):
    used = env.ticket()
    voided = env.ticket()
    query = "query($s: String, $e: ID) { scannerSync(since: $s, eventId: $e) { cursor revoked { ticketId currentVersion status } used { ticketId inside admissions } } }"
    event = str(env.festival.public_id)
    empty = env.staff_client.execute(query, {"e": event}).payload("scannerSync")
    assert empty["revoked"] == [] and empty["used"] == []
    env.scan(qr_encode(used))
    Ticket.objects.filter(pk=voided.pk).update(status=Ticket.Status.REFUNDED, secret_version=2)
    delta = env.staff_client.execute(query, {"s": empty["cursor"], "e": event}).payload("scannerSync")
    assert [u["ticketId"] for u in delta["used"]] == [str(used.public_id)]
    assert delta["revoked"] == [{"ticketId": str(voided.public_id), "currentVersion": 2, "status": "refunded"}]
    # Attendees get nothing.
    assert env.staff_client.execute(query, {"s": "not-a-cursor", "e": event}).errors[0]["extensions"]["code"] == "INVALID_INPUT"


def test_scan_logs_filters_and_pagination(env):
    codes = [qr_encode(env.ticket()) for _ in range(3)]
    for c in codes:
        env.scan(c)
    env.scan(codes[0], device=env.device_b)
    env.scan("forged")
    query = """query($e: ID, $first: Int!, $after: String, $v: ScanVerdict, $g: ID) {
      scanLogs(eventId: $e, first: $first, after: $after, verdict: $v, gateId: $g) {
        edges { cursor node { verdict gate { name } holderName deviceName staffName } }
        pageInfo { hasNextPage endCursor } } }"""
    event = str(env.festival.public_id)
    page1 = env.staff_client.execute(query, {"e": event, "first": 2}).data["scanLogs"]
    assert [e["node"]["verdict"] for e in page1["edges"]] == ["INVALID", "ALREADY_USED"]
    assert page1["edges"][0]["node"]["holderName"] is None
    assert page1["pageInfo"]["hasNextPage"]
    page2 = env.staff_client.execute(query, {"e": event, "first": 10, "after": page1["pageInfo"]["endCursor"]}).data["scanLogs"]
    assert [e["node"]["verdict"] for e in page2["edges"]] == ["ADMITTED"] * 3
    assert not page2["pageInfo"]["hasNextPage"]
    south = env.staff_client.execute(query, {"e": event, "first": 10, "g": str(env.gate_b.public_id)}).data["scanLogs"]
    assert [e["node"]["gate"]["name"] for e in south["edges"]] == ["South"]
    admitted = env.staff_client.execute(query, {"e": event, "first": 10, "v": "ADMITTED"}).data["scanLogs"]
    assert len(admitted["edges"]) == 3
    too_many = env.staff_client.execute(query, {"e": event, "first": 1000})
    assert too_many.errors[0]["extensions"]["code"] == "INVALID_INPUT"


def test_scan_stats(env, set_now):
    tickets = [env.ticket() for _ in range(4)]
    set_now(local(3, 10, 15))
    env.scan(qr_encode(tickets[0]))
    env.scan(qr_encode(tickets[1]), device=env.device_b)
    set_now(local(3, 11, 5))
    env.scan(qr_encode(tickets[2]))
    env.scan(qr_encode(tickets[0]))
    env.scan("nonsense")
    stats = env.staff_client.execute(
        "query($e: ID) { scanStats(eventId: $e) { admittedTickets admissions inside sold admittedRatio "
        "byTicketType { name admitted sold } byGate { key count } byHour { key count } refusals { key count } } }",
        {"e": str(env.festival.public_id)},
    ).data["scanStats"]
    assert stats["admittedTickets"] == 3 and stats["admissions"] == 3 and stats["sold"] == 4
    assert stats["admittedRatio"] == 0.75
    assert stats["byTicketType"] == [{"name": "Weekend", "admitted": 3, "sold": 4}]
    assert stats["byGate"] == [{"key": "North", "count": 2}, {"key": "South", "count": 1}]
    assert stats["byHour"] == [{"key": "2026-07-03T10:00", "count": 2}, {"key": "2026-07-03T11:00", "count": 1}]
    assert stats["refusals"] == [{"key": "ALREADY_USED", "count": 1}, {"key": "INVALID", "count": 1}]


def test_supervisor_lookup_manual_admit_and_restore(env, as_user, make_user):
    from django.contrib.auth.models import Permission

    ticket = env.ticket()
    event = str(env.festival.public_id)
    lookup = "query($q: String!, $e: ID) { ticketLookup(query: $q, eventId: $e) { ticketId holderName admissions } }"
    # Plain staff may scan but not look up or admit by hand.
    assert env.staff_client.execute(lookup, {"q": "Lovelace", "e": event}).errors[0]["extensions"]["code"] == "FORBIDDEN"
    supervisor = as_user("staff")
    supervisor.user.user_permissions.add(Permission.objects.get(codename="supervise_gate"))
    found = supervisor.execute(lookup, {"q": "lovelace", "e": event}).data["ticketLookup"]
    assert [f["ticketId"] for f in found] == [str(ticket.public_id)]
    by_email = supervisor.execute(lookup, {"q": env.holder.email.upper(), "e": event}).data["ticketLookup"]
    assert len(by_email) == 1

    admit = "mutation($t: ID!, $g: ID!) { scanManualAdmit(ticketId: $t, gate: $g, note: \"phone dead\") { result { verdict holderName } errors { code } } }"
    restore = "mutation($t: ID!, $g: ID!) { scanRestore(ticketId: $t, gate: $g, note: \"wrong person\") { result { verdict } errors { code } } }"
    variables = {"t": str(ticket.public_id), "g": str(env.gate.public_id)}
    assert supervisor.execute(admit, variables).payload("scanManualAdmit")["result"]["verdict"] == "ADMITTED"
    assert supervisor.execute(admit, variables).payload("scanManualAdmit")["result"]["verdict"] == "ALREADY_USED"
    assert env.scan(qr_encode(ticket))["result"]["verdict"] == "ALREADY_USED"
    assert supervisor.execute(restore, variables).payload("scanRestore")["result"]["verdict"] == "RESTORED"
    assert supervisor.execute(restore, variables).payload("scanRestore")["errors"][0]["code"] == "NOT_ADMITTED"
    assert env.scan(qr_encode(ticket))["result"]["verdict"] == "ADMITTED"
    manual = ScanLog.objects.filter(method="manual").order_by("id")
    assert [m.verdict for m in manual] == ["ADMITTED", "ALREADY_USED", "RESTORED"]
    assert all(m.staff_user_id == supervisor.user.id for m in manual)
    assert ScanLog.objects.filter(verdict="ADMITTED", undone=True).count() == 1


def test_a_scanner_clock_far_behind_is_not_believed(env, set_now):
    """Device B's clock was reset to 2000 (a flat battery): its offline scan would have sorted
    before everyone's and won the conflict. It is applied at the time it was received instead:
    device A's real admission stands, and B's is the conflict."""
    ticket = env.ticket()
    code = qr_encode(ticket)
    set_now(local(3, 14))
    a = upload(env, env.device, env.device_token, [{"code": code, "scannedAt": local(3, 10, 1).isoformat(), "nonce": "a-1"}])
    b = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": "2000-01-01T00:00:00+00:00", "nonce": "b-1"}])
    assert a["results"][0]["outcome"] == "STOOD"
    assert b["results"][0]["outcome"] == "CONFLICT"
    logged = ScanLog.objects.get(nonce="b-1")
    assert logged.scanned_at == logged.received_at == local(3, 14)
    assert TicketEntryState.objects.get(ticket=ticket).first_admitted_at == local(3, 10, 1)


def test_within_a_batch_a_time_far_behind_sorts_as_received(env, set_now):
    first, second = env.ticket(), env.ticket()
    set_now(local(3, 14))
    # One upload: the same ticket dated 1970 and 10:01 by two scans. Sorted by the scanner's own
    # times, the 1970 one would be applied first and stand; believed, 10:01 is first.
    result = upload(env, env.device, env.device_token, [
        {"code": qr_encode(first), "scannedAt": "1970-01-01T00:00:00Z", "nonce": "old"},
        {"code": qr_encode(first), "scannedAt": local(3, 10, 1).isoformat(), "nonce": "real"},
        {"code": qr_encode(second), "scannedAt": local(3, 9).isoformat(), "nonce": "other"},
    ])
    assert [r["outcome"] for r in result["results"]] == ["CONFLICT", "STOOD", "STOOD"]
    assert TicketEntryState.objects.get(ticket=first).first_admitted_at == local(3, 10, 1)


def test_believed_scan_time_edges():
    import datetime as dt

    from domains.scanning.services.commit import OFFLINE_CLOCK_TRUST, believed_scan_time

    received = local(3, 14)
    assert believed_scan_time(None, received) == received
    assert believed_scan_time(received - OFFLINE_CLOCK_TRUST, received) == received - OFFLINE_CLOCK_TRUST
    assert believed_scan_time(received - OFFLINE_CLOCK_TRUST - dt.timedelta(seconds=1), received) == received
    assert believed_scan_time(received + dt.timedelta(seconds=1), received) == received  # a clock ahead
    assert believed_scan_time(local(3, 10), received) == local(3, 10)


def test_a_late_upload_of_an_earlier_day_does_not_reopen_today_for_a_daily_pass(env, set_now):
    daily = factories.ticket_type(env.festival, name="3-day", mode=TicketTypeEntryRule.Mode.DAILY)
    code = qr_encode(env.ticket(daily))
    set_now(local(4, 9))
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"
    # A scanner that was offline on the 3rd uploads its scan of that day now: it stands.
    set_now(local(4, 9, 30))
    (late,) = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": local(3, 18).isoformat(), "nonce": "d3"}])["results"]
    assert (late["outcome"], late["result"]["verdict"]) == ("STOOD", "ADMITTED")
    # Today is still used, the 3rd too (a second offline scan of that day conflicts).
    set_now(local(4, 11))
    again = env.scan(code)["result"]
    assert again["verdict"] == "ALREADY_USED" and again["firstUsedAt"].startswith("2026-07-04T07:00")
    (twice,) = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": local(3, 19).isoformat(), "nonce": "d3b"}])["results"]
    assert twice["result"]["verdict"] == "ALREADY_USED"
    state = TicketEntryState.objects.get(ticket__ticket_type=daily)
    assert (state.admissions, state.day, state.days_admitted) == (2, local(4, 9).date(), ["2026-07-03", "2026-07-04"])
    set_now(local(5, 10))
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"


def test_an_offline_scan_is_logged_at_its_scanners_gate_only(env, set_now):
    """Online, a device cannot claim another gate; offline it could, and a gate rule of the
    other gate then let the ticket in."""
    north_only = factories.ticket_type(env.festival, name="North only", gates=[env.gate])
    code = qr_encode(env.ticket(north_only))
    assert env.scan(code, device=env.device_b)["result"]["verdict"] == "WRONG_GATE"
    set_now(local(3, 14))
    claimed = upload(env, env.device_b, env.device_b_token, [
        {"code": code, "scannedAt": local(3, 13).isoformat(), "nonce": "g1", "gateId": str(env.gate.public_id)},
    ])
    assert claimed["results"] is None and claimed["errors"] == [{"code": "DEVICE_GATE_MISMATCH", "field": "scans.0.gateId"}]
    assert not TicketEntryState.objects.filter(ticket__ticket_type=north_only).exists()
    at_its_gate = upload(env, env.device_b, env.device_b_token, [
        {"code": code, "scannedAt": local(3, 13).isoformat(), "nonce": "g2", "gateId": str(env.gate_b.public_id)},
    ])
    assert at_its_gate["results"][0]["result"]["verdict"] == "WRONG_GATE"


def test_a_closed_gates_scanners_admit_no_one(env, set_now):
    code = qr_encode(env.ticket())
    env.gate_b.is_active = False
    env.gate_b.save()
    refused = env.scan(code, device=env.device_b)
    assert refused["result"] is None and [e["code"] for e in refused["errors"]] == ["GATE_NOT_FOUND"]
    set_now(local(3, 14))
    batch = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": local(3, 13).isoformat(), "nonce": "c1"}])
    assert batch["errors"] == [{"code": "GATE_NOT_FOUND", "field": "scans.0.gateId"}]
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"  # the open gate still works
