"""QR code format, PDFs behind signed expiring URLs, gap-free invoice numbers."""

from __future__ import annotations

import time
import uuid

import pytest

from domains.common.signing import sign_download
from domains.orders import services
from domains.orders.models import Order
from domains.tickets.models import Ticket
from domains.tickets.qr import InvalidQrCode, qr_decode, qr_encode, qr_encode_payload

from .helpers import checkout


class FakeTicket:
    public_id = uuid.uuid4()
    secret_version = 7


def test_qr_round_trip_and_general_kinds():
    code = qr_encode(FakeTicket)
    assert code.startswith("FT1.") and ".T." in code
    assert qr_decode(code) == ("T", FakeTicket.public_id, 7)
    vendor = qr_encode_payload("V", FakeTicket.public_id, 1)
    assert qr_decode(vendor).kind == "V"
    with pytest.raises(InvalidQrCode):
        qr_decode(vendor, expected_kind="T")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.replace(".7.", ".8."),  # version changed
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: c.replace("FT1.", "FT2."),  # unknown format
        lambda c: c.split(".", 1)[1],  # truncated
        lambda c: "",
        lambda c: c + "x",
    ],
)
def test_qr_forged_or_malformed_codes_are_refused(mutate):
    with pytest.raises(InvalidQrCode):
        qr_decode(mutate(qr_encode(FakeTicket)))


def test_qr_signature_has_one_spelling():
    """The last base64 character carries 2 spare bits; flipping them keeps the bytes the
    same, and such a twin string must not count as the ticket's code."""
    code = qr_encode(FakeTicket)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(code[-1])
    twins = [code[:-1] + alphabet[(last & ~0b11) | spare] for spare in range(4)]
    twins.remove(code)
    assert len(twins) == 3
    for twin in twins:
        with pytest.raises(InvalidQrCode):
            qr_decode(twin)


def test_qr_signed_with_another_secret_is_refused(settings):
    code = qr_encode(FakeTicket)
    settings.QR_SIGNING_SECRET = "another-secret"
    with pytest.raises(InvalidQrCode):
        qr_decode(code)


def _paid(user, tt, qty, gateway):
    order = checkout(user, tt, qty)
    services.order_fulfil(order_id=order.pk, payment=gateway.set_status(order.payment_intent_id, "succeeded"), source="test")
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_invoice_numbers_are_gap_free_per_festival(make_user, make_type, fake_gateway):
    tt = make_type()
    user = make_user()
    unpaid = checkout(user, tt, 1)
    orders = [_paid(user, tt, 1, fake_gateway) for _ in range(3)]
    assert [o.invoice_number for o in orders] == [1, 2, 3]
    unpaid.refresh_from_db()
    assert unpaid.invoice_number is None


@pytest.mark.django_db
def test_downloads_serve_pdfs_behind_signed_expiring_urls(gql, make_user, make_type, fake_gateway, settings, tmp_path):
    from domains.tickets.documents import ticket_document_ref

    settings.MEDIA_ROOT = tmp_path
    user = make_user()
    order = _paid(user, make_type(), 2, fake_gateway)
    ticket = Ticket.objects.filter(order_line__order=order).first()
    for kind, oid in (
        ("invoice", order.public_id),
        ("tickets", order.public_id),
        ("ticket", ticket_document_ref(ticket)),
    ):
        response = gql.get(f"/api/downloads/{sign_download(kind, str(oid))}/")
        assert response.status_code == 200, kind
        assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    # Cached: the second request reads the file the first one wrote.
    assert len(list((tmp_path / "documents" / "tickets").glob("*.pdf"))) == 1
    expired = sign_download("invoice", str(order.public_id), ttl=1, now=time.time() - 10)
    assert gql.get(f"/api/downloads/{expired}/").status_code == 403
    token = sign_download("invoice", str(order.public_id))
    assert gql.get(f"/api/downloads/{token[:-2]}xx/").status_code == 403
    # A pending order has no invoice.
    pending = checkout(user, make_type(), 1)
    assert gql.get(f"/api/downloads/{sign_download('invoice', str(pending.public_id))}/").status_code == 404


@pytest.mark.django_db
def test_ticket_pdf_changes_when_the_ticket_changes(make_user, make_type, fake_gateway, settings, tmp_path):
    from domains.tickets.documents import single_ticket_pdf, ticket_document_ref
    from domains.tickets.services import ticket_bump_secret

    settings.MEDIA_ROOT = tmp_path
    order = _paid(make_user(), make_type(), 1, fake_gateway)
    ticket = Ticket.objects.get(order_line__order=order)
    single_ticket_pdf(ticket_document_ref(ticket))
    ticket_bump_secret(ticket=ticket)
    single_ticket_pdf(ticket_document_ref(ticket))
    assert len(list((tmp_path / "documents" / "ticket").glob("*.pdf"))) == 2
    assert Order.objects.get(pk=order.pk).status == "paid"


@pytest.mark.django_db
def test_ticket_pdf_is_made_again_after_a_key_rotation(make_user, make_type, fake_gateway, settings, tmp_path):
    """The cache must not hand out a page whose code the old key signed (README, rotating the QR key)."""
    from domains.tickets.documents import single_ticket_pdf, ticket_document_ref

    settings.MEDIA_ROOT = tmp_path
    order = _paid(make_user(), make_type(), 1, fake_gateway)
    ticket = Ticket.objects.get(order_line__order=order)
    first = single_ticket_pdf(ticket_document_ref(ticket))[1]
    assert single_ticket_pdf(ticket_document_ref(ticket))[1] == first  # cached while nothing changed
    settings.QR_SIGNING_PREVIOUS_SECRETS = [settings.QR_SIGNING_SECRET]
    settings.QR_SIGNING_SECRET = "rotated-qr-secret-" + "r" * 32
    assert single_ticket_pdf(ticket_document_ref(ticket))[1] != first
    assert len(list((tmp_path / "documents" / "ticket").glob("*.pdf"))) == 2


@pytest.mark.django_db
def test_ticket_pdfs_are_made_again_when_what_they_print_changes(make_user, make_type, fake_gateway, settings, tmp_path):
    """The cache is keyed on everything a page prints: a holder who corrects their name, or a
    renamed ticket type, gets a new page (the cache had kept the old name)."""
    from domains.tickets.documents import order_tickets_pdf, single_ticket_pdf, ticket_document_ref

    settings.MEDIA_ROOT = tmp_path
    user = make_user(full_name="Jon Smtih")
    order = _paid(user, make_type(name="Weekend"), 1, fake_gateway)
    ticket = Ticket.objects.get(order_line__order=order)
    first = single_ticket_pdf(ticket_document_ref(ticket))[1]
    first_order = order_tickets_pdf(str(order.public_id))[1]
    assert single_ticket_pdf(ticket_document_ref(ticket))[1] == first  # unchanged: from the cache

    user.full_name = "Jon Smith"
    user.save(update_fields=["full_name"])
    renamed = single_ticket_pdf(ticket_document_ref(ticket))[1]
    assert renamed != first
    assert order_tickets_pdf(str(order.public_id))[1] != first_order

    ticket.ticket_type.name = "Weekend Camping"
    ticket.ticket_type.save(update_fields=["name"])
    assert single_ticket_pdf(ticket_document_ref(ticket))[1] not in (first, renamed)
    assert len(list((tmp_path / "documents" / "ticket").glob("*.pdf"))) == 3
