"""Ticket lifecycle jobs: staff resends, expiry of upgrade holds. Messages carry ids only."""

import dramatiq

from domains.orders.resends import order_resend_deliver
from domains.upgrades.services import upgrades_release_expired


@dramatiq.actor(queue_name="email", max_retries=5, min_backoff=2_000, max_backoff=120_000, time_limit=120_000)
def resend_order_documents(order_id: int, kind: str, request_id: str) -> None:
    """Idempotent: the email keys derive from the request id."""
    order_resend_deliver(order_id=order_id, kind=kind, request_id=request_id)


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=120_000)
def release_expired_upgrade_holds() -> None:
    """Return the units held by expired pending upgrades to sale; enqueued every minute by
    the scheduler (`manage.py run_periodic`, workers/periodic.py)."""
    while upgrades_release_expired(limit=500) == 500:
        pass
