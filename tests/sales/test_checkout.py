"""createCheckout / confirmCheckout through GraphQL (fake gateway): happy path and every error code."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domains.common.clock import now
from domains.orders.models import InventoryHold, Order, Payment
from domains.tickets.models import Ticket, TicketType

from .conftest import CONFIRM, CREATE


def lines(*pairs):
    return {"lines": [{"ticketTypeId": str(t.public_id), "quantity": q} for t, q in pairs]}


@pytest.mark.django_db
def test_create_checkout_holds_tickets_and_returns_client_secret(as_user, make_type, fake_gateway):
    tt = make_type(capacity=10, price_amount=4500)
    client = as_user()
    payload = client.execute(CREATE, lines((tt, 3))).payload("createCheckout")
    assert payload["errors"] == []
    assert payload["clientSecret"].startswith(payload["paymentIntentId"])
    assert payload["order"]["status"] == "PENDING"
    assert payload["order"]["total"] == {"amount": 13500, "currency": "EUR"}
    order = Order.objects.get(public_id=payload["order"]["id"])
    assert order.payment_intent_id == payload["paymentIntentId"]
    assert order.number.startswith("FT-")
    assert Payment.objects.filter(order=order, status="pending").count() == 1
    tt.refresh_from_db()
    assert (tt.held_count, tt.sold_count) == (3, 0)
    hold = InventoryHold.objects.get(order=order)
    assert dt.timedelta(minutes=14) < hold.expires_at - now() <= dt.timedelta(minutes=15)


@pytest.mark.django_db
def test_confirm_fulfils_when_stripe_says_succeeded_and_is_idempotent(as_user, make_type, fake_gateway):
    tt = make_type(capacity=10)
    client = as_user()
    created = client.execute(CREATE, lines((tt, 2))).payload("createCheckout")
    order_id = created["order"]["id"]
    pending = client.execute(CONFIRM, {"id": order_id}).payload("confirmCheckout")
    assert [e["code"] for e in pending["errors"]] == ["PAYMENT_NOT_COMPLETED"]

    fake_gateway.set_status(created["paymentIntentId"], "succeeded")
    for _ in range(3):
        done = client.execute(CONFIRM, {"id": order_id}).payload("confirmCheckout")
        assert done["errors"] == []
        assert done["order"]["status"] == "PAID"
        assert len(done["order"]["tickets"]) == 2
    assert Ticket.objects.filter(holder=client.user).count() == 2
    tt.refresh_from_db()
    assert (tt.held_count, tt.sold_count) == (0, 2)
    order = Order.objects.get(public_id=order_id)
    assert order.invoice_number == 1
    assert [h.to_status for h in order.status_history.all()] == ["pending", "paid"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case,code",
    [
        ("empty", "EMPTY_ORDER"),
        ("zero", "INVALID_QUANTITY"),
        ("unknown", "TICKET_TYPE_NOT_FOUND"),
        ("inactive", "NOT_ON_SALE"),
        ("not_started", "NOT_ON_SALE"),
        ("ended", "NOT_ON_SALE"),
        ("limit", "ORDER_LIMIT_EXCEEDED"),
        ("sold_out", "SOLD_OUT"),
        ("mixed", "MIXED_ORDER"),
    ],
)
def test_create_checkout_errors(case, code, as_user, make_type, fake_gateway):
    client = as_user()
    tt = make_type(capacity=5, per_order_limit=4)
    if case == "empty":
        variables = {"lines": []}
    elif case == "zero":
        variables = lines((tt, 0))
    elif case == "unknown":
        variables = {"lines": [{"ticketTypeId": str(uuid.uuid4()), "quantity": 1}]}
    elif case == "inactive":
        variables = lines((make_type(is_active=False), 1))
    elif case == "not_started":
        variables = lines((make_type(sale_starts_at=now() + dt.timedelta(days=1)), 1))
    elif case == "ended":
        variables = lines((make_type(sale_ends_at=now() - dt.timedelta(minutes=1)), 1))
    elif case == "limit":
        variables = lines((tt, 5))
    elif case == "sold_out":
        TicketType.objects.filter(pk=tt.pk).update(sold_count=3)
        variables = lines((tt, 3))
    else:
        variables = lines((tt, 1), (make_type(currency="USD"), 1))
    response = client.execute(CREATE, variables)
    assert response.error_codes("createCheckout") == [code]
    assert Order.objects.count() == 0
    tt.refresh_from_db()
    assert tt.held_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status,code",
    [("draft", "TICKET_TYPE_NOT_FOUND"), ("announced", "NOT_ON_SALE"), ("ended", "NOT_ON_SALE"), ("live", None)],
)
def test_a_festivals_status_decides_whether_its_tickets_sell(status, code, as_user, make_type, fake_gateway, festival, gql):
    """On sale and live (day tickets while it runs) sell; announced and ended do not; a draft's
    types answer like types that do not exist (they were bought by id while unpublished)."""
    tt = make_type(capacity=5)
    festival.status = status
    festival.save(update_fields=["status"])
    response = as_user().execute(CREATE, lines((tt, 1)))
    assert response.error_codes("createCheckout") == ([code] if code else [])
    assert Order.objects.count() == (0 if code else 1)
    if status != "draft":  # the catalogue's flag says the same
        types = gql.execute("query($s: String) { ticketTypes(festivalSlug: $s) { name onSale } }", {"s": festival.slug})
        assert types.data["ticketTypes"] == [{"name": tt.name, "onSale": code is None}]


@pytest.mark.django_db
def test_payment_provider_unavailable_leaves_nothing_half_made(as_user, make_type, fake_gateway):
    tt = make_type(capacity=5)
    fake_gateway.fail_creates = 5
    response = as_user().execute(CREATE, lines((tt, 2)))
    assert response.error_codes("createCheckout") == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    tt.refresh_from_db()
    assert tt.held_count == 0
    assert set(Order.objects.values_list("status", flat=True)) == {"failed"}


@pytest.mark.django_db
def test_timeout_after_creating_the_payment_intent_then_retry_keeps_one_intent(as_user, make_type, fake_gateway):
    tt = make_type(capacity=5)
    fake_gateway.fail_creates = 1
    payload = as_user().execute(CREATE, lines((tt, 1))).payload("createCheckout")
    assert payload["errors"] == []
    assert fake_gateway.create_calls == 2
    assert len(fake_gateway.intents) == 1
    assert payload["paymentIntentId"] in fake_gateway.intents


@pytest.mark.django_db
def test_confirm_errors(as_user, make_type, fake_gateway, settings):
    tt = make_type(capacity=5)
    owner = as_user()
    other = as_user()
    created = owner.execute(CREATE, lines((tt, 1))).payload("createCheckout")
    order_id = created["order"]["id"]
    # Someone else's order, and an unknown one, look the same.
    assert other.execute(CONFIRM, {"id": order_id}).error_codes("confirmCheckout") == ["ORDER_NOT_FOUND"]
    assert owner.execute(CONFIRM, {"id": str(uuid.uuid4())}).error_codes("confirmCheckout") == ["ORDER_NOT_FOUND"]
    # Not paid yet.
    assert owner.execute(CONFIRM, {"id": order_id}).error_codes("confirmCheckout") == ["PAYMENT_NOT_COMPLETED"]
    # Expired.
    Order.objects.filter(public_id=order_id).update(expires_at=now() - dt.timedelta(seconds=1))
    assert owner.execute(CONFIRM, {"id": order_id}).error_codes("confirmCheckout") == ["ORDER_EXPIRED"]
    # Failed order.
    failed = owner.execute(CREATE, lines((tt, 1))).payload("createCheckout")
    Order.objects.filter(public_id=failed["order"]["id"]).update(status="failed")
    assert owner.execute(CONFIRM, {"id": failed["order"]["id"]}).error_codes("confirmCheckout") == ["ORDER_NOT_PAYABLE"]
    # Declined: a failed payment attempt recorded, Stripe wants another method.
    declined = owner.execute(CREATE, lines((tt, 1))).payload("createCheckout")
    Payment.objects.filter(provider_payment_id=declined["paymentIntentId"]).update(status="failed")
    assert owner.execute(CONFIRM, {"id": declined["order"]["id"]}).error_codes("confirmCheckout") == ["PAYMENT_DECLINED"]


@pytest.mark.django_db
def test_mutations_require_authentication(gql):
    response = gql.execute(CREATE, {"lines": []})
    assert response.errors and response.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
