"""Email jobs. Messages carry ids only (no addresses or secrets in the queue)."""

import dramatiq

from domains.notifications.services import email_deliver, email_resend_pending


@dramatiq.actor(queue_name="email", max_retries=10, min_backoff=2_000, max_backoff=300_000, time_limit=120_000)
def send_email(outbound_email_id: int) -> None:
    email_deliver(outbound_email_id=outbound_email_id)


@dramatiq.actor(queue_name="email", max_retries=0, time_limit=60_000)
def resend_pending_emails(older_than_seconds: int = 120) -> None:
    """Re-enqueue emails whose job was lost (the broker was down at commit). Enqueued every
    minute by the scheduler (`manage.py run_periodic`, workers/periodic.py)."""
    email_resend_pending(older_than_seconds=older_than_seconds)
