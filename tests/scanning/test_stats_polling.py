"""scanStats under a wall of polling dashboards: each process reads the figures at most once per
SCAN_STATS_MAX_AGE_MS, the answer says when they were read (`computedAt`), and pollers that
arrive while a reading is made share it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.scanning import selectors
from domains.tickets.qr import qr_encode

STATS = "query($e: ID) { scanStats(eventId: $e) { admissions computedAt } }"


@pytest.fixture
def recent(monkeypatch, settings):
    """A one-minute maximum age, a clock the test moves, and this test's own readings."""
    settings.SCAN_STATS_MAX_AGE_MS = 60_000
    clock = {"now": 1000.0}
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(selectors, "_recent", {})
    monkeypatch.setattr(selectors, "_recent_locks", {})
    return clock


def _poll(env):
    return env.staff_client.execute(STATS, {"e": str(env.festival.public_id)}).data["scanStats"]


def _stats_queries(queries) -> int:
    return sum("scanning_scanlog" in q["sql"] for q in queries.captured_queries)


def test_a_poll_within_the_maximum_age_gets_the_last_reading_without_reading_again(env, recent):
    first = _poll(env)
    assert env.scan(qr_encode(env.ticket()))["result"]["verdict"] == "ADMITTED"

    recent["now"] += 59.9
    with CaptureQueriesContext(connection) as queries:
        again = _poll(env)
    assert again == first  # the same reading, computedAt included
    assert _stats_queries(queries) == 0

    recent["now"] += 0.2  # past one minute since the reading started
    with CaptureQueriesContext(connection) as queries:
        fresh = _poll(env)
    assert (first["admissions"], fresh["admissions"]) == (0, 1)
    assert fresh["computedAt"] > first["computedAt"]
    assert _stats_queries(queries) > 0


def test_with_no_maximum_age_every_poll_reads(env, settings):
    settings.SCAN_STATS_MAX_AGE_MS = 0
    assert _poll(env)["admissions"] == 0
    env.scan(qr_encode(env.ticket()))
    assert _poll(env)["admissions"] == 1


def test_pollers_arriving_during_a_reading_share_it(db, monkeypatch, recent):
    """Eight threads poll at once: one computation, and all eight get its result."""
    from domains.events.models import Festival

    festival = Festival(pk=987654)
    computed = []

    def slow_reading(*, festival):
        computed.append(threading.get_ident())
        time.sleep(0.2)
        return f"reading {len(computed)}"

    monkeypatch.setattr(selectors, "scan_stats", slow_reading)
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(selectors.scan_stats_recent(festival=festival))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1
    assert answers == ["reading 1"] * 8
