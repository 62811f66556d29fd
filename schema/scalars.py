"""Scalars whose parsing is stricter than strawberry's defaults.

DateTime: strawberry accepts an ISO 8601 time without an offset, which our code would then
compare with aware times (a TypeError, so a masked error for the client) or read in whatever
zone the server runs in; and it accepts times that exist only with their offset (0001-01-01 at
+14:00 is in year 0 in UTC), which no later arithmetic can hold. Here a DateTime must carry an
offset (`Z` or `+02:00`) and is turned into UTC as it is parsed; anything else is the same
clear coercion error as any malformed value, before a resolver runs.
"""

from __future__ import annotations

import datetime as dt

import dateutil.parser
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition


def parse_datetime(value: str) -> dt.datetime:
    parsed = dateutil.parser.isoparse(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("It needs a UTC offset, such as Z or +02:00.")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("It is out of range.") from None


DATETIME = ScalarDefinition(
    name="DateTime",
    description="Date with time, ISO 8601 with a UTC offset (2026-06-20T18:30:00+02:00 or 2026-06-20T16:30:00Z)",
    specified_by_url=None,
    serialize=DateTimeDefinition.serialize,
    parse_value=wrap_parser(parse_datetime, "DateTime", exceptions=(ValueError, OverflowError)),
    parse_literal=None,
    origin=dt.datetime,
)

SCALARS = {dt.datetime: DATETIME}
