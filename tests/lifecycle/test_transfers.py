"""Transfers through the GraphQL endpoint: the happy path, the old QR code refused, each error."""

from __future__ import annotations

import datetime as dt

import pytest

from domains.audit.models import AuditEntry
from domains.notifications.models import OutboundEmail
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_decode, qr_encode
from domains.transfers.models import FestivalTransferPolicy, Transfer

from .conftest import admit

pytestmark = pytest.mark.django_db

CREATE = """mutation($t: UUID!, $e: String!) { createTransfer(ticketId: $t, toEmail: $e) {
  transfer { id status direction toEmail ticketId } errors { code field } } }"""
CANCEL = """mutation($id: UUID!) { cancelTransfer(id: $id) { transfer { id status } errors { code } } }"""
ACCEPT = """mutation($k: String!) { acceptTransfer(token: $k) { transfer { id status direction } errors { code field } } }"""
MINE = """{ myTransfers { id status direction toEmail fromName } }"""


def _token(transfer_id) -> str:
    email = OutboundEmail.objects.get(key=f"transfer-offer:{transfer_id}")
    return email.context["token"]


@pytest.fixture
def setup(as_user, make_type, paid_order):
    sender = as_user()
    recipient = as_user()
    tt = make_type(capacity=10, price_amount=5000)
    order = paid_order(sender.user, tt, 1)
    ticket = Ticket.objects.get(order_line__order=order)
    return sender, recipient, ticket


def test_accepted_transfer_moves_the_ticket_and_kills_the_old_code(setup, verdict_of):
    sender, recipient, ticket = setup
    old_code = qr_encode(ticket)
    assert verdict_of(old_code) == "ADMITTED"
    created = sender.execute(CREATE, {"t": str(ticket.public_id), "e": recipient.user.email.upper()}).payload("createTransfer")
    assert created["errors"] == [] and created["transfer"]["status"] == "PENDING"
    token = _token(created["transfer"]["id"])
    # The token is stored hashed only.
    assert not Transfer.objects.filter(token_hash=token).exists()

    accepted = recipient.execute(ACCEPT, {"k": token}).payload("acceptTransfer")
    assert accepted["errors"] == [] and accepted["transfer"]["status"] == "ACCEPTED"
    assert accepted["transfer"]["direction"] == "RECEIVED"
    ticket.refresh_from_db()
    assert ticket.holder_id == recipient.user.pk
    assert qr_decode(old_code).version != ticket.secret_version
    assert verdict_of(old_code) == "VOIDED"
    assert verdict_of(qr_encode(ticket)) == "ADMITTED"

    # single use
    again = recipient.execute(ACCEPT, {"k": token}).payload("acceptTransfer")
    assert [e["code"] for e in again["errors"]] == ["TRANSFER_NOT_PENDING"]
    # both sides notified, audit kept
    keys = set(OutboundEmail.objects.values_list("template", flat=True))
    assert {"transfer_offered", "transfer_accepted_sender", "transfer_accepted_recipient"} <= keys
    assert AuditEntry.objects.filter(ticket=ticket, action="ticket.holder_changed", actor=recipient.user).exists()
    # the sender no longer sees it; both see the transfer
    assert sender.execute("{ myTickets { id } }").data["myTickets"] == []
    assert [t["direction"] for t in sender.execute(MINE).data["myTransfers"]] == ["SENT"]
    assert [t["status"] for t in recipient.execute(MINE).data["myTransfers"]] == ["ACCEPTED"]
    # the buyer's order PDF no longer contains the transferred ticket
    from domains.tickets.documents import order_tickets_pdf

    assert order_tickets_pdf(str(ticket.order_line.order.public_id)) is None
    # nor does the buyer's view of the order: no holder details, no signed link to its PDF
    order = sender.execute(
        "query($id: UUID!) { order(id: $id) { lines { quantity } tickets { id pdfUrl holderEmail } } }",
        {"id": str(ticket.order_line.order.public_id)},
    ).data["order"]
    assert order["lines"][0]["quantity"] == 1 and order["tickets"] == []
    mine = recipient.execute("{ myTickets { id pdfUrl holderEmail } }").data["myTickets"]
    assert [(t["id"], t["holderEmail"]) for t in mine] == [(str(ticket.public_id), recipient.user.email)] and mine[0]["pdfUrl"]



def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


TICKET_ORDER = "query($id: UUID!) { ticket(id: $id) { orderId orderNumber } }"


def test_a_transferred_ticket_does_not_show_the_buyers_order(setup, settings, tmp_path):
    """The order, its number included, stays the buyer's: the new holder sees neither its id
    nor its number, in the API or on the ticket's PDF; back with the buyer, the ticket shows it
    again."""
    from domains.tickets.documents import single_ticket_pdf, ticket_document_ref

    settings.MEDIA_ROOT = tmp_path
    sender, recipient, ticket = setup
    order = ticket.order_line.order
    variables = {"id": str(ticket.public_id)}
    assert sender.execute(TICKET_ORDER, variables).data["ticket"] == {"orderId": str(order.public_id), "orderNumber": order.number}
    assert order.number in _pdf_text(single_ticket_pdf(ticket_document_ref(ticket))[1])

    def transfer(frm, to, t):
        created = frm.execute(CREATE, {"t": str(t.public_id), "e": to.user.email}).payload("createTransfer")
        accepted = to.execute(ACCEPT, {"k": _token(created["transfer"]["id"])}).payload("acceptTransfer")
        assert accepted["errors"] == []
        t.refresh_from_db()

    transfer(sender, recipient, ticket)
    assert recipient.execute(TICKET_ORDER, variables).data["ticket"] == {"orderId": None, "orderNumber": None}
    mine = recipient.execute("{ myTickets { id orderId orderNumber } }").data["myTickets"]
    assert mine == [{"id": str(ticket.public_id), "orderId": None, "orderNumber": None}]
    printed = _pdf_text(single_ticket_pdf(ticket_document_ref(ticket))[1])
    assert recipient.user.full_name in printed and order.number not in printed

    transfer(recipient, sender, ticket)
    assert sender.execute(TICKET_ORDER, variables).data["ticket"] == {"orderId": str(order.public_id), "orderNumber": order.number}


