"""Every actor module, imported here so `manage.py rundramatiq` (autodiscovers `tasks`) finds them."""

from workers import emails  # noqa: F401
from workers import orders  # noqa: F401
from workers import wallet  # noqa: F401
from workers import lifecycle  # noqa: F401
