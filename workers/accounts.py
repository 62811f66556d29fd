"""Account jobs."""

import dramatiq

from domains.accounts.services.passwords import password_reset_email_send


@dramatiq.actor(queue_name="email", max_retries=5, min_backoff=2_000, max_backoff=60_000, time_limit=60_000)
def send_password_reset(sealed_email: str) -> None:
    """The one message that carries an address, sealed: a reset is queued for every address
    asked about, registered or not (domains/accounts/services/passwords.py)."""
    password_reset_email_send(sealed_email=sealed_email)