def test_create_errors(setup, as_user, gate, settings):
    sender, recipient, ticket = setup
    tid = str(ticket.public_id)
    other = as_user()
    codes = lambda client, e, t=tid: [x["code"] for x in client.execute(CREATE, {"t": t, "e": e}).payload("createTransfer")["errors"]]  # noqa: E731
    assert codes(other, recipient.user.email) == ["TICKET_NOT_FOUND"]
    assert codes(sender, sender.user.email) == ["TRANSFER_TO_SELF"]
    assert codes(sender, "not-an-email") == ["INVALID_INPUT"]
    assert codes(sender, "a" * 200 + "@" + "b" * 60 + ".com") == ["INVALID_INPUT"]  # 265 > the column's 254
    assert codes(sender, recipient.user.email) == []
    assert codes(sender, other.user.email) == ["TRANSFER_ALREADY_PENDING"]

    policy = FestivalTransferPolicy.objects.create(festival=ticket.ticket_type.festival, deadline=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    Transfer.objects.update(status="cancelled")
    assert codes(sender, other.user.email) == ["TRANSFER_DEADLINE_PASSED"]
    policy.deadline = None
    policy.max_transfers_per_ticket = 0
    policy.save()
    assert codes(sender, other.user.email) == ["TRANSFER_LIMIT_REACHED"]
    policy.delete()

    admit(ticket, gate)
    assert codes(sender, other.user.email) == ["TICKET_ALREADY_SCANNED"]


def test_accept_and_cancel_errors(setup, as_user, settings):
    sender, recipient, ticket = setup
    created = sender.execute(CREATE, {"t": str(ticket.public_id), "e": recipient.user.email}).payload("createTransfer")
    tr_id = created["transfer"]["id"]
    token = _token(tr_id)
    stranger = as_user()
    assert [e["code"] for e in stranger.execute(ACCEPT, {"k": token}).payload("acceptTransfer")["errors"]] == ["TRANSFER_WRONG_RECIPIENT"]
    assert [e["code"] for e in recipient.execute(ACCEPT, {"k": "nope"}).payload("acceptTransfer")["errors"]] == ["TRANSFER_NOT_FOUND"]
    # only the sender cancels
    assert [e["code"] for e in recipient.execute(CANCEL, {"id": tr_id}).payload("cancelTransfer")["errors"]] == ["TRANSFER_NOT_FOUND"]
    Transfer.objects.filter(public_id=tr_id).update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert [e["code"] for e in recipient.execute(ACCEPT, {"k": token}).payload("acceptTransfer")["errors"]] == ["TRANSFER_EXPIRED"]
    assert sender.execute(CANCEL, {"id": tr_id}).payload("cancelTransfer")["transfer"]["status"] == "CANCELLED"
    assert [e["code"] for e in sender.execute(CANCEL, {"id": tr_id}).payload("cancelTransfer")["errors"]] == ["TRANSFER_NOT_PENDING"]
    assert [e["code"] for e in recipient.execute(ACCEPT, {"k": token}).payload("acceptTransfer")["errors"]] == ["TRANSFER_NOT_PENDING"]
    ticket.refresh_from_db()
    assert ticket.holder_id == sender.user.pk and ticket.secret_version == 1


def test_recipient_registering_on_the_way_may_accept(setup, gql, token_for):
    from domains.accounts.models import User

    sender, _, ticket = setup
    created = sender.execute(CREATE, {"t": str(ticket.public_id), "e": "newcomer@example.test"}).payload("createTransfer")
    token = _token(created["transfer"]["id"])
    reg = gql.execute('mutation { register(email: "Newcomer@example.test", password: "correct-horse-battery-staple") { errors { code } } }')
    assert reg.payload("register")["errors"] == []
    newcomer = User.objects.get(email="newcomer@example.test")
    assert newcomer.email_verified_at is None
    gql.authenticate(token_for(newcomer))
    assert gql.execute(ACCEPT, {"k": token}).payload("acceptTransfer")["errors"] == []
    ticket.refresh_from_db()
    assert ticket.holder_id == newcomer.pk


def test_refunded_ticket_cannot_be_transferred_and_pending_transfer_dies(setup, as_user, django_capture_on_commit_callbacks):
    sender, recipient, ticket = setup
    created = sender.execute(CREATE, {"t": str(ticket.public_id), "e": recipient.user.email}).payload("createTransfer")
    token = _token(created["transfer"]["id"])
    from domains.tickets.services import tickets_void

    with django_capture_on_commit_callbacks(execute=True):  # the void's commit
        tickets_void(tickets=[ticket], reason="test")
    # The offer ends with the ticket: neither side keeps a pending offer nobody can accept.
    assert Transfer.objects.get().status == "cancelled"
    assert [t["status"] for t in sender.execute(MINE).data["myTransfers"]] == ["CANCELLED"]
    assert [e["code"] for e in recipient.execute(ACCEPT, {"k": token}).payload("acceptTransfer")["errors"]] == ["TRANSFER_NOT_PENDING"]
    assert AuditEntry.objects.filter(ticket=ticket, action="transfer.cancelled", actor=None).exists()
    codes = [e["code"] for e in sender.execute(CREATE, {"t": str(ticket.public_id), "e": recipient.user.email}).payload("createTransfer")["errors"]]
    assert codes == ["TICKET_NOT_VALID"]
