from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.orders import selectors
from schema.context import require_viewer
from schema.orders.types import OrderGql
from schema.pagination import Connection, paginate
from schema.permissions import authenticated


@strawberry.type
class OrderQuery:
    @strawberry_django.field(
        extensions=authenticated(),
        description=(
            "Your orders, newest first, in cursor pages: `first` (default 20, at most GRAPHQL_MAX_PAGE_SIZE) after the cursor `after`. "
            "Write `first` in the document: from a variable the query cost limit counts the largest page."
        ),
    )
    def my_orders(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[OrderGql]:
        return paginate(
            selectors.order_queryset_for_buyer(require_viewer(info).user),
            order_by=selectors.BUYER_ORDERS_ORDER_BY,
            first=first,
            after=after,
            to_node=OrderGql.from_model,
        )

    @strawberry_django.field(extensions=authenticated(), description="One of your orders (null if not yours).")
    def order(self, info: Info, id: uuid.UUID) -> OrderGql | None:
        o = selectors.order_get_for_buyer(require_viewer(info).user, id)
        return OrderGql.from_model(o) if o else None
