"""Periodic jobs and the scheduler loop that runs them, so expired holds go back to sale and
lost emails go out without a human.

* Production: `manage.py run_periodic` (docker-compose service `scheduler`, `make scheduler`),
  one instance per deployment. Every PERIODIC_EVERY_SECONDS it *enqueues* each job below; the
  Dramatiq workers run them. A second instance would do no harm (each job is idempotent and
  skips rows another one has locked) but would only add load.
* `--inline` runs the jobs in the scheduler's own process instead (no broker needed).
* Development: `manage.py serve` runs the loop inline in a daemon thread (`start_in_thread`).

Checkout also releases expired holds of a ticket type lazily when it runs short, and expired
holds never count as taken in the catalogue; this loop is what makes the counters and the
order/upgrade statuses catch up when nobody is buying.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import dramatiq
from django.conf import settings
from django.db import connection

from workers import emails, lifecycle, orders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    actor: dramatiq.Actor
    run_inline: Callable[[], int]  # returns how many rows it handled


def _drain(fn: Callable[..., int], batch: int = 500) -> int:
    total = 0
    while True:
        n = fn(limit=batch)
        total += n
        if n < batch:
            return total


def _release_expired_holds() -> int:
    from domains.orders.services import holds_release_expired

    return _drain(holds_release_expired)


def _release_expired_upgrade_holds() -> int:
    from domains.upgrades.services import upgrades_release_expired

    return _drain(upgrades_release_expired)


def _resend_pending_emails() -> int:
    from domains.notifications.services import email_resend_pending

    return email_resend_pending(older_than_seconds=settings.PERIODIC_EMAIL_RESEND_AFTER_SECONDS)


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("release_expired_holds", orders.release_expired_holds, _release_expired_holds),
    PeriodicJob("release_expired_upgrade_holds", lifecycle.release_expired_upgrade_holds, _release_expired_upgrade_holds),
    PeriodicJob("resend_pending_emails", emails.resend_pending_emails, _resend_pending_emails),
)


def tick(*, inline: bool) -> dict[str, int | str]:
    """Run (inline) or enqueue every periodic job once. A job that fails is logged and the
    others still run; the next tick tries it again."""
    results: dict[str, int | str] = {}
    for job in JOBS:
        try:
            if inline:
                results[job.name] = job.run_inline()
            elif job.name == "resend_pending_emails":
                job.actor.send(settings.PERIODIC_EMAIL_RESEND_AFTER_SECONDS)
                results[job.name] = "enqueued"
            else:
                job.actor.send()
                results[job.name] = "enqueued"
        except Exception:  # noqa: BLE001 - a scheduler must outlive one failing job
            log.exception("periodic job failed", extra={"job": job.name})
            results[job.name] = "failed"
    handled = {k: v for k, v in results.items() if v not in (0, "enqueued")}
    if handled:
        log.info("periodic jobs", extra={"results": handled})
    return results


HEARTBEAT_KEY = "periodic:last_tick"


def record_tick(at: float | None = None) -> None:
    """When the scheduler last ticked, in the shared cache (read by /api/health/ and
    /api/metrics/: a stopped scheduler leaves expired holds off sale without any error)."""
    from django.core.cache import cache

    try:
        cache.set(HEARTBEAT_KEY, at if at is not None else time.time(), timeout=7 * 24 * 3600)
    except Exception:  # noqa: BLE001 - Redis down: health says so by itself
        log.warning("periodic: heartbeat not recorded")


def last_tick_age() -> float | None:
    """Seconds since the scheduler's last tick (None: never seen, or the cache is down)."""
    from django.core.cache import cache

    try:
        at = cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001
        return None
    return max(0.0, time.time() - float(at)) if at is not None else None


def run_forever(*, every: float, inline: bool, stop: threading.Event | None = None, on_tick=None) -> None:
    """Tick every `every` seconds (measured start to start) until `stop` is set."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        results = tick(inline=inline)
        record_tick()
        if on_tick is not None:
            on_tick(results)
        if inline:
            connection.close()  # this thread's connection: never kept idle (or broken) between ticks
        stop.wait(max(0.0, every - (time.monotonic() - started)))


def start_in_thread(*, every: float) -> tuple[threading.Thread, threading.Event]:
    """Development: the periodic jobs inline in a daemon thread of this process."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, kwargs={"every": every, "inline": True, "stop": stop}, name="periodic-jobs", daemon=True
    )
    thread.start()
    return thread, stop
