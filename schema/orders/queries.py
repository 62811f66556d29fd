from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.orders import selectors
from schema.context import require_viewer
from schema.orders.types import OrderGql
from schema.permissions import authenticated


@strawberry.type
class OrderQuery:
    @strawberry_django.field(extensions=authenticated(), description="Your orders, newest first (at most 100).")
    def my_orders(self, info: Info) -> list[OrderGql]:
        return [OrderGql.from_model(o) for o in selectors.order_list_for_buyer(require_viewer(info).user)]

    @strawberry_django.field(extensions=authenticated(), description="One of your orders (null if not yours).")
    def order(self, info: Info, id: uuid.UUID) -> OrderGql | None:
        o = selectors.order_get_for_buyer(require_viewer(info).user, id)
        return OrderGql.from_model(o) if o else None
