"""Every actor module, imported here so `manage.py rundramatiq` (autodiscovers `tasks`) finds them."""

from workers import (
    accounts,  # noqa: F401
    emails,  # noqa: F401
    lifecycle,  # noqa: F401
    orders,  # noqa: F401
    wallet,  # noqa: F401
)
