"""GET /api/metrics/: Prometheus text format.

- Request counters and latency histograms by GraphQL operation (`graphql_requests_total`,
  `graphql_request_seconds`), recorded by schema.extensions.RequestHooks. The label is
  the operation's root field(s) (e.g. `scanCommit`): bounded by the schema, whereas the
  client-chosen operation name is not (a label per made-up name would grow without end).
  With several worker processes set PROMETHEUS_MULTIPROC_DIR (prometheus-client's
  multiprocess mode) and the scrape sums every process's files.
- Business gauges computed on scrape from the database and Redis, so every process answers
  the same: scans by verdict, orders by status, Dramatiq queue depth, and the age of the
  scheduler's last tick (workers/periodic.py).

Protected by `Authorization: Bearer <METRICS_TOKEN>`; open in development while unset.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

REQUESTS = Counter("graphql_requests", "GraphQL operations", ["operation", "kind", "outcome"])
LATENCY = Histogram(
    "graphql_request_seconds",
    "GraphQL operation latency",
    ["operation", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe(operation: str, kind: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(operation, kind, outcome).inc()
    LATENCY.labels(operation, kind).observe(seconds)


class BusinessCollector:
    """Gauges read when Prometheus scrapes (cheap GROUP BY queries and LLENs)."""

    def collect(self):
        from django.db.models import Count

        from domains.orders.models import Order
        from domains.scanning.models import ScanLog

        scans = GaugeMetricFamily("festival_scans", "Scan attempts recorded, by verdict", labels=["verdict"])
        orders = GaugeMetricFamily("festival_orders", "Orders by status", labels=["status"])
        try:
            for row in ScanLog.objects.values("verdict").annotate(n=Count("id")).order_by():
                scans.add_metric([row["verdict"]], row["n"])
            for row in Order.objects.values("status").annotate(n=Count("id")).order_by():
                orders.add_metric([row["status"]], row["n"])
        except Exception:
            log.warning("metrics: database unavailable")
        yield scans
        yield orders
        queue = GaugeMetricFamily("dramatiq_queue_depth", "Messages waiting per Dramatiq queue", labels=["queue"])
        for name, depth in queue_depths().items():
            queue.add_metric([name], depth)
        yield queue
        from workers.periodic import last_tick_age

        age = last_tick_age()
        if age is not None:  # absent until the scheduler first ticks: alert on absence too
            yield GaugeMetricFamily(
                "festival_scheduler_last_tick_age_seconds", "Seconds since manage.py run_periodic last ticked", value=age
            )


def queue_depths() -> dict[str, int]:
    import dramatiq

    broker = dramatiq.get_broker()
    queues = sorted(broker.get_declared_queues() | set(getattr(broker, "get_declared_delay_queues", lambda: set())()))
    depths: dict[str, int] = {}
    if type(broker).__name__ == "StubBroker":
        for name in queues:
            depths[name] = broker.queues[name].qsize() if name in broker.queues else 0
        return depths
    try:
        client = broker.client
        for name in queues:
            depths[name] = int(client.llen(f"{broker.namespace}:{name}"))
    except Exception:
        log.warning("metrics: broker unavailable")
    return depths


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(BusinessCollector())
    return registry


def _authorised(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return not settings.IS_PRODUCTION
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics(request):
    if request.method != "GET":
        return HttpResponse(status=405)
    if not _authorised(request):
        return JsonResponse({"error": "unauthorised"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
