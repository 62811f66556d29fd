"""Order settings with defaults, read at call time (tests override with the settings fixture).

CHECKOUT_HOLD_SECONDS   how long a pending checkout keeps its tickets (default 900 = 15 min)
INVOICE_TAX_RATE_BPS    tax included in prices, in basis points (default 0: no tax line)
INVOICE_SELLER          seller block on invoices (default: the festival's name and venue)
CHECKOUT_SOLD_OUT_FAST_PATH  answer SOLD_OUT from the cached public catalogue when it already
                        shows too few tickets (default on; needs PUBLIC_READ_CACHE_SECONDS > 0)
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings


def hold_ttl() -> timedelta:
    seconds = getattr(settings, "CHECKOUT_HOLD_SECONDS", None)
    if seconds is None:
        seconds = int(os.environ.get("CHECKOUT_HOLD_SECONDS", "900"))
    return timedelta(seconds=int(seconds))


def sold_out_fast_path() -> bool:
    enabled = getattr(settings, "CHECKOUT_SOLD_OUT_FAST_PATH", None)
    if enabled is None:
        enabled = os.environ.get("CHECKOUT_SOLD_OUT_FAST_PATH", "1").strip().lower() not in ("0", "false", "no", "off")
    return bool(enabled)


def tax_rate_bps() -> int:
    rate = getattr(settings, "INVOICE_TAX_RATE_BPS", None)
    if rate is None:
        rate = int(os.environ.get("INVOICE_TAX_RATE_BPS", "0"))
    return int(rate)


def included_tax(total: int) -> int:
    """The tax part of a tax-inclusive total, rounded half up to the minor unit."""
    rate = tax_rate_bps()
    if rate <= 0:
        return 0
    return (total * rate * 2 + (10_000 + rate)) // (2 * (10_000 + rate))
