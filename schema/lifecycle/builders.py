"""Model -> GraphQL mapping of the staff order view (loads what it shows in a fixed number of queries)."""

from __future__ import annotations

from domains.audit.selectors import audit_for_order
from domains.orders import staff_selectors
from domains.transfers.selectors import transfers_for_tickets
from domains.upgrades.selectors import upgrades_for_tickets
from schema.lifecycle.types import AuditEntryGql, DisputeGql, StaffOrderGql, StaffTicketGql, TransferGql, UpgradeGql
from schema.orders.types import OrderGql
from schema.tickets.types import TicketStatus


def staff_order(order, viewer) -> StaffOrderGql:
    tickets = staff_selectors.staff_order_tickets(order)
    ids = [t.pk for t in tickets]
    gql = OrderGql.from_model(order)
    return StaffOrderGql(
        order=gql,
        buyer_email=order.buyer.email,
        buyer_name=order.buyer.full_name,
        tickets=[
            StaffTicketGql(
                id=t.public_id,
                status=TicketStatus(t.status),
                ticket_type_name=t.ticket_type.name,
                holder_email=t.holder.email,
                holder_name=t.holder.full_name,
                secret_version=t.secret_version,
                void_reason=t.void_reason,
                voided_at=t.voided_at,
            )
            for t in tickets
        ],
        transfers=[TransferGql.from_model(x, viewer) for x in transfers_for_tickets(ids)],
        upgrades=[UpgradeGql.from_model(u) for u in upgrades_for_tickets(ids)],
        disputes=[DisputeGql.from_model(d) for d in staff_selectors.staff_order_disputes(order)],
        history=[
            AuditEntryGql(
                at=e.created_at,
                action=e.action,
                actor_email=e.actor.email if e.actor else None,
                ticket_id=e.ticket.public_id if e.ticket else None,
                reason=e.reason,
                data=e.data,
            )
            for e in audit_for_order(order)
        ],
    )
