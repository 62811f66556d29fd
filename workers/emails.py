"""Email jobs. Messages carry ids only (no addresses or secrets in the queue)."""

import dramatiq

from domains.notifications.services import email_deliver


@dramatiq.actor(queue_name="email", max_retries=10, min_backoff=2_000, max_backoff=300_000, time_limit=120_000)
def send_email(outbound_email_id: int) -> None:
    email_deliver(outbound_email_id=outbound_email_id)
