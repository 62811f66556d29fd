"""Ticket PDFs (filled in below)."""


def ticket_pdf_attachments(order_public_id: str) -> list[tuple[str, bytes, str]]:
    raise NotImplementedError
