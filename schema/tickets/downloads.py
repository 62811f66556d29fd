"""Absolute URLs of signed download tokens (served by schema/orders/rest.py: /api/downloads/<token>/)."""

from __future__ import annotations

from django.conf import settings


def download_url(token: str) -> str:
    return f"{settings.PUBLIC_API_URL}/api/downloads/{token}/"
