"""staffOrders over 5,000 orders on PostgreSQL: a constant number of queries, and every search
branch served by an index (the plans are printed; run with -s to see them)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.accounts.models import User
from domains.orders import staff_selectors as sel
from domains.orders.models import Order, OrderLine
from domains.tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
N = 5000
LIST = """query($f: StaffOrderFilterInput, $n: Int) { staffOrders(filter: $f, first: $n) { totalCount
  edges { node { id number status buyerEmail buyerName ticketCount total { amount } festivalName } } } }"""


@pytest.fixture
def many_orders(festival, make_type):
    tt = make_type(capacity=100_000)
    users = User.objects.bulk_create(
        [User(email=f"buyer{i:05d}@example.test", full_name=f"Buyer Number{i:05d}", password="!") for i in range(N)]
    )
    base = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    orders = Order.objects.bulk_create(
        [
            Order(
                buyer=u, festival=festival, status="paid", currency="EUR", total_amount=5000,
                expires_at=base, number=f"FT-{i:04d}-{(i * 7) % 10000:04d}".replace("0", "A").replace("1", "B"),
            )
            for i, u in enumerate(users)
        ]
    )
    # created_at is auto_now_add: spread it so ranges and sorts mean something.
    with connection.cursor() as cur:
        cur.execute("UPDATE orders_order SET created_at = %s + (id * interval '1 minute')", [base])
    lines = OrderLine.objects.bulk_create([OrderLine(order=o, ticket_type=tt, quantity=1, unit_price=5000, currency="EUR") for o in orders])
    Ticket.objects.bulk_create([Ticket(ticket_type=tt, holder_id=o.buyer_id, order_line=ln) for o, ln in zip(orders, lines, strict=True)])
    with connection.cursor() as cur:
        cur.execute("ANALYZE accounts_user; ANALYZE orders_order; ANALYZE orders_orderline; ANALYZE tickets_ticket")
    return tt, orders


def _plan(qs, *, seqscan: bool = True) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        flag = "on" if seqscan else "off"
        cur.execute(f"SET LOCAL enable_seqscan = {flag}; SET LOCAL enable_indexscan = {flag}")
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
        cur.execute("SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = on")
    return plan


def _page(f: sel.StaffOrderFilter):
    return sel.staff_order_search(f).order_by(*sel.SORTS["CREATED_DESC"])[:21]


def test_staff_orders_over_5000_orders_constant_queries(many_orders, as_user):
    tt, orders = many_orders
    staff = as_user("staff")

    def count(variables):
        with CaptureQueriesContext(connection) as ctx:
            data = staff.execute(LIST, variables).data["staffOrders"]
        return len(ctx.captured_queries), data

    count({"n": 1})  # the viewer is cached after the first request: compare warm to warm
    q_small, d_small = count({"n": 1})
    q_big, d_big = count({"n": 100})
    q_search, d_search = count({"n": 100, "f": {"search": "number0421", "status": "PAID", "ticketTypeId": str(tt.public_id)}})
    assert d_small["totalCount"] == N and len(d_big["edges"]) == 100
    assert d_search["totalCount"] == 10  # Number04210..04219
    assert q_small == q_big == q_search


def test_every_search_uses_an_index(many_orders):
    tt, orders = many_orders
    target = orders[4321]
    ticket = Ticket.objects.get(order_line__order=target)
    # Substring search: at 5,000 users PostgreSQL rightly prefers one sequential pass over the
    # users table (~60 pages) to the trigram bitmap scans; the GIN indexes take over as the
    # table grows. Shown both ways: the natural plan, and with seq and plain index scans disabled to prove the
    # indexes serve the exact expression Django generates (UPPER(col::text) LIKE ...).
    for label, q, indexes in [
        ("email/name", "buyer04321@", ("accounts_user_email_upper_trgm", "accounts_user_name_upper_trgm")),
        ("name", "number0432", ("accounts_user_name_upper_trgm",)),
    ]:
        natural = _plan(_page(sel.StaffOrderFilter(q=q)))
        forced = _plan(_page(sel.StaffOrderFilter(q=q)), seqscan=False)
        print(f"\n--- {label} (natural)\n{natural}\n--- {label} (enable_seqscan=off, enable_indexscan=off)\n{forced}")
        assert "Bitmap Index Scan" in forced and all(ix in forced for ix in indexes), forced
        assert "orders_order_buyer_id" in natural  # then orders by buyer, by index
    cases = {
        "order number": (sel.StaffOrderFilter(q=target.number), "orders_order_number"),
        "ticket id": (sel.StaffOrderFilter(q=str(ticket.public_id)), "tickets_ticket_public_id"),
        "sorted page": (sel.StaffOrderFilter(), "orders_order_created_public"),
        "date range": (
            sel.StaffOrderFilter(created_from=dt.datetime(2030, 1, 2, tzinfo=dt.UTC), created_to=dt.datetime(2030, 1, 2, 1, tzinfo=dt.UTC)),
            "orders_order_created_public",
        ),
    }
    for label, (f, index) in cases.items():
        plan = _plan(_page(f))
        print(f"\n--- {label}\n{plan}")
        assert "Index Scan" in plan or "Bitmap Index Scan" in plan, (label, plan)
        assert index in plan, (label, plan)
    found = list(sel.staff_order_search(sel.StaffOrderFilter(q=str(ticket.public_id))))
    assert [o.pk for o in found] == [target.pk]
    assert uuid.UUID(str(target.public_id))
