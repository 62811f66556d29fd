"""GET /api/health/: database, Redis and broker status; a stopped Redis is 'down' (503), fast."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command

from workers import periodic


def test_healthy(gql, db, settings):
    response = gql.get("/api/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not_configured")
    assert body["checks"]["broker"] == "ok"


def test_a_stopped_redis_is_reported_down_without_hanging(gql, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = gql.get("/api/health/")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == "down"
    assert body["checks"]["database"] == "ok"
    assert elapsed < 2.5


def test_an_unreachable_redis_host_is_reported_down_within_the_timeout(gql, db, settings):
    settings.REDIS_URL = "redis://10.255.255.1:6379/0"  # unroutable: the connect timeout decides
    started = time.monotonic()
    response = gql.get("/api/health/")
    assert response.status_code == 503 and response.json()["checks"]["redis"] == "down"
    assert time.monotonic() - started < 2.5


def test_a_database_failure_is_reported_down(gql, db, monkeypatch):
    import festival.health

    class Broken:
        def cursor(self):
            raise RuntimeError("connection refused")

    monkeypatch.setattr(festival.health, "connection", Broken())
    response = gql.get("/api/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down"
    assert "connection refused" not in response.text


@pytest.mark.redis
def test_the_broker_follows_redis(gql, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    body = gql.get("/api/health/").json()
    assert body["checks"]["broker"] == "down"


def test_health_reports_the_scheduler_without_counting_it_in_the_status(gql, db, settings):
    """A stopped scheduler is reported (expired holds would stay off sale), but the web still
    answers 200: one scheduler must not take every web node out of the load balancer."""
    settings.PERIODIC_EVERY_SECONDS = 60
    body = gql.get("/api/health/").json()
    assert body["scheduler"] == {"state": "not_seen", "last_tick_seconds_ago": None}
    periodic.record_tick()
    response = gql.get("/api/health/")
    assert response.status_code == 200 and response.json()["scheduler"] == {"state": "ok", "last_tick_seconds_ago": 0}
    periodic.record_tick(time.time() - 200)  # more than 3 periods ago
    response = gql.get("/api/health/")
    assert response.status_code == 200
    assert response.json()["scheduler"]["state"] == "late" and response.json()["scheduler"]["last_tick_seconds_ago"] >= 200


def test_the_scheduler_loop_and_the_cron_run_record_their_tick(db, monkeypatch):
    assert periodic.last_tick_age() is None
    monkeypatch.setattr(periodic, "tick", lambda *, inline: {})
    call_command("run_periodic", "--once", stdout=StringIO())
    assert periodic.last_tick_age() < 5

    periodic.record_tick(0)  # long ago
    stop = threading.Event()
    monkeypatch.setattr(periodic, "connection", type("C", (), {"close": staticmethod(lambda: None)}))
    thread = threading.Thread(target=periodic.run_forever, kwargs={"every": 0.01, "inline": True, "stop": stop, "on_tick": lambda _r: stop.set()})
    thread.start()
    thread.join(5)
    assert periodic.last_tick_age() < 5


def test_metrics_show_the_age_of_the_scheduler_tick(gql, db):
    assert "festival_scheduler_last_tick_age_seconds" not in gql.get("/api/metrics/").content.decode()
    periodic.record_tick(time.time() - 90)
    text = gql.get("/api/metrics/").content.decode()
    line = next(row for row in text.splitlines() if row.startswith("festival_scheduler_last_tick_age_seconds "))
    assert 89 <= float(line.split()[1]) < 120
