"""RELIABILITY item 19 on PostgreSQL: 50 parallel scanCommits of one ticket through a live
server, from 5 devices: exactly one ADMITTED, 49 ALREADY_USED, 50 log rows, on both of a
scan's paths (domains/scanning/services/commit.py): the checked write (read without a lock,
written only if the ticket and its state are unchanged) and the locked scan. The controls
take the version check, or the row lock, away and show the double admission each prevents."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection

from domains.scanning.models import ScanLog, TicketEntryState
from domains.tickets.qr import qr_encode
from tests.scanning import factories
from tests.scanning.conftest import SCAN

# socketserver's default listen backlog is 5: 50 simultaneous connects would be reset before
# Django sees them. A real deployment's backlog is far larger; the race is about the database.
ThreadedWSGIServer.request_queue_size = 256

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N = 50
DEVICES = 5


@pytest.fixture
def race(live_server, make_user, token_for):
    fest = factories.festival()
    gate = factories.gate(fest, "Main")
    staff = make_user("staff")
    token = token_for(staff)
    devices = [factories.device(gate, staff) for _ in range(DEVICES)]
    tt = factories.ticket_type(fest)
    holder = make_user("attendee")

    def run(precreate_state: bool = False) -> Counter:
        ticket = factories.ticket(tt, holder)
        if precreate_state:
            TicketEntryState.objects.create(ticket=ticket)
        code = qr_encode(ticket)
        barrier = threading.Barrier(N)
        verdicts: list[str] = []
        lock = threading.Lock()

        def scan(i: int):
            device, device_token = devices[i % DEVICES]
            body = json.dumps({"query": SCAN, "variables": {"code": code, "deviceId": str(device.public_id), "nonce": f"r{i}"}})
            with httpx.Client(base_url=live_server.url, timeout=30) as client:
                barrier.wait()
                response = client.post(
                    "/graphql/", content=body,
                    headers={"content-type": "application/json", "Authorization": f"Bearer {token}", "X-Device-Token": device_token},
                )
            payload = response.json()["data"]["scanCommit"]
            with lock:
                verdicts.append(payload["result"]["verdict"] if payload["result"] else payload["errors"][0]["code"])
            connection.close()

        threads = [threading.Thread(target=scan, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts = Counter(verdicts)
        counts["logs"] = ScanLog.objects.filter(ticket=ticket).count()
        return counts

    return run


@pytest.fixture
def wide_window(monkeypatch):
    """Widen the checked write's read-decide-write window as a busy server would: wide enough
    that the 50 requests overlap even when a loaded CI machine spreads their arrival (0.05 s
    once let every request read after the first had written)."""
    from domains.scanning.services import rows

    real_read = rows.ticket_and_state_seen

    def slow_read(public_id):
        found = real_read(public_id)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(rows, "ticket_and_state_seen", slow_read)


@pytest.mark.parametrize("repetition", range(3))
@pytest.mark.parametrize("path", ["checked", "locked"])
def test_fifty_parallel_scans_admit_once(race, repetition, path, request):
    if path == "locked":
        request.getfixturevalue("locked_scan_path")
    counts = race(precreate_state=bool(repetition % 2))
    assert counts["ADMITTED"] == 1, counts
    assert counts["ALREADY_USED"] == N - 1, counts
    assert counts["logs"] == N


@pytest.mark.parametrize("precreate_state", [False, True])
def test_a_wide_window_between_read_and_write_still_admits_once(race, wide_window, precreate_state):
    """All 50 read "never admitted"; one write stands, the others find the state changed and
    decide again (ALREADY_USED)."""
    counts = race(precreate_state=precreate_state)
    assert counts["ADMITTED"] == 1, counts
    assert counts["ALREADY_USED"] == N - 1, counts
    assert counts["logs"] == N


def test_control_the_checked_write_without_its_version_check_admits_twice(race, wide_window, monkeypatch):
    from domains.scanning.services import rows

    real_record = rows.record_if_unchanged

    def unchecked(seen, **kwargs):
        # The versions as they are now instead of as they were read: the check always passes.
        with connection.cursor() as cur:
            cur.execute("SELECT t.xmin::text, s.xmin::text FROM tickets_ticket t LEFT JOIN scanning_ticketentrystate s"
                        " ON s.ticket_id = t.id WHERE t.id = %s", [seen.ticket_id])
            now_seen = rows.Seen(seen.ticket_id, *cur.fetchone())
        return real_record(now_seen, **kwargs)

    monkeypatch.setattr(rows, "record_if_unchanged", unchecked)
    counts = race(precreate_state=True)
    assert counts["ADMITTED"] > 1, counts


def test_control_without_the_lock_admits_twice(race, locked_scan_path, monkeypatch):
    import domains.scanning.services.commit as commit

    real_state_for = commit._state_for

    def slow_state_for(ticket_id):
        state = real_state_for(ticket_id)
        # Widen the read-decide-write window as a busy server would: wide enough that the 50
        # requests overlap even when a loaded CI machine spreads their arrival (0.05 s once
        # let every request read after the first had written).
        time.sleep(0.3)
        return state

    def unlocked_ticket_and_state(public_id):
        ticket = commit._read_ticket(public_id)
        return ticket, (slow_state_for(ticket.pk) if ticket is not None else None)

    monkeypatch.setattr(commit, "_lock_ticket", commit._read_ticket)
    monkeypatch.setattr(commit, "_state_for", slow_state_for)
    monkeypatch.setattr(commit, "_lock_ticket_and_state", unlocked_ticket_and_state)
    counts = race(precreate_state=True)
    assert counts["ADMITTED"] > 1, counts
