"""createCheckout under an on-sale rush (issue 8, docs/PERFORMANCE.md): the sold-out fast path
answers from the cached catalogue but never refuses a free ticket nor lets an oversell
through; a one-type checkout is one statement; creating a PaymentIntent blocks no other buyer."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.orders import services
from domains.orders.models import InventoryHold, Order, OrderLine, OrderStatusChange, Payment
from domains.tickets.models import TicketType
from tests.sales.test_concurrency import outcome, run_parallel


def buy(user, tt, quantity=1):
    return services.checkout_create(buyer=user, lines=[services.CheckoutLine(tt.public_id, quantity)])


def sold_out(user, tt, quantity=1) -> bool:
    try:
        buy(user, tt, quantity)
    except services.DomainError as exc:
        assert exc.code == "SOLD_OUT", exc.code
        return True
    return False


@pytest.fixture
def fast_path_calls(monkeypatch):
    """How many checkouts the fast path answered (SOLD_OUT raised from the catalogue)."""
    calls = Counter()
    original = services._sold_out_from_catalogue

    def counting(wanted):
        try:
            original(wanted)
        except services.DomainError:
            calls["sold_out"] += 1
            raise

    monkeypatch.setattr(services, "_sold_out_from_catalogue", counting)
    return calls


@pytest.mark.django_db(transaction=True)
def test_sold_out_is_answered_from_the_catalogue_without_sql_or_an_order(read_cache, make_type, make_user, fake_gateway, fast_path_calls):
    tt = make_type(capacity=2)
    buy(make_user(), tt, 2)
    assert sold_out(make_user(), tt)  # the database says so; the catalogue is loaded after it
    assert fast_path_calls["sold_out"] == 0
    orders = Order.objects.count()
    buyer = make_user()
    with CaptureQueriesContext(connection) as queries:
        assert sold_out(buyer, tt)
    assert fast_path_calls["sold_out"] == 1
    assert len(queries) == 0 and Order.objects.count() == orders


@pytest.mark.django_db(transaction=True)
def test_the_fast_path_is_off_with_its_setting_or_without_the_read_cache(read_cache, settings, make_type, make_user, fake_gateway, fast_path_calls):
    tt = make_type(capacity=1)
    buy(make_user(), tt)
    settings.CHECKOUT_SOLD_OUT_FAST_PATH = False
    assert sold_out(make_user(), tt) and sold_out(make_user(), tt)
    settings.CHECKOUT_SOLD_OUT_FAST_PATH = True
    settings.PUBLIC_READ_CACHE_SECONDS = 0
    assert sold_out(make_user(), tt) and sold_out(make_user(), tt)
    assert fast_path_calls["sold_out"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_released_ticket_is_sold_at_once_not_refused_from_the_cache(read_cache, make_type, make_user, fake_gateway, fast_path_calls):
    tt = make_type(capacity=2)
    first = buy(make_user(), tt).order
    buy(make_user(), tt)
    assert sold_out(make_user(), tt) and sold_out(make_user(), tt)
    assert fast_path_calls["sold_out"] == 1
    services.order_abandon(order_id=first.pk, source="test")  # its hold is released
    assert buy(make_user(), tt).client_secret
    assert sold_out(make_user(), tt)


@pytest.mark.django_db(transaction=True)
def test_more_capacity_is_sold_at_once_not_refused_from_the_cache(read_cache, make_type, make_user, fake_gateway, fast_path_calls):
    tt = make_type(capacity=1)
    buy(make_user(), tt)
    assert sold_out(make_user(), tt) and sold_out(make_user(), tt)
    assert fast_path_calls["sold_out"] == 1
    tt.refresh_from_db()
    tt.capacity = 2
    tt.save()  # signal: the catalogue's version changes
    assert buy(make_user(), tt).client_secret


@pytest.mark.django_db(transaction=True)
def test_an_expired_hold_is_sold_again_not_refused_from_the_cache(read_cache, make_type, make_user, fake_gateway, monkeypatch, fast_path_calls):
    from domains.common import readcache

    tt = make_type(capacity=1)
    order = buy(make_user(), tt).order
    assert sold_out(make_user(), tt) and sold_out(make_user(), tt)
    assert fast_path_calls["sold_out"] == 1
    later = order.expires_at + dt.timedelta(seconds=1)  # no write announces this
    for target in ("domains.common.readcache.clock_now", "domains.tickets.selectors.now", "domains.orders.services.now"):
        monkeypatch.setattr(target, lambda: later)
    assert readcache.peek(f"catalogue:{tt.festival_id}", "ticket_types") is None  # the entry ended at the expiry
    assert buy(make_user(), tt).client_secret
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED


@pytest.mark.django_db(transaction=True)
def test_a_larger_order_than_what_is_left_does_not_refuse_a_smaller_one(read_cache, make_type, make_user, fake_gateway):
    tt = make_type(capacity=3, per_order_limit=4)
    buy(make_user(), tt)
    assert sold_out(make_user(), tt, 4)  # 2 left: the catalogue now says 2
    assert buy(make_user(), tt, 2).client_secret
    assert sold_out(make_user(), tt, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rush_with_the_fast_path_sells_exactly_the_capacity_and_resells_released_tickets(
    read_cache, make_type, make_user, fake_gateway, fast_path_calls
):
    tt = make_type(capacity=40, per_order_limit=4)
    buyers = [make_user() for _ in range(200)]
    first = run_parallel(120, lambda i: buy(buyers[i], tt))
    assert Counter(outcome(r) for r in first) == {"ok": 40, "SOLD_OUT": 80}
    # Sold out now: the next wave is answered from the catalogue, except whatever a release frees.
    for result in [r for r in first if not isinstance(r, Exception)][:5]:
        services.order_abandon(order_id=result.order.pk, source="test")
    answered_before = fast_path_calls["sold_out"]
    second = run_parallel(80, lambda i: buy(buyers[120 + i], tt))
    assert Counter(outcome(r) for r in second) == {"ok": 5, "SOLD_OUT": 75}
    third = run_parallel(30, lambda i: buy(buyers[170 + i], tt))
    assert Counter(outcome(r) for r in third) == {"SOLD_OUT": 30}
    assert fast_path_calls["sold_out"] > answered_before  # the fast path did answer
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (0, 40)
    assert InventoryHold.objects.filter(ticket_type=tt, status="active").count() == 40
    assert Order.objects.filter(status="pending").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_type_checkout_is_one_statement_and_writes_the_whole_order(make_type, make_user, fake_gateway):
    """PostgreSQL: type look-up, the hold statement (order, line, hold, status, capacity),
    then the PaymentIntent transaction (BEGIN, lock the order, store the id, payment row,
    COMMIT): 7 statements (was 17 here: 4 INSERTs and the UPDATE in their own transaction, a
    get_or_create of the payment and a re-read of the order)."""
    tt = make_type(capacity=5, price_amount=2500)
    buyer = make_user()
    with CaptureQueriesContext(connection) as queries:
        result = buy(buyer, tt, 2)
    assert len(queries) == 7, "\n".join(q["sql"][:90] for q in queries)
    order = Order.objects.get(pk=result.order.pk)
    assert order.public_id == result.order.public_id and order.number == result.order.number
    assert (order.buyer_id, order.festival_id, order.status, order.currency) == (buyer.pk, tt.festival_id, "pending", "EUR")
    assert (order.total_amount, order.tax_amount, order.refunded_amount) == (5000, 0, 0)
    assert order.payment_intent_id == result.payment_intent_id == result.order.payment_intent_id
    assert order.created_at and order.updated_at and order.expires_at > order.created_at
    line = OrderLine.objects.get(order=order)
    assert (line.ticket_type_id, line.quantity, line.unit_price, line.currency) == (tt.pk, 2, 2500, "EUR")
    hold = InventoryHold.objects.get(order=order)
    assert (hold.ticket_type_id, hold.quantity, hold.status, hold.expires_at, hold.closed_at) == (tt.pk, 2, "active", order.expires_at, None)
    change = OrderStatusChange.objects.get(order=order)
    assert (change.from_status, change.to_status, change.source) == ("", "pending", "checkout")
    assert Payment.objects.get(order=order).provider_payment_id == result.payment_intent_id
    tt.refresh_from_db()
    assert (tt.sold_count, tt.held_count) == (0, 2)
    # Sold out writes nothing at all.
    before = (Order.objects.count(), OrderLine.objects.count(), InventoryHold.objects.count(), OrderStatusChange.objects.count())
    assert sold_out(make_user(), tt, 4)
    assert (Order.objects.count(), OrderLine.objects.count(), InventoryHold.objects.count(), OrderStatusChange.objects.count()) == before


class BlockingGateway:
    """The first PaymentIntent create waits until released (a slow Stripe)."""

    def __init__(self, inner):
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.first = True

    def create_payment_intent(self, **kw):
        if self.first:
            self.first = False
            self.entered.set()
            assert self.release.wait(20)
        return self.inner.create_payment_intent(**kw)

    def retrieve_payment_intent(self, pi_id):
        return self.inner.retrieve_payment_intent(pi_id)


def _others_wait_for_the_first_buyers_stripe_call(make_type, make_user, fake_gateway, monkeypatch):
    gateway = BlockingGateway(fake_gateway)
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gateway)
    tt = make_type(capacity=10)
    other = make_type(capacity=10)  # same festival, another type
    a, b, c = make_user(), make_user(), make_user()
    done = {}

    def run(name, user, ticket_type):
        try:
            done[name] = buy(user, ticket_type)
        except Exception as exc:  # noqa: BLE001 - inspected below
            done[name] = exc
        finally:
            connection.close()

    first = threading.Thread(target=run, args=("a", a, tt))
    first.start()
    assert gateway.entered.wait(10)  # A is inside its Stripe call, its order row locked
    # Another buyer of the same type (its row lock) and one of another type (the festival's row).
    others = [threading.Thread(target=run, args=("b", b, tt)), threading.Thread(target=run, args=("c", c, other))]
    for t in others:
        t.start()
    for t in others:
        t.join(1.5)
    waited = any(t.is_alive() for t in others)
    gateway.release.set()
    first.join(20)
    for t in others:
        t.join(20)
    assert not isinstance(done["a"], Exception), done["a"]
    return waited, done


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_payment_intent_create_blocks_no_other_buyer(make_type, make_user, fake_gateway, monkeypatch):
    waited, done = _others_wait_for_the_first_buyers_stripe_call(make_type, make_user, fake_gateway, monkeypatch)
    assert not waited
    assert done["b"].client_secret and done["c"].client_secret


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_control_locking_the_joined_festival_row_blocks_every_other_buyer(make_type, make_user, fake_gateway, monkeypatch):
    """The lock as it was (FOR UPDATE over the order joined with festival and buyer): the
    festival's row is locked during the Stripe call and the next order's INSERT waits for it."""
    monkeypatch.setattr(
        services, "_lock_order", lambda pk, related=True: Order.objects.select_for_update().select_related("festival", "buyer").get(pk=pk)
    )
    waited, _ = _others_wait_for_the_first_buyers_stripe_call(make_type, make_user, fake_gateway, monkeypatch)
    assert waited


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_several_types_still_all_or_nothing(make_type, make_user, fake_gateway):
    full, free = make_type(capacity=1), make_type(capacity=5)
    buy(make_user(), full)
    with pytest.raises(services.DomainError) as info:
        services.checkout_create(
            buyer=make_user(), lines=[services.CheckoutLine(free.public_id, 2), services.CheckoutLine(full.public_id, 1)]
        )
    assert info.value.code == "SOLD_OUT" and info.value.details[0].field == "lines.1.quantity"
    assert TicketType.objects.get(pk=free.pk).held_count == 0
