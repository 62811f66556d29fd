"""Holds expire and capacity comes back; ticketTypes shows live availability."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domains.common.clock import now
from domains.orders.models import Order
from domains.tickets.models import TicketType

from .conftest import CREATE
from .helpers import checkout

TYPES = "{ ticketTypes { id name available soldOut onSale tierRank price { amount currency } isFullPass validOn } }"


def expire(order):
    past = now() - timedelta(seconds=1)
    Order.objects.filter(pk=order.pk).update(expires_at=past)
    order.holds.update(expires_at=past)


@pytest.mark.django_db
def test_ticket_types_show_live_availability(gql, make_user, make_type, fake_gateway):
    tt = make_type(capacity=10, price_amount=1234)
    TicketType.objects.filter(pk=tt.pk).update(sold_count=3)
    order = checkout(make_user(), tt, 2)
    [row] = gql.execute(TYPES).data["ticketTypes"]
    assert row["available"] == 5 and row["onSale"] and not row["soldOut"]
    assert row["price"] == {"amount": 1234, "currency": "EUR"} and row["isFullPass"]
    # An expired hold counts as free at once, before any job released it.
    expire(order)
    assert gql.execute(TYPES).data["ticketTypes"][0]["available"] == 7


@pytest.mark.django_db
def test_expired_holds_are_released_by_the_job_and_capacity_returns(make_user, make_type, fake_gateway):
    from workers.orders import release_expired_holds

    tt = make_type(capacity=4)
    order = checkout(make_user(), tt, 4)
    tt.refresh_from_db()
    assert tt.held_count == 4
    release_expired_holds()  # not expired yet: nothing happens
    order.refresh_from_db()
    assert order.status == "pending"
    expire(order)
    release_expired_holds()  # the actor's function, run in-process
    order.refresh_from_db()
    tt.refresh_from_db()
    assert order.status == "expired" and tt.held_count == 0
    assert [h.to_status for h in order.status_history.all()] == ["pending", "expired"]
    assert order.holds.get().status == "released"


@pytest.mark.django_db
def test_checkout_lazily_reclaims_expired_holds_when_sold_out(as_user, make_user, make_type, fake_gateway):
    tt = make_type(capacity=2)
    first = checkout(make_user(), tt, 2)
    client = as_user()
    variables = {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]}
    assert client.execute(CREATE, variables).error_codes("createCheckout") == ["SOLD_OUT"]
    expire(first)
    assert client.execute(CREATE, variables).payload("createCheckout")["errors"] == []
    first.refresh_from_db()
    tt.refresh_from_db()
    assert first.status == "expired" and tt.held_count == 1


@pytest.mark.django_db
def test_hold_ttl_is_a_setting(make_user, make_type, fake_gateway, settings):
    settings.CHECKOUT_HOLD_SECONDS = 60
    order = checkout(make_user(), make_type(), 1)
    assert timedelta(seconds=50) < order.expires_at - now() <= timedelta(seconds=60)


@pytest.mark.django_db
def test_demo_seed_creates_ticket_types_idempotently(festival):
    from domains.tickets.demo import seed_ticket_types

    first = seed_ticket_types(festival)
    again = seed_ticket_types(festival)
    assert len(first) == len(again) == TicketType.objects.count() == 5
    assert {t.valid_on is None for t in first} == {True, False}
