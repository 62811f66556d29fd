"""GET /api/health/: database, Redis and broker status; a stopped Redis is 'down' (503), fast."""

from __future__ import annotations

import time

import pytest


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
