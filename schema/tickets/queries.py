from __future__ import annotations

import base64
import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.events.selectors import festival_get_public
from domains.tickets import selectors
from domains.tickets.qr import qr_encode
from domains.tickets.render import qr_png, qr_svg
from schema.context import require_viewer
from schema.permissions import authenticated, public
from schema.tickets.types import QrFormat, TicketGql, TicketQr, TicketTypeGql


@strawberry.type
class TicketQuery:
    @strawberry_django.field(extensions=public(), description="Ticket types on offer, with live availability.")
    def ticket_types(self, info: Info, festival_slug: str | None = None) -> list[TicketTypeGql]:
        festival = festival_get_public(festival_slug)
        if festival is None:
            return []
        return [TicketTypeGql.from_model(t) for t in selectors.ticket_type_list_public(festival)]

    @strawberry_django.field(extensions=authenticated(), description="Tickets held by the signed-in user.")
    def my_tickets(self, info: Info, include_inactive: bool = False) -> list[TicketGql]:
        user = require_viewer(info).user
        return [TicketGql.from_model(t) for t in selectors.ticket_list_for_holder(user, include_inactive=include_inactive)]

    @strawberry_django.field(extensions=authenticated(), description="One of your tickets (null if not yours).")
    def ticket(self, info: Info, id: uuid.UUID) -> TicketGql | None:
        t = selectors.ticket_get_for_holder(require_viewer(info).user, id)
        return TicketGql.from_model(t) if t else None

    @strawberry_django.field(
        extensions=authenticated(),
        description="The signed QR code of one of your valid tickets (null if not yours or not valid).",
    )
    def ticket_qr(self, info: Info, id: uuid.UUID, format: QrFormat = QrFormat.SVG) -> TicketQr | None:
        t = selectors.ticket_get_for_holder(require_viewer(info).user, id)
        if t is None or not t.is_valid:
            return None
        code = qr_encode(t)
        if format == QrFormat.PNG:
            data = base64.b64encode(qr_png(code)).decode("ascii")
            return TicketQr(ticket_id=t.public_id, format=format, payload=code, mime_type="image/png", data=data, data_url=f"data:image/png;base64,{data}")
        svg = qr_svg(code)
        return TicketQr(
            ticket_id=t.public_id,
            format=format,
            payload=code,
            mime_type="image/svg+xml",
            data=svg,
            data_url="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"),
        )
