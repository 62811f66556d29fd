"""Text PostgreSQL cannot store, in one place."""

from __future__ import annotations

import re
from typing import Any

# NUL, and UTF-16 surrogates that pair with nothing (JSON's "\u0000" and "\ud800" decode to
# them): PostgreSQL refuses NUL in any text, and psycopg cannot encode a lone surrogate to
# UTF-8 at all. Either, reaching a query, was a 500.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def has_unstorable_text(value: Any) -> bool:
    """True when a string anywhere in `value` (dict keys included) holds an unstorable character.
    A loop, not recursion: the value may be nested nearly as deep as the JSON parser allowed."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def storable(text: str) -> str:
    """`text` with each unstorable character replaced by U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)
