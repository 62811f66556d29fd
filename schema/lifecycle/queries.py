from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.orders import staff_selectors
from domains.transfers.selectors import transfer_list_for_user
from domains.upgrades.selectors import upgrade_list_for_requester
from schema.context import require_viewer
from schema.lifecycle.builders import staff_order
from schema.lifecycle.types import (
    StaffOrderFilterInput,
    StaffOrderGql,
    StaffOrderRowGql,
    StaffOrderSort,
    TransferGql,
    UpgradeGql,
)
from schema.pagination import Connection, paginate
from schema.permissions import authenticated, staff_only


@strawberry.type
class LifecycleQuery:
    @strawberry_django.field(extensions=authenticated(), description="Transfers you sent and those sent to your address, newest first.")
    def my_transfers(self, info: Info) -> list[TransferGql]:
        user = require_viewer(info).user
        return [TransferGql.from_model(t, user) for t in transfer_list_for_user(user)]

    @strawberry_django.field(extensions=authenticated(), description="Upgrades you asked for, newest first.")
    def my_upgrades(self, info: Info) -> list[UpgradeGql]:
        return [UpgradeGql.from_model(u) for u in upgrade_list_for_requester(require_viewer(info).user)]

    @strawberry_django.field(extensions=staff_only(), description="Staff order desk: search, filter, sort, cursor pages.")
    def staff_orders(
        self,
        info: Info,
        filter: StaffOrderFilterInput | None = None,
        sort: StaffOrderSort = StaffOrderSort.CREATED_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StaffOrderRowGql]:
        f = filter or StaffOrderFilterInput()
        qs = staff_selectors.staff_order_search(
            staff_selectors.StaffOrderFilter(
                q=f.search,
                status=f.status.value if f.status else None,
                ticket_type_id=f.ticket_type_id,
                created_from=f.created_from,
                created_to=f.created_to,
                disputed=f.disputed.value if f.disputed else None,
            )
        )
        return paginate(qs, order_by=staff_selectors.SORTS[sort.value], first=first, after=after, to_node=StaffOrderRowGql.from_model)

    @strawberry_django.field(extensions=staff_only(), description="One order with tickets, holders, transfers, upgrades and full history.")
    def staff_order(self, info: Info, id: uuid.UUID) -> StaffOrderGql | None:
        order = staff_selectors.staff_order_get(id)
        return staff_order(order, require_viewer(info).user) if order else None
