"""Wallet pass update jobs: tell installed passes that their ticket changed."""

import dramatiq

from domains.wallet.push import wallet_pass_push_update


# Idempotent (a repeated push only makes the device re-fetch; the PATCH sets absolute values),
# so retries are safe; a pass update that is hours late is still worth delivering.
@dramatiq.actor(queue_name="wallet", max_retries=8, min_backoff=5_000, max_backoff=600_000, time_limit=60_000)
def push_wallet_pass_update(wallet_pass_id: int) -> None:
    wallet_pass_push_update(wallet_pass_id=wallet_pass_id)
