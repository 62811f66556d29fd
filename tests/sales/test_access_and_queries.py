"""Attendees see only their own orders and tickets; list queries run a fixed number of queries."""

from __future__ import annotations

import pytest

from domains.orders import services
from domains.tickets.models import Ticket

from .helpers import checkout

ORDER = """query($id: UUID!) { order(id: $id) { id number status total { amount } invoiceNumber invoiceUrl ticketsPdfUrl
  lines { quantity ticketType { name } unitPrice { amount } }
  payments { status amount { amount } } refunds { amount { amount } }
  tickets { id status } statusHistory { fromStatus toStatus source } } }"""
TICKET = "query($id: UUID!) { ticket(id: $id) { id status ticketType { name } orderNumber pdfUrl } }"
QR = "query($id: UUID!, $f: QrFormat!) { ticketQr(id: $id, format: $f) { payload mimeType data dataUrl } }"
MY_TICKETS = "{ myTickets { id status holderName festivalName orderNumber pdfUrl ticketType { name available price { amount } } } }"
# `first` is written into the document: from a variable the cost limit (schema/cost.py) must
# assume the largest page, and a page of 100 orders with their tickets is refused.
MY_ORDERS = """query($after: String) { myOrders(FIRST after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { id number status invoiceUrl lines { quantity ticketType { name } } payments { status }
  refunds { amount { amount } } tickets { id ticketType { name } } statusHistory { toStatus } } } } }"""


def my_orders_document(first: int | None = None) -> str:
    return MY_ORDERS.replace("FIRST", f"first: {first}," if first is not None else "")


def my_orders(client, first: int | None = None, after: str | None = None):
    return client.execute(my_orders_document(first), {"after": after}).data["myOrders"]


def paid_order(user, tt, qty, gateway):
    order = checkout(user, tt, qty)
    services.order_fulfil(order_id=order.pk, payment=gateway.set_status(order.payment_intent_id, "succeeded"), source="test")
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_owner_sees_order_ticket_and_qr(as_user, make_type, fake_gateway):
    from domains.tickets.qr import qr_decode

    client = as_user()
    order = paid_order(client.user, make_type(), 2, fake_gateway)
    data = client.execute(ORDER, {"id": str(order.public_id)}).data["order"]
    assert data["status"] == "PAID" and len(data["tickets"]) == 2
    assert data["invoiceNumber"] == "TESTFEST-000001" and "/api/downloads/" in data["invoiceUrl"]
    assert [h["toStatus"] for h in data["statusHistory"]] == ["pending", "paid"]
    ticket_id = data["tickets"][0]["id"]
    assert client.execute(TICKET, {"id": ticket_id}).data["ticket"]["orderNumber"] == order.number
    svg = client.execute(QR, {"id": ticket_id, "f": "SVG"}).data["ticketQr"]
    assert svg["mimeType"] == "image/svg+xml" and svg["data"].lstrip().startswith("<svg")
    kind, public_id, version = qr_decode(svg["payload"])
    assert (kind, str(public_id), version) == ("T", ticket_id, 1)
    png = client.execute(QR, {"id": ticket_id, "f": "PNG"}).data["ticketQr"]
    assert png["dataUrl"].startswith("data:image/png;base64,iVBOR")


@pytest.mark.django_db
def test_other_users_cannot_see_orders_tickets_or_qr(as_user, make_type, fake_gateway):
    owner, intruder = as_user(), as_user()
    order = paid_order(owner.user, make_type(), 1, fake_gateway)
    ticket = Ticket.objects.get(order_line__order=order)
    assert intruder.execute(ORDER, {"id": str(order.public_id)}).data["order"] is None
    assert intruder.execute(TICKET, {"id": str(ticket.public_id)}).data["ticket"] is None
    assert intruder.execute(QR, {"id": str(ticket.public_id), "f": "SVG"}).data["ticketQr"] is None
    assert intruder.execute(MY_TICKETS).data["myTickets"] == []
    assert my_orders(intruder) == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    assert [e["node"]["id"] for e in my_orders(owner)["edges"]] == [str(order.public_id)]


@pytest.mark.django_db
def test_anonymous_gets_unauthenticated(gql):
    response = gql.execute(MY_TICKETS)
    assert response.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.django_db
def test_void_ticket_has_no_qr_and_old_codes_carry_an_old_version(as_user, make_type, fake_gateway):
    from domains.tickets.qr import qr_encode
    from domains.tickets.services import tickets_void

    client = as_user()
    order = paid_order(client.user, make_type(), 1, fake_gateway)
    ticket = Ticket.objects.get(order_line__order=order)
    old = qr_encode(ticket)
    tickets_void(tickets=[ticket], reason="test")
    assert ticket.secret_version == 2 and ticket.status == "void"
    assert client.execute(QR, {"id": str(ticket.public_id), "f": "SVG"}).data["ticketQr"] is None
    assert qr_encode(ticket) != old


# Pinned: the viewer (access token -> session + user, one join) + tickets joined with their
# type, festival, holder and order.
MY_TICKETS_QUERIES = 2
# Pinned: the viewer + the count (totalCount) + orders (with festival, buyer) + lines +
# payments + refunds + status history + tickets.
MY_ORDERS_QUERIES = 8


@pytest.mark.django_db
def test_my_tickets_query_count_is_constant(as_user, make_type, fake_gateway, django_assert_num_queries):
    client = as_user()
    tt = make_type(capacity=100, per_order_limit=10)
    for _ in range(5):
        paid_order(client.user, tt, 10, fake_gateway)
    assert Ticket.objects.filter(holder=client.user).count() == 50
    with django_assert_num_queries(MY_TICKETS_QUERIES):
        data = client.execute(MY_TICKETS).data["myTickets"]
    assert len(data) == 50


@pytest.mark.django_db
def test_my_orders_query_count_is_constant(as_user, make_type, fake_gateway, django_assert_num_queries):
    client = as_user()
    tt = make_type(capacity=100)
    for _ in range(20):
        paid_order(client.user, tt, 1, fake_gateway)
    with django_assert_num_queries(MY_ORDERS_QUERIES):
        data = my_orders(client)
    assert len(data["edges"]) == 20 and all(len(e["node"]["tickets"]) == 1 for e in data["edges"])
    # A smaller page: no more statements (fewer when the viewer was cached by the first call).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        data = my_orders(client, first=5)
    assert len(data["edges"]) == 5 and len(queries) <= MY_ORDERS_QUERIES


@pytest.mark.django_db
def test_my_orders_are_cursor_pages_newest_first_with_no_silent_cap(as_user, make_type, fake_gateway, settings):
    from domains.orders.models import Order

    client, other = as_user(), as_user()
    tt = make_type(capacity=500)
    for _ in range(7):
        paid_order(client.user, tt, 1, fake_gateway)
    paid_order(other.user, tt, 1, fake_gateway)
    newest_first = [str(o.public_id) for o in Order.objects.filter(buyer=client.user).order_by("-created_at", "-public_id")]
    seen, after = [], None
    while True:
        page = my_orders(client, first=3, after=after)
        assert page["totalCount"] == 7
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == newest_first  # every order once, in order, none of the other buyer's
    # No silent cap: `first` above the maximum page size gets a full page and says more exist.
    settings.GRAPHQL_MAX_PAGE_SIZE = 4
    capped = my_orders(client, first=50)
    assert len(capped["edges"]) == 4 and capped["pageInfo"]["hasNextPage"] and capped["totalCount"] == 7
    bad = client.execute(my_orders_document(3), {"after": "not-a-cursor"})
    assert bad.errors[0]["extensions"]["code"] == "INVALID_INPUT"
