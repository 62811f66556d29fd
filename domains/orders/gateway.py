"""The Stripe gateway the orders area uses. Tests may replace `get_gateway` (monkeypatch)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from domains.payments.gateway import StripeGateway


@lru_cache(maxsize=4)
def _gateway(secret_key: str, api_base: str) -> StripeGateway:
    return StripeGateway.from_settings()


def get_gateway() -> StripeGateway:
    return _gateway(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE or "")
