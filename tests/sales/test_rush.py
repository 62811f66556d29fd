"""Catalogue item 18 on PostgreSQL: 500 concurrent checkouts for 100 and for 1 remaining
tickets sell exactly that many, never below zero, the rest get SOLD_OUT; a lock wait that
runs out ends with a clean RETRY_LATER and changes nothing."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from domains.orders import services
from domains.orders.models import InventoryHold, Order, OrderLine
from domains.tickets.models import TicketType

from .conftest import CREATE
from .test_concurrency import outcome, run_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("remaining", [100, 1])
def test_500_buyers_at_once_get_exactly_what_is_left(remaining, make_user, make_type, fake_gateway):
    tt = make_type(capacity=1000, per_order_limit=4)
    TicketType.objects.filter(pk=tt.pk).update(sold_count=1000 - remaining)
    buyers = [make_user() for _ in range(500)]

    results = run_parallel(
        500, lambda i: services.checkout_create(buyer=buyers[i], lines=[services.CheckoutLine(tt.public_id, 1)])
    )

    counts = Counter(outcome(r) for r in results)
    assert counts == {"ok": remaining, "SOLD_OUT": 500 - remaining}, counts
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (1000 - remaining, remaining)  # never past capacity
    # Only the winners have an order, and each is whole: its line, its hold, its PaymentIntent.
    assert Order.objects.count() == OrderLine.objects.count() == remaining
    assert InventoryHold.objects.filter(status="active").count() == remaining
    assert not Order.objects.filter(payment_intent_id__isnull=True).exists()
    winners = {r.order.buyer_id for r in results if not isinstance(r, Exception)}
    assert winners == set(Order.objects.values_list("buyer_id", flat=True))


def test_a_lock_wait_that_runs_out_is_a_clean_retry_later(as_user, make_type, fake_gateway):
    """Another transaction sits on the ticket type's row longer than lock_timeout
    (DB_LOCK_TIMEOUT_MS): the buyer gets RETRY_LATER with Retry-After, no order, no hold."""
    tt = make_type(capacity=10)
    client = as_user()
    with connection.cursor() as cur:
        cur.execute("SHOW lock_timeout")
        assert cur.fetchone()[0] not in ("0", "")  # the setting the clean answer depends on

    locked, release = threading.Event(), threading.Event()

    def sit_on_the_row():
        try:
            with transaction.atomic():
                TicketType.objects.select_for_update().get(pk=tt.pk)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=sit_on_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        response = client.execute(CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]})
    finally:
        release.set()
        holder.join(30)

    assert response.status_code == 200
    payload = response.payload("createCheckout")
    assert [e["code"] for e in payload["errors"]] == ["RETRY_LATER"], payload
    assert response.headers.get("Retry-After") == "1"
    text = json.dumps(response.body)
    assert "Traceback" not in text and "lock" not in text.lower()
    assert not Order.objects.exists() and not InventoryHold.objects.exists()
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (0, 0)
    # And once the row is free, the same request goes through.
    again = client.execute(CREATE, {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]}).payload("createCheckout")
    assert again["errors"] == []
