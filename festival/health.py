"""GET /api/health/: database, Redis and broker, each 'ok', 'down' or 'not_configured'; 503
when one is down.

Also `scheduler` (workers/periodic.py): whether `manage.py run_periodic` ticked lately. It is
reported, not counted in the status: this process serves without it, and a load balancer
must not take every web node out because the one scheduler stopped. Alert on it (the
`festival_scheduler_last_tick_age_seconds` gauge of /api/metrics/)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

log = logging.getLogger(__name__)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception:
        log.warning("health: database down", exc_info=True)
        return "down"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not_configured"
    try:
        # Short timeouts: a stopped Redis must make health answer 'down', not hang.
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return "ok"
    except Exception:
        log.warning("health: redis down")
        return "down"


def _broker(redis_state: str) -> str:
    import dramatiq

    broker = dramatiq.get_broker()
    if type(broker).__name__ == "StubBroker":
        return "ok"  # in-process: it is up when this process is
    return redis_state


def _scheduler() -> dict:
    """'ok' while the last tick is at most 3 periods old, else 'late'; 'not_seen' without one."""
    from workers.periodic import last_tick_age  # lazily: it imports the Dramatiq actors

    age = last_tick_age()
    if age is None:
        return {"state": "not_seen", "last_tick_seconds_ago": None}
    late = age > 3 * settings.PERIODIC_EVERY_SECONDS
    return {"state": "late" if late else "ok", "last_tick_seconds_ago": round(age)}


def health(request):
    redis_state = _redis()
    checks = {"database": _database(), "redis": redis_state, "broker": _broker(redis_state)}
    healthy = all(v in ("ok", "not_configured") for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks, "scheduler": _scheduler()}
    return JsonResponse(body, status=200 if healthy else 503)
