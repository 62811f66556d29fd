"""Invoice PDFs: seller, buyer, lines, included tax, totals, gap-free per-festival number."""

from __future__ import annotations

import uuid

from domains.accounts.privacy import invoice_buyer
from domains.orders import conf
from domains.orders.models import Order
from domains.tickets.pdf import cached, fingerprint, render_pdf


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def _context(order: Order) -> dict:
    f = order.festival
    lines = [
        {
            "name": line.ticket_type.name,
            "quantity": line.quantity,
            "unit": _money(line.unit_price, line.currency),
            "total": _money(line.total, line.currency),
        }
        for line in order.lines.select_related("ticket_type").order_by("id")
    ]
    rate = conf.tax_rate_bps()
    return {
        "order": order,
        "invoice_number": order.invoice_label,
        "seller": {"name": f.name, "address": f.venue_address or f.venue_name, "email": f.contact_email},
        "buyer": invoice_buyer(order),  # the kept name once the buyer erased their account
        "lines": lines,
        "tax_rate": f"{rate / 100:g}%" if rate else "",
        "tax": _money(order.tax_amount, order.currency),
        "net": _money(order.total_amount - order.tax_amount, order.currency),
        "total": _money(order.total_amount, order.currency),
        "refunded": _money(order.refunded_amount, order.currency) if order.refunded_amount else "",
    }


def invoice_pdf(order_public_id: str) -> tuple[str, bytes] | None:
    order = (
        Order.objects.select_related("festival", "buyer")
        .filter(public_id=uuid.UUID(order_public_id), invoice_number__isnull=False)
        .first()
    )
    if order is None:
        return None
    fp = fingerprint(order.invoice_number, order.status, order.refunded_amount, order.tax_amount)
    content = cached("invoice", order_public_id, fp, lambda: render_pdf("pdf/invoice.html", _context(order)))
    return f"invoice-{order.invoice_label}.pdf", content


def invoice_pdf_attachments(order_public_id: str) -> list[tuple[str, bytes, str]]:
    doc = invoice_pdf(order_public_id)
    return [(doc[0], doc[1], "application/pdf")] if doc else []
