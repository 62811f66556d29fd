"""`@rate_limited(action, account=...)`: the abuse limits of domains/common/abuse.py at the
GraphQL edge, where the client address is known. Put it under `@payload_errors(...)` so a
refusal becomes the RATE_LIMITED payload error (and the Retry-After header)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from strawberry.types import Info

from domains.common import abuse
from schema.context import client_ip, get_viewer


def find_info(args, kwargs) -> Info | None:
    info = kwargs.get("info")
    if isinstance(info, Info):
        return info
    return next((a for a in args if isinstance(a, Info)), None)


def viewer_account(info: Info, _kwargs: dict) -> str | None:
    viewer = get_viewer(info)
    return str(viewer.user.public_id) if viewer else None


def email_argument(name: str = "email") -> Callable[[Info, dict], str | None]:
    def account(_info: Info, kwargs: dict) -> str | None:
        value = kwargs.get(name)
        if value is None and "input" in kwargs:
            value = getattr(kwargs["input"], name, None)
        return value if isinstance(value, str) else None

    return account


def rate_limited(action: str, *, account: Callable[[Info, dict], str | None] | None = None):
    def decorate(resolver):
        @functools.wraps(resolver)
        def wrapper(*args, **kwargs):
            info = find_info(args, kwargs)
            if info is not None:
                abuse.check(action, ip=client_ip(info), account=account(info, kwargs) if account else None)
            return resolver(*args, **kwargs)

        return wrapper

    return decorate
