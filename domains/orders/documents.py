"""Invoice PDFs (filled in below)."""


def invoice_pdf_attachments(order_public_id: str) -> list[tuple[str, bytes, str]]:
    raise NotImplementedError
