"""Ticket PDFs: one page per ticket with its signed QR code."""

from __future__ import annotations

import uuid

from django.db.models import F

from domains.tickets.models import Ticket
from domains.tickets.pdf import cached, fingerprint, render_pdf
from domains.tickets.qr import qr_encode
from domains.tickets.render import qr_png_data_uri


def _printed(ticket: Ticket) -> dict:
    """Everything a ticket's page prints, its QR code as the signed text it encodes."""
    tt = ticket.ticket_type
    festival = tt.festival
    order = ticket.order_for_holder()
    return {
        "festival": {
            "name": festival.name, "venue_name": festival.venue_name,
            "starts_on": festival.starts_on, "ends_on": festival.ends_on,
        },
        "type_name": tt.name,
        "valid_on": tt.valid_on,
        "holder_name": ticket.holder.full_name or ticket.holder.email,
        "ticket_id": str(ticket.public_id),
        "short_id": ticket.public_id.hex[:8].upper(),
        "order_number": order.number if order else "",
        "code": qr_encode(ticket),
    }


def _render(pages: list[dict]) -> bytes:
    return render_pdf("pdf/tickets.html", {"pages": [{**page, "qr": qr_png_data_uri(page["code"])} for page in pages]})


def _cached_pdf(kind: str, object_id: str, tickets: list[Ticket]) -> bytes:
    """The PDF of these tickets' pages, made again whenever anything it prints changed: the
    holder's name, the festival's or the type's, the code (a new version, a rotated key). The
    cache had been keyed on ids, versions and the signing key only, so a holder who corrected
    their name kept getting the page with the old one."""
    pages = [_printed(t) for t in tickets]
    return cached(kind, object_id, fingerprint(*[sorted(page.items()) for page in pages]), lambda: _render(pages))


def _valid_tickets_of_order(order_public_id: str) -> list[Ticket]:
    # Only tickets the buyer still holds: a ticket transferred away belongs to its new holder
    # (its current QR code must not reach the buyer through the order's PDF).
    return list(
        Ticket.objects.filter(order_line__order__public_id=uuid.UUID(order_public_id), status=Ticket.Status.VALID)
        .filter(holder_id=F("order_line__order__buyer_id"))
        .select_related("ticket_type__festival", "holder", "order_line__order")
        .order_by("issued_at", "id")
    )


def order_tickets_pdf(order_public_id: str) -> tuple[str, bytes] | None:
    """All valid tickets of an order in one PDF (cached), or None when there are none."""
    tickets = _valid_tickets_of_order(order_public_id)
    if not tickets:
        return None
    number = tickets[0].order_line.order.number
    content = _cached_pdf("tickets", order_public_id, tickets)
    return f"tickets-{number}.pdf", content


def ticket_document_ref(ticket: Ticket) -> str:
    """How a signed download link or a queued email names one ticket's PDF: the ticket at its
    current code version. A transfer (or an upgrade, a re-issue) bumps the version, so a link
    or an email made for the holder before that finds nothing, rather than the PDF of the
    ticket as it is now, with its new holder's QR code (a link lives DOWNLOAD_URL_TTL; a queued
    email is retried for up to about 20 minutes, workers/emails.py)."""
    return f"{ticket.public_id}:{ticket.secret_version}"


def single_ticket_pdf(ticket_ref: str) -> tuple[str, bytes] | None:
    """The PDF of the ticket `ticket_document_ref` named, while it is valid and unchanged."""
    public_id, _, version = ticket_ref.partition(":")
    try:
        public_id, version = uuid.UUID(public_id), int(version)
    except ValueError:
        return None
    ticket = (
        Ticket.objects.filter(public_id=public_id, secret_version=version, status=Ticket.Status.VALID)
        .select_related("ticket_type__festival", "holder", "order_line__order")
        .first()
    )
    if ticket is None:
        return None
    content = _cached_pdf("ticket", str(public_id), [ticket])
    return f"ticket-{ticket.public_id.hex[:8]}.pdf", content


def ticket_pdf_attachments(order_public_id: str) -> list[tuple[str, bytes, str]]:
    """Email attachment builder ("ticket_pdfs"): the order's tickets as one PDF."""
    doc = order_tickets_pdf(order_public_id)
    return [(doc[0], doc[1], "application/pdf")] if doc else []
