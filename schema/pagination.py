"""Cursor (keyset) pagination for any Django queryset: `Connection[T]`, `paginate()`.

Usage in a resolver::

    @strawberry_django.field(extensions=staff_only())
    def all_vendors(self, info, first: int | None = None, after: str | None = None) -> Connection[VendorProfileType]:
        qs = selectors.vendor_admin_list(...)          # ordered by ("business_name", "public_id")
        return paginate(qs, order_by=("business_name", "public_id"), first=first, after=after,
                        to_node=VendorProfileType.from_model)

Rules:

- `order_by` lists plain model fields (no relations), each optionally prefixed with "-", and
  must end with a unique field so that the order is total. Use `public_id`, not `id`: a
  cursor is opaque, not secret, and must not reveal sequential database ids.
- A cursor is the base64url JSON of the last row's `order_by` values; the next page is the
  rows strictly after it (`WHERE (a, b) > (x, y)` spelled out per field), so pages stay
  correct while rows are added or removed, unlike offsets.
- `first` defaults to PAGE_SIZE_DEFAULT and is capped at settings.GRAPHQL_MAX_PAGE_SIZE.
- A malformed cursor is a GraphQL error with code INVALID_INPUT (not masked).
- The generic types are named after the node: `Connection[VendorType]` -> `VendorConnection`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from django.conf import settings
from django.db.models import Model, Q, QuerySet
from graphql import GraphQLError

from domains.common.signing import b64url, b64url_decode
from domains.common.text import has_unstorable_text

T = TypeVar("T")
PAGE_SIZE_DEFAULT = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Rows matching the filters, on all pages.")


def _fields(order_by: Sequence[str]) -> list[tuple[str, bool]]:
    return [(f.lstrip("-"), f.startswith("-")) for f in order_by]


def _encode(obj: Model, order_by: Sequence[str]) -> str:
    values = []
    for name, _desc in _fields(order_by):
        value = getattr(obj, name)
        values.append(value if isinstance(value, (int, float, str, bool)) or value is None else str(value))
    return b64url(json.dumps(values, separators=(",", ":")).encode())


def _bad_cursor() -> GraphQLError:
    return GraphQLError("Invalid cursor.", extensions={"code": "INVALID_INPUT", "field": "after"})


def _after(qs: QuerySet, order_by: Sequence[str], cursor: str) -> QuerySet:
    fields = _fields(order_by)
    try:
        values = json.loads(b64url_decode(cursor))
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError
        values = [qs.model._meta.get_field(name).to_python(v) for (name, _), v in zip(fields, values, strict=True)]
        # Cursors we issue hold the last row's values: never null, never text PostgreSQL refuses.
        if any(v is None for v in values) or has_unstorable_text(values):
            raise ValueError
    except Exception:  # anything a client can put in a cursor is just "invalid"
        raise _bad_cursor() from None
    condition = Q()
    for i, (name, desc) in enumerate(fields):
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        for j, (prior_name, _prior_desc) in enumerate(fields[:i]):
            step &= Q(**{prior_name: values[j]})
        condition |= step
    return qs.filter(condition)


def paginate(
    qs: QuerySet,
    *,
    order_by: Sequence[str],
    first: int | None,
    after: str | None,
    to_node: Callable[[Any], T],
) -> Connection[T]:
    """One page of `qs` in `order_by` order, after the cursor `after`."""
    limit = PAGE_SIZE_DEFAULT if first is None else first
    if limit < 0:
        raise GraphQLError("`first` must not be negative.", extensions={"code": "INVALID_INPUT", "field": "first"})
    limit = min(limit, settings.GRAPHQL_MAX_PAGE_SIZE)
    total = qs.order_by().count()
    page_qs = qs.order_by(*order_by)
    if after:
        page_qs = _after(page_qs, order_by, after)
    rows = list(page_qs[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [Edge(cursor=_encode(row, order_by), node=to_node(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )
