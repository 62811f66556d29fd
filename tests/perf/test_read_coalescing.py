"""Bounded staleness of the public catalogue (PUBLIC_READ_MAX_STALE_MS): a stream of writes
costs one recomputation per interval and process, not one per request; what must be exact
(the sold-out fast path's peek) still is."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from domains.common import readcache
from domains.common.clock import now
from schema import response_cache
from tests.perf.wsgi import call_wsgi

pytestmark = pytest.mark.django_db(transaction=True)

CATALOGUE = "query Catalogue { festival { name } ticketTypes { name available } }"


@pytest.fixture
def bounded(read_cache, settings, monkeypatch):
    settings.PUBLIC_READ_MAX_STALE_MS = 1000
    clock = {"at": now()}
    monkeypatch.setattr(readcache, "clock_now", lambda: clock["at"])
    monkeypatch.setattr(response_cache, "now", lambda: clock["at"])

    def advance(ms: int):
        clock["at"] += dt.timedelta(milliseconds=ms)

    return advance


def counted(values: list):
    calls = {"n": 0}

    def compute():
        calls["n"] += 1
        return values[min(calls["n"], len(values)) - 1]

    return compute, calls


def changed(scope: str) -> None:
    from django.db import transaction

    with transaction.atomic():
        readcache.changed(scope)


def test_after_a_change_the_previous_value_is_answered_until_it_is_max_stale_old(bounded):
    compute, calls = counted(["v1", "v2", "v3"])
    assert readcache.cached("s", "n", compute, max_stale_ms=1000) == "v1"
    changed("s")
    bounded(400)
    assert readcache.cached("s", "n", compute, max_stale_ms=1000) == "v1" and calls["n"] == 1
    assert readcache.cached("s", "n", compute) == "v2" and calls["n"] == 2  # a strict reader recomputes
    changed("s")
    bounded(1200)  # v2 is now older than the bound
    assert readcache.cached("s", "n", compute, max_stale_ms=1000) == "v3" and calls["n"] == 3
    assert readcache.cached("s", "n", compute, max_stale_ms=1000) == "v3" and calls["n"] == 3


def test_peek_never_answers_a_value_of_an_older_version(bounded):
    readcache.cached("s", "n", lambda: "v1", max_stale_ms=1000)
    assert readcache.peek("s", "n") == "v1"
    changed("s")
    assert readcache.cached("s", "n", lambda: "v2", max_stale_ms=1000) == "v1"
    assert readcache.peek("s", "n") is None  # the sold-out fast path then asks the database


def test_one_thread_recomputes_while_the_others_answer_the_previous_value(bounded):
    readcache.cached("s", "n", lambda: "v1", max_stale_ms=1000)
    changed("s")
    bounded(1500)
    started, release, calls = threading.Event(), threading.Event(), {"n": 0}

    def slow():
        calls["n"] += 1
        started.set()
        release.wait(5)
        return "v2"

    results: list = []
    recomputing = threading.Thread(target=lambda: results.append(readcache.cached("s", "n", slow, max_stale_ms=1000)))
    recomputing.start()
    assert started.wait(5)
    others = [readcache.cached("s", "n", slow, max_stale_ms=1000) for _ in range(20)]
    release.set()
    recomputing.join(5)
    assert others == ["v1"] * 20 and results == ["v2"] and calls["n"] == 1
    assert readcache.cached("s", "n", slow, max_stale_ms=1000) == "v2" and calls["n"] == 1


def test_a_failed_recomputation_lets_the_next_reader_try(bounded):
    readcache.cached("s", "n", lambda: "v1", max_stale_ms=1000)
    changed("s")
    bounded(1500)

    def boom():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        readcache.cached("s", "n", boom, max_stale_ms=1000)
    assert readcache.cached("s", "n", lambda: "v2", max_stale_ms=1000) == "v2"


def _wsgi(body: bytes):
    return call_wsgi(body)[2]


def test_the_response_cache_serves_the_previous_answer_within_the_bound(bounded, make_type, monkeypatch):
    from django.core.handlers.wsgi import WSGIHandler

    from domains.tickets import inventory

    tt = make_type(capacity=10, name="Day")
    body = json.dumps({"query": CATALOGUE}).encode()
    assert _wsgi(body)["data"]["ticketTypes"][0]["available"] == 10
    calls = {"n": 0}
    original = WSGIHandler.__call__

    def counting(self, environ, start_response):
        calls["n"] += 1
        return original(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", counting)
    for _ in range(5):  # five holds in a row, as during an on-sale
        inventory.take(tt.pk, 1)
        bounded(100)
        assert _wsgi(body)["data"]["ticketTypes"][0]["available"] == 10
    assert calls["n"] == 0  # no recomputation within the bound
    bounded(600)  # the answer's data is now 1,100 ms old
    assert _wsgi(body)["data"]["ticketTypes"][0]["available"] == 5 and calls["n"] == 1
    assert _wsgi(body)["data"]["ticketTypes"][0]["available"] == 5 and calls["n"] == 1


def test_while_one_request_recomputes_the_others_are_served_from_memory(bounded, make_type, monkeypatch):
    from django.core.handlers.wsgi import WSGIHandler

    from domains.tickets import inventory

    tt = make_type(capacity=10, name="Day")
    body = json.dumps({"query": CATALOGUE}).encode()
    _wsgi(body)
    inventory.take(tt.pk, 2)
    bounded(1500)
    entered, release, calls = threading.Event(), threading.Event(), {"n": 0}
    original = WSGIHandler.__call__

    def slow(self, environ, start_response):
        calls["n"] += 1
        entered.set()
        release.wait(5)
        return original(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", slow)
    fresh: list = []
    thread = threading.Thread(target=lambda: fresh.append(_wsgi(body)))
    thread.start()
    assert entered.wait(5)
    started = time.monotonic()
    served = [_wsgi(body)["data"]["ticketTypes"][0]["available"] for _ in range(10)]
    assert served == [10] * 10 and time.monotonic() - started < 2 and calls["n"] == 1
    release.set()
    thread.join(5)
    assert fresh[0]["data"]["ticketTypes"][0]["available"] == 8
