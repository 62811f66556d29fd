"""The race matrix: state-changing operations run at the same instant on the same objects, on
PostgreSQL with real threads (tests/lifecycle/racing.py: a Barrier, one connection each), and
the invariants a ticketing system keeps whatever the interleaving:

* never sold beyond a ticket type's capacity (checkouts, upgrades, comps, late payments);
* money refunded never more than paid, and what Stripe refunded is what we recorded;
* a ticket has exactly one holder, one pending transfer and one pending upgrade at most;
* no hold left counted once its order or upgrade is settled;
* every loser gets a typed DomainError: no deadlock, no unexpected exception.

Where a race showed a defect, the test names it, and a control with the fix switched off
shows the race is real.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db.models import F

from domains.common.errors import DomainError
from domains.orders import comps
from domains.orders import services as orders
from domains.orders.models import InventoryHold, Order, Refund
from domains.orders.refunds import order_refund
from domains.orders.webhooks import stripe_webhook_receive
from domains.payments.webhooks import sign_webhook_payload
from domains.tickets.models import Ticket, TicketType
from domains.transfers import services as transfers
from domains.transfers.models import Transfer
from domains.upgrades import services as upgrades
from domains.upgrades.models import Upgrade

from .conftest import admit, event_body, pi_object
from .racing import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def _kinds(results) -> list[str]:
    return sorted(r[0] for r in results)


def _no_crash(results) -> None:
    assert all(r[0] != "crash" for r in results), results


def _errors(results) -> list[str]:
    return sorted(r[1] for r in results if r[0] == "error")


def _counts(tt) -> tuple[int, int]:
    tt.refresh_from_db()
    return tt.sold_count, tt.held_count


def _within_capacity(*types) -> None:
    """Counted never beyond capacity, and what is counted sold is what exists."""
    for tt in types:
        tt.refresh_from_db()
        assert tt.sold_count + tt.held_count <= tt.capacity, (tt.name, tt.sold_count, tt.held_count, tt.capacity)
        valid_sold = Ticket.objects.filter(ticket_type=tt, status=Ticket.Status.VALID, from_comp_allowance=False).count()
        assert tt.sold_count == valid_sold, (tt.name, tt.sold_count, valid_sold)
        held = sum(InventoryHold.objects.filter(ticket_type=tt, status=InventoryHold.Status.ACTIVE).values_list("quantity", flat=True))
        held += Upgrade.objects.filter(to_type=tt, holds_capacity=True).count()
        assert tt.held_count == held, (tt.name, tt.held_count, held)


def _receive(body: bytes, secret: str):
    return lambda: stripe_webhook_receive(payload=body, signature_header=sign_webhook_payload(body, secret, int(time.time())))


def _later(seconds: float, fn):
    def call():
        time.sleep(seconds)
        return fn()

    return call


# --------------------------------------------------------------------------- staff refunds


def _refund(staff, order, **kw):
    return lambda: order_refund(staff=staff, order_public_id=order.public_id, reason="race", **kw)


def _money_kept(order, gateway) -> None:
    """Refunded at most what was paid; each Stripe refund recorded once, and only those."""
    order.refresh_from_db()
    assert 0 <= order.refunded_amount <= order.total_amount
    rows = Refund.objects.filter(order=order)
    assert sorted(rows.values_list("provider_refund_id", flat=True)) == sorted(r.id for r in gateway.refunds.values())
    assert sum(rows.values_list("amount", flat=True)) == order.refunded_amount == sum(r.amount for r in gateway.refunds.values())


def test_two_full_refunds_of_one_order_refund_once(make_user, make_type, paid_order, gateway):
    tt = make_type(capacity=100, price_amount=5000)
    staff = [make_user("staff"), make_user("staff")]
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        order = paid_order(make_user(), tt, 2)
        results = run_together([_refund(staff[0], order), _refund(staff[1], order)])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["ORDER_NOT_REFUNDABLE"]
        _money_kept(order, gateway)
        assert order.status == Order.Status.REFUNDED and order.refunded_amount == 10000
        assert not Ticket.objects.filter(order_line__order=order, status=Ticket.Status.VALID).exists()
    _within_capacity(tt)


@pytest.mark.parametrize(("first", "second", "outcome"), [
    (2000, 2000, {("ok", "ok")}),  # two goodwill refunds: two refunds, each its own key
    (3000, 3000, {("error", "ok")}),  # together more than was paid: the second is refused
    # Everything left racing a goodwill amount: the goodwill first and then the rest, or the
    # whole order first and the goodwill refused.
    (None, 1000, {("ok", "ok"), ("error", "ok")}),
])
def test_two_amount_refunds_of_one_order_never_exceed_what_was_paid(first, second, outcome, make_user, make_type, paid_order, gateway):
    tt = make_type(capacity=100, price_amount=5000)
    staff = [make_user("staff"), make_user("staff")]
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        order = paid_order(make_user(), tt, 1)
        results = run_together([_refund(staff[0], order, amount=first), _refund(staff[1], order, amount=second)])
        _no_crash(results)
        assert tuple(_kinds(results)) in outcome, results
        assert set(_errors(results)) <= {"REFUND_AMOUNT_INVALID", "ORDER_NOT_REFUNDABLE"}
        _money_kept(order, gateway)
        # Distinct keys for distinct refunds: no refund of Stripe's was given back for another.
        assert len(gateway.refunds) == _kinds(results).count("ok")
        if first is None:
            assert order.refunded_amount == order.total_amount
    _within_capacity(tt)


def test_two_refunds_of_the_same_ticket_void_it_once(make_user, make_type, paid_order, gateway):
    tt = make_type(capacity=100, price_amount=5000)
    staff = make_user("staff")
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        order = paid_order(make_user(), tt, 2)
        first = Ticket.objects.filter(order_line__order=order).order_by("pk").first()
        results = run_together([_refund(staff, order, ticket_ids=[first.public_id]), _refund(staff, order, ticket_ids=[first.public_id])])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["TICKET_NOT_VALID"]
        _money_kept(order, gateway)
        assert order.refunded_amount == 5000 and order.status == Order.Status.PARTIALLY_REFUNDED
    _within_capacity(tt)


def test_whole_order_refund_racing_a_ticket_refund(make_user, make_type, paid_order, gateway):
    tt = make_type(capacity=100, price_amount=5000)
    staff = make_user("staff")
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        order = paid_order(make_user(), tt, 2)
        first = Ticket.objects.filter(order_line__order=order).order_by("pk").first()
        results = run_together([_refund(staff, order), _refund(staff, order, ticket_ids=[first.public_id])])
        _no_crash(results)
        _money_kept(order, gateway)
        # Whichever came first, the whole order ends refunded, each ticket once.
        assert order.status == Order.Status.REFUNDED and order.refunded_amount == 10000, results
        assert results[0][0] == "ok"
        assert results[1][0] == "ok" or results[1][1] in ("TICKET_NOT_VALID", "ORDER_NOT_REFUNDABLE"), results
    _within_capacity(tt)


def test_staff_refund_racing_its_own_charge_refunded_event_records_it_once(make_user, make_type, paid_order, gateway, monkeypatch, webhook_secret):
    """Stripe sends `charge.refunded` as soon as the refund exists, while the staff refund is
    still in its transaction: the event waits for the order row, then finds the refund id
    recorded and changes nothing (no second void, no capacity given back twice)."""
    tt = make_type(capacity=100, price_amount=5000)
    staff = make_user("staff")
    real = gateway.create_refund
    delivered: list = []  # the event's thread, then its result

    def refund_then_event(**kwargs):
        info = real(**kwargs)
        obj = {"id": "ch_fake", "object": "charge", "payment_intent": info.payment_intent, "amount_refunded": info.amount,
               "currency": "eur", "refunds": {"data": [{"id": info.id, "amount": info.amount, "currency": "eur", "metadata": info.metadata}]}}
        event = threading.Thread(target=lambda: delivered.append(run_together([_receive(event_body("charge.refunded", obj), webhook_secret)])[0]))
        event.start()
        delivered.append(event)
        time.sleep(0.3)  # Stripe's answer takes a while to come back; the event is quicker
        return info

    monkeypatch.setattr(gateway, "create_refund", refund_then_event)
    for kw in ({}, {"amount": 1500}):
        for _ in range(2):
            gateway.refunds.clear()
            delivered.clear()
            order = paid_order(make_user(), tt, 2)
            order_refund(staff=staff, order_public_id=order.public_id, reason="race", **kw)
            delivered[0].join(30)
            received = delivered[1]
            assert received[0] == "ok" and received[1].outcome == "ignored", received
            _money_kept(order, gateway)
            assert Refund.objects.filter(order=order).count() == 1
            assert order.refunded_amount == kw.get("amount", 10000)
    _within_capacity(tt)


# --------------------------------------------------------------------------- capacity


@pytest.fixture
def tiers(make_type):
    """Day (plenty) and Weekend with one unit left."""
    day = make_type(name="Day", tier_rank=10, price_amount=5000, capacity=100)
    weekend = make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=1)
    return day, weekend


def _day_ticket(make_user, paid_order, day):
    holder = make_user()
    return holder, Ticket.objects.get(order_line__order=paid_order(holder, day, 1))


def _request(holder, ticket, to_type):
    return lambda: upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=to_type.public_id)


def _reset_last_unit(weekend) -> None:
    """Weekend back to one free unit, nothing held (between rounds)."""
    Upgrade.objects.filter(to_type=weekend, status=Upgrade.Status.PENDING).update(status=Upgrade.Status.EXPIRED, holds_capacity=False)
    InventoryHold.objects.filter(ticket_type=weekend, status=InventoryHold.Status.ACTIVE).update(status=InventoryHold.Status.RELEASED)
    Order.objects.filter(holds__ticket_type=weekend, status=Order.Status.PENDING).update(status=Order.Status.EXPIRED)
    Ticket.objects.filter(ticket_type=weekend).update(status=Ticket.Status.VOID)
    TicketType.objects.filter(pk=weekend.pk).update(sold_count=0, held_count=0, capacity=1)


def test_two_upgrades_of_different_tickets_for_the_last_unit(tiers, make_user, paid_order, gateway):
    day, weekend = tiers
    for _ in range(ROUNDS):
        _reset_last_unit(weekend)
        (a, ta), (b, tb) = _day_ticket(make_user, paid_order, day), _day_ticket(make_user, paid_order, day)
        results = run_together([_request(a, ta, weekend), _request(b, tb, weekend)])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["SOLD_OUT"]
        assert _counts(weekend) == (0, 1)
        assert Upgrade.objects.filter(to_type=weekend, status=Upgrade.Status.PENDING).count() == 1
        _within_capacity(weekend)


def test_free_staff_upgrades_of_different_tickets_for_the_last_unit(tiers, make_user, paid_order, gateway):
    """Applied at once (no charge): the type rows are locked for the apply, then the unit taken."""
    day, weekend = tiers
    staff = make_user("staff")
    for _ in range(ROUNDS):
        _reset_last_unit(weekend)
        tickets = [_day_ticket(make_user, paid_order, day)[1] for _ in range(3)]
        results = run_together([
            lambda t=t: upgrades.upgrade_process(staff=staff, ticket_public_id=t.public_id, to_type_public_id=weekend.public_id,
                                                 charge=False, reason="VIP guest")
            for t in tickets
        ])
        assert _kinds(results) == ["error", "error", "ok"], results
        assert _errors(results) == ["SOLD_OUT", "SOLD_OUT"]
        assert _counts(weekend) == (1, 0)
        _within_capacity(day, weekend)


def test_upgrade_racing_a_checkout_for_the_last_unit(tiers, make_user, paid_order, gateway):
    day, weekend = tiers
    for _ in range(ROUNDS):
        _reset_last_unit(weekend)
        holder, ticket = _day_ticket(make_user, paid_order, day)
        buyer = make_user()
        checkout = lambda buyer=buyer: orders.checkout_create(buyer=buyer, lines=[orders.CheckoutLine(weekend.public_id, 1)])  # noqa: E731
        results = run_together([_request(holder, ticket, weekend), checkout])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["SOLD_OUT"]
        assert _counts(weekend) == (0, 1)
        _within_capacity(weekend)


def test_comp_racing_a_checkout_for_the_last_unit(tiers, make_user, gateway):
    """A type without a comp allowance: comps count against capacity, like a sale."""
    _, weekend = tiers
    staff = make_user("staff")
    for n in range(ROUNDS):
        _reset_last_unit(weekend)
        buyer = make_user()
        comp = lambda n=n: comps.comp_issue(staff=staff, email=f"guest{n}@example.test", ticket_type_public_id=weekend.public_id,  # noqa: E731
                                            quantity=1, note="press")
        checkout = lambda buyer=buyer: orders.checkout_create(buyer=buyer, lines=[orders.CheckoutLine(weekend.public_id, 1)])  # noqa: E731
        results = run_together([comp, checkout])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["SOLD_OUT"]
        assert sum(_counts(weekend)) == 1
        _within_capacity(weekend)


# --------------------------------------------------------------------------- one ticket, one change at a time


@pytest.fixture
def ticket_of(make_user, make_type, paid_order):
    day = make_type(name="Day", tier_rank=10, price_amount=5000, capacity=100)

    def make():
        holder = make_user()
        return holder, Ticket.objects.get(order_line__order=paid_order(holder, day, 1))

    make.day = day
    return make


@pytest.fixture
def higher(make_type):
    return (make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=100),
            make_type(name="VIP", tier_rank=30, price_amount=15000, capacity=100))


def test_two_requests_for_the_same_upgrade_share_it(ticket_of, higher, gateway):
    weekend, _ = higher
    for n in range(1, ROUNDS + 1):
        holder, ticket = ticket_of()
        results = run_together([_request(holder, ticket, weekend), _request(holder, ticket, weekend)])
        assert _kinds(results) == ["ok", "ok"], results
        a, b = (r[1] for r in results)
        assert a.upgrade.pk == b.upgrade.pk and a.upgrade.payment_intent_id == b.upgrade.payment_intent_id
        assert Upgrade.objects.filter(ticket=ticket).count() == 1
        assert _counts(weekend) == (0, n)  # one unit held per ticket


def test_two_upgrades_of_one_ticket_to_different_tiers_one_pends(ticket_of, higher, gateway):
    weekend, vip = higher
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        results = run_together([_request(holder, ticket, weekend), _request(holder, ticket, vip)])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["UPGRADE_ALREADY_PENDING"]
        assert Upgrade.objects.filter(ticket=ticket, status=Upgrade.Status.PENDING).count() == 1
    _within_capacity(weekend, vip)


def test_free_staff_upgrade_racing_the_holders_paid_request_one_applies(ticket_of, higher, make_user, gateway):
    weekend, _ = higher
    staff = make_user("staff")
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        staff_up = lambda ticket=ticket: upgrades.upgrade_process(  # noqa: E731
            staff=staff, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id, charge=False, reason="crew")
        staffed, requested = run_together([staff_up, _request(holder, ticket, weekend)])
        _no_crash([staffed, requested])
        ticket.refresh_from_db()
        if staffed[0] == "ok":  # applied first: the holder's ticket is Weekend already
            assert requested == ("error", "UPGRADE_NOT_HIGHER_TIER") and ticket.ticket_type_id == weekend.pk, (staffed, requested)
        else:  # the holder's pending upgrade came first
            assert staffed == ("error", "UPGRADE_ALREADY_PENDING") and requested[0] == "ok", (staffed, requested)
            assert ticket.ticket_type_id == ticket_of.day.pk
    _within_capacity(ticket_of.day, weekend)


def test_two_transfer_offers_of_one_ticket_one_pends(ticket_of, make_user):
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        friends = [make_user(), make_user()]
        results = run_together([
            lambda f=f, holder=holder, ticket=ticket: transfers.transfer_create(sender=holder, ticket_public_id=ticket.public_id, to_email=f.email)
            for f in friends
        ])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results) == ["TRANSFER_ALREADY_PENDING"]
        assert Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING).count() == 1


def test_transfer_offer_racing_an_upgrade_request_one_wins(ticket_of, higher, make_user, gateway):
    weekend, _ = higher
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        friend = make_user()
        offer = lambda holder=holder, ticket=ticket, friend=friend: transfers.transfer_create(  # noqa: E731
            sender=holder, ticket_public_id=ticket.public_id, to_email=friend.email)
        results = run_together([offer, _request(holder, ticket, weekend)])
        assert _kinds(results) == ["error", "ok"], results
        assert _errors(results)[0] in ("TICKET_UPGRADE_PENDING", "TRANSFER_ALREADY_PENDING")
        pending = (Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING).count(),
                   Upgrade.objects.filter(ticket=ticket, status=Upgrade.Status.PENDING).count())
        assert pending in ((1, 0), (0, 1)), pending
    _within_capacity(weekend)


def test_transfer_offer_racing_a_refund(ticket_of, make_user, gateway):
    staff = make_user("staff")
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        order = ticket.order_line.order
        friend = make_user()
        offer = lambda holder=holder, ticket=ticket, friend=friend: transfers.transfer_create(  # noqa: E731
            sender=holder, ticket_public_id=ticket.public_id, to_email=friend.email)
        refunded, offered = run_together([_refund(staff, order), offer])
        assert refunded[0] == "ok", refunded
        assert offered[0] == "ok" or offered == ("error", "TICKET_NOT_VALID"), offered
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.REFUNDED and ticket.holder_id == holder.pk
        # An offer that got in first ended with the ticket and cannot be accepted: the ticket
        # stays refunded.
        if offered[0] == "ok":
            assert Transfer.objects.get(pk=offered[1].transfer.pk).status == Transfer.Status.CANCELLED
            with pytest.raises(DomainError) as exc:
                transfers.transfer_accept(recipient=friend, token=offered[1].token)
            assert str(exc.value.code) == "TRANSFER_NOT_PENDING"



def test_upgrade_request_racing_a_refund_leaves_no_unit_held(ticket_of, make_user, make_type, gateway):
    """Whichever comes first, no pending upgrade of the refunded ticket keeps a unit of the
    target type held: a request that got in first is closed by the refund, one that comes
    after is refused."""
    weekend = make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=ROUNDS)
    staff = make_user("staff")
    outcomes = set()
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        refunded, requested = run_together([_refund(staff, ticket.order_line.order), _request(holder, ticket, weekend)])
        assert refunded[0] == "ok", refunded
        assert requested[0] == "ok" or requested == ("error", "TICKET_NOT_VALID"), requested
        outcomes.add(requested[0])
        assert not Upgrade.objects.filter(ticket=ticket, status=Upgrade.Status.PENDING).exists()
        _within_capacity(weekend)
    weekend.refresh_from_db()
    assert weekend.held_count == 0, outcomes


def test_manual_admission_racing_a_camera_scan_admits_once(ticket_of, make_user, gate):
    from domains.accounts.models import Role
    from domains.scanning.models import TicketEntryState
    from domains.scanning.services import scan_manual_admit

    supervisor = make_user(Role.ADMIN)
    for _ in range(ROUNDS):
        _, ticket = ticket_of()
        manual = lambda ticket=ticket: scan_manual_admit(ticket_id=ticket.public_id, gate=gate, supervisor=supervisor)  # noqa: E731
        results = run_together([manual, lambda ticket=ticket: admit(ticket, gate)])
        assert _kinds(results) == ["ok", "ok"], results
        assert sorted(str(r[1].verdict) for r in results) == ["ADMITTED", "ALREADY_USED"], results
        assert TicketEntryState.objects.get(ticket=ticket).admissions == 1


# --------------------------------------------------------------------------- expiry and late payment


@pytest.mark.parametrize("report", ["webhook", "confirm"])
def test_hold_expiry_racing_the_late_payment_fulfils_or_flags(report, make_user, make_type, gateway, webhook_secret):
    """The hold ran out just as the payment succeeded: the expiry job and the webhook meet on
    the order row. Either the webhook fulfils from the hold, or the job released it first and
    the webhook sells again from what is free; with a buyer taking the last unit at the same
    time, the payment is kept and the order flagged for staff (never sold beyond capacity)."""
    tt = make_type(capacity=1)
    for _ in range(ROUNDS * 2):
        _reset_last_unit(tt)
        buyer = make_user()
        order = orders.checkout_create(buyer=buyer, lines=[orders.CheckoutLine(tt.public_id, 1)]).order
        Order.objects.filter(pk=order.pk).update(expires_at=order.created_at)
        InventoryHold.objects.filter(order=order).update(expires_at=order.created_at)
        info = gateway.succeed(order.payment_intent_id)
        body = event_body("payment_intent.succeeded", pi_object(info))
        rival = make_user()
        paid = _receive(body, webhook_secret) if report == "webhook" else (
            lambda buyer=buyer, order=order: orders.checkout_confirm(buyer=buyer, order_public_id=order.public_id))
        results = run_together([
            paid,
            lambda: orders.holds_release_expired(),
            lambda rival=rival: orders.checkout_create(buyer=rival, lines=[orders.CheckoutLine(tt.public_id, 1)]),
        ])
        _no_crash(results)
        assert results[2][0] == "ok" or results[2] == ("error", "SOLD_OUT"), results
        order.refresh_from_db()
        issued = Ticket.objects.filter(order_line__order=order).count()
        if order.status == Order.Status.PAID:
            assert issued == 1 and results[2][0] == "error"
        else:  # the rival got the unit: the payment is kept on record for staff to refund
            assert order.status == Order.Status.NEEDS_ATTENTION and issued == 0 and results[2][0] == "ok"
            assert results[0][0] == "ok" or results[0] == ("error", "ORDER_NOT_PAYABLE"), results  # confirm: "it will be refunded"
            assert order.payments.get().status == "succeeded" and order.paid_at is not None
        assert not InventoryHold.objects.filter(order=order, status=InventoryHold.Status.ACTIVE).exists()
        tt.refresh_from_db()
        assert tt.sold_count + tt.held_count <= tt.capacity


# --------------------------------------------------------------------------- defects found (lock order)


def _paid_pending_upgrade(ticket_of, weekend, gateway):
    holder, ticket = ticket_of()
    up = upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id).upgrade
    return holder, ticket, up, gateway.succeed(up.payment_intent_id)


def _upgrade_held_first(monkeypatch, seconds: float = 0.3) -> None:
    """The payment's side (apply, refund event) holds the upgrade row `seconds` before it goes
    on to the ticket: the request, started meanwhile, is then between the two."""
    from domains.upgrades import refunds as upgrade_refunds

    real = upgrades._lock_upgrade

    def slow(pk):
        row = real(pk)
        time.sleep(seconds)
        return row

    monkeypatch.setattr(upgrades, "_lock_upgrade", slow)
    monkeypatch.setattr(upgrade_refunds, "_lock_upgrade", slow)


def _refund_event(info, amount: int):
    obj = {"id": "ch_fake", "object": "charge", "payment_intent": info.id, "amount_refunded": amount, "currency": info.currency,
           "refunds": {"data": [{"id": f"re_{info.id}", "amount": amount, "currency": info.currency, "metadata": {}}]}}
    return event_body("charge.refunded", obj)


@pytest.mark.parametrize("event", ["succeeded", "refunded"])
def test_upgrade_requested_again_racing_its_payment_event_does_not_deadlock(event, ticket_of, higher, gateway, webhook_secret, monkeypatch):
    """The holder asks for the same upgrade again (a second tap, a reload) while Stripe's event
    for its payment arrives. The event's side takes the upgrade row and then the ticket (the
    apply locks it; the refund's audit entry refers to it); the request took the ticket and then
    the pending upgrade: the two deadlocked and PostgreSQL killed one (a 500 for the webhook, or
    the holder's request). The request now takes the upgrade row first, as everyone does."""
    weekend, _ = higher
    _upgrade_held_first(monkeypatch)
    for _ in range(3):
        holder, ticket, up, info = _paid_pending_upgrade(ticket_of, weekend, gateway)
        body = event_body("payment_intent.succeeded", pi_object(info)) if event == "succeeded" else _refund_event(info, up.amount)
        results = run_together([_receive(body, webhook_secret), _later(0.1, _request(holder, ticket, weekend))])
        _no_crash(results)
        received, requested = results
        assert received[0] == "ok" and received[1].outcome == "processed", received
        up.refresh_from_db()
        ticket.refresh_from_db()
        if event == "succeeded":
            # Applied once; asking to move up to the tier the ticket now has is refused.
            assert up.status == Upgrade.Status.COMPLETED and ticket.ticket_type_id == weekend.pk
            assert requested == ("error", "UPGRADE_NOT_HIGHER_TIER"), requested
        else:
            # Refunded before it was applied: never granted; the request opens a new upgrade.
            assert up.status == Upgrade.Status.NEEDS_ATTENTION and ticket.ticket_type_id == ticket_of.day.pk
            assert requested[0] == "ok" and requested[1].upgrade.pk != up.pk, requested
        assert Upgrade.objects.filter(ticket=ticket, status=Upgrade.Status.PENDING).count() == (event == "refunded")
    _within_capacity(ticket_of.day, weekend)


def test_control_request_taking_the_ticket_first_deadlocks_with_the_payment(ticket_of, higher, gateway, webhook_secret, monkeypatch):
    """The control: without the request's first lock on the pending upgrade (the order it used
    to take them in: ticket, then upgrade), PostgreSQL finds the deadlock and kills one side."""
    weekend, _ = higher
    _upgrade_held_first(monkeypatch)
    monkeypatch.setattr(upgrades, "_lock_pending_upgrade", lambda ticket_filter: None)
    holder, ticket, up, info = _paid_pending_upgrade(ticket_of, weekend, gateway)
    body = event_body("payment_intent.succeeded", pi_object(info))
    results = run_together([_receive(body, webhook_secret), _later(0.1, _request(holder, ticket, weekend))])
    crashed = [r[1] for r in results if r[0] == "crash"]
    assert crashed and "deadlock" in crashed[0].lower(), results  # the race is real


@pytest.fixture
def three_types(make_type):
    """Ids c < a < b. `b` has no unit free but one held by an expired checkout of `c` and `b`."""
    c, a, b = (make_type(name=n, capacity=100) for n in ("C", "A", "B"))
    TicketType.objects.filter(pk=b.pk).update(capacity=1)
    return c, a, b


def _expired_checkout(make_user, *types):
    order = orders.checkout_create(buyer=make_user(), lines=[orders.CheckoutLine(t.public_id, 1) for t in types]).order
    Order.objects.filter(pk=order.pk).update(expires_at=order.created_at)
    return order


def _release_late(monkeypatch, seconds: float = 0.3) -> None:
    """The sold-out checkout's release of expired holds starts `seconds` late: another checkout
    takes its own first type meanwhile."""
    real = orders.holds_release_expired

    def slow(**kwargs):
        time.sleep(seconds)
        return real(**kwargs)

    monkeypatch.setattr(orders, "holds_release_expired", slow)


def _checkout(buyer, *types):
    return lambda: orders.checkout_create(buyer=buyer, lines=[orders.CheckoutLine(t.public_id, 1) for t in types])


def test_checkout_of_several_types_releasing_expired_holds_does_not_deadlock(three_types, make_user, gateway, monkeypatch):
    """A checkout of A and B finds B taken by an expired hold and returns the expired order's
    holds to sale (C and B); another checkout holds C and waits for A. The first used to do
    that inside its own transaction, still holding A: it waited for C against the one lock
    order (types by id), and PostgreSQL killed one of the two. Now it gives A back first (its
    transaction ends), releases the expired holds holding nothing, and tries again."""
    c, a, b = three_types
    _release_late(monkeypatch)
    for _ in range(3):
        TicketType.objects.filter(pk=b.pk).update(capacity=F("sold_count") + F("held_count") + 1)
        expired = _expired_checkout(make_user, c, b)
        results = run_together([_checkout(make_user(), a, b), _later(0.1, _checkout(make_user(), c, a))])
        _no_crash(results)
        assert [r[0] for r in results] == ["ok", "ok"], results
        expired.refresh_from_db()
        assert expired.status == Order.Status.EXPIRED
        assert not expired.holds.filter(status=InventoryHold.Status.ACTIVE).exists()
    _within_capacity(c, a, b)


def test_control_releasing_expired_holds_inside_the_checkout_deadlocks(three_types, make_user, gateway, monkeypatch):
    """The control: the release called inside the attempt, A still held (as the checkout used
    to), deadlocks."""
    from domains.tickets import inventory

    c, a, b = three_types
    _release_late(monkeypatch)
    real = inventory.reserve

    def releasing_inside(ticket_type_id, quantity):
        if real(ticket_type_id, quantity):
            return True
        orders.holds_release_expired(ticket_type_id=ticket_type_id)
        return real(ticket_type_id, quantity)

    monkeypatch.setattr(inventory, "reserve", releasing_inside)
    _expired_checkout(make_user, c, b)
    results = run_together([_checkout(make_user(), a, b), _later(0.1, _checkout(make_user(), c, a))])
    crashed = [r[1] for r in results if r[0] == "crash"]
    assert crashed and "deadlock" in crashed[0].lower(), results  # the race is real


def _offer_expiring_during_accept(ticket_of, make_user, monkeypatch):
    """A pending offer that the recipient accepts just before it expires while the sender, just
    after, offers the ticket to someone else. Each call reads the clock once: the accept's
    reading is before the expiry, the new offer's after it (its clock is set ahead here, the
    same instant a few milliseconds apart in real life). The new offer holds the ticket when
    the accept, holding the old offer, asks for it."""
    clock = threading.local()
    real_now = transfers.now
    monkeypatch.setattr(transfers, "now", lambda: real_now() + getattr(clock, "ahead", dt.timedelta(0)))
    real_check = transfers._check_transferable

    def slow_check(ticket):
        real_check(ticket)
        time.sleep(0.3)

    monkeypatch.setattr(transfers, "_check_transferable", slow_check)
    holder, ticket = ticket_of()
    friend, other = make_user(), make_user()
    offer = transfers.transfer_create(sender=holder, ticket_public_id=ticket.public_id, to_email=friend.email)
    Transfer.objects.filter(pk=offer.transfer.pk).update(expires_at=real_now() + dt.timedelta(minutes=1))

    def offer_again():
        clock.ahead = dt.timedelta(minutes=2)
        return transfers.transfer_create(sender=holder, ticket_public_id=ticket.public_id, to_email=other.email)

    accept = _later(0.1, lambda: transfers.transfer_accept(recipient=friend, token=offer.token))
    return run_together([offer_again, accept]), ticket, friend


def test_new_offer_expiring_the_old_one_while_it_is_accepted_does_not_deadlock(ticket_of, make_user, monkeypatch):
    """The new offer used to mark the stale offer expired with an UPDATE that waited for its row
    (held by the accept, which waited for the ticket): a deadlock. It now leaves an offer that
    someone holds to them: the accept, still in time by its clock, moves the ticket."""
    for _ in range(3):
        (again, accepted), ticket, friend = _offer_expiring_during_accept(ticket_of, make_user, monkeypatch)
        _no_crash([again, accepted])
        assert again == ("error", "TRANSFER_ALREADY_PENDING") and accepted[0] == "ok", (again, accepted)
        ticket.refresh_from_db()
        assert ticket.holder_id == friend.pk and ticket.secret_version == 2
        assert not Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING).exists()


def test_control_expiring_the_old_offer_by_waiting_for_it_deadlocks(ticket_of, make_user, monkeypatch):
    def waiting_expire(ticket_id, at):
        Transfer.objects.filter(ticket_id=ticket_id, status=Transfer.Status.PENDING, expires_at__lte=at).update(status=Transfer.Status.EXPIRED)

    monkeypatch.setattr(transfers, "_expire_stale", waiting_expire)
    results, _, _ = _offer_expiring_during_accept(ticket_of, make_user, monkeypatch)
    crashed = [r[1] for r in results if r[0] == "crash"]
    assert crashed and "deadlock" in crashed[0].lower(), results  # the race is real


def test_cancel_racing_a_new_offer_leaves_at_most_one_pending(ticket_of, make_user):
    """The sender withdraws an offer and, in another tab, offers the ticket to someone else: the
    new offer is refused while the old one is pending, or made once it is cancelled."""
    for _ in range(ROUNDS):
        holder, ticket = ticket_of()
        friend, other = make_user(), make_user()
        offer = transfers.transfer_create(sender=holder, ticket_public_id=ticket.public_id, to_email=friend.email)
        results = run_together([
            lambda holder=holder, offer=offer: transfers.transfer_cancel(sender=holder, transfer_public_id=offer.transfer.public_id),
            lambda holder=holder, ticket=ticket, other=other: transfers.transfer_create(
                sender=holder, ticket_public_id=ticket.public_id, to_email=other.email),
        ])
        cancelled, again = results
        assert cancelled[0] == "ok", results
        assert again[0] == "ok" or again == ("error", "TRANSFER_ALREADY_PENDING"), results
        assert Transfer.objects.filter(ticket=ticket, status=Transfer.Status.PENDING).count() == (again[0] == "ok")


# --------------------------------------------------------------------------- a scan waiting for a change of hands


def _slow_accept(monkeypatch, seconds: float = 0.3) -> None:
    """The transfer accept keeps the ticket locked a while before it moves it."""
    real = transfers._lock_ticket

    def slow(pk):
        ticket = real(pk)
        time.sleep(seconds)
        return ticket

    monkeypatch.setattr(transfers, "_lock_ticket", slow)


def _offered(make_user, tt, paid_order):
    sender, recipient = make_user(), make_user()
    ticket = Ticket.objects.get(order_line__order=paid_order(sender, tt, 1))
    token = transfers.transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email).token
    return ticket, recipient, token


def test_scan_waiting_for_a_transfer_accept_refuses_the_old_code_as_voided(make_user, make_type, paid_order, gate, monkeypatch):
    """A scan of the sender's code that waits for the accept's lock then reads the ticket as
    the accept left it: VOIDED (a superseded code), logged against the ticket. Its locking query
    had joined the holder, and a join re-checked against the old holder row found no ticket:
    INVALID "unknown ticket" (domains/tickets/locking.py)."""
    from domains.scanning.models import ScanLog
    from domains.scanning.services import scan_commit
    from domains.tickets.qr import qr_encode

    tt = make_type(capacity=100)
    _slow_accept(monkeypatch)
    for _ in range(3):
        ticket, recipient, token = _offered(make_user, tt, paid_order)
        old_code = qr_encode(ticket)
        scan = _later(0.1, lambda code=old_code: scan_commit(code=code, gate=gate, device=None, staff_user=None, throttled=False))
        accepted, scanned = run_together([lambda token=token, r=recipient: transfers.transfer_accept(recipient=r, token=token), scan])
        assert accepted[0] == "ok" and scanned[0] == "ok", (accepted, scanned)
        assert scanned[1].verdict == "VOIDED", scanned[1]
        row = ScanLog.objects.get(ticket=ticket)
        assert row.verdict == "VOIDED" and row.reason != "unknown ticket", (row.verdict, row.reason)


def test_manual_admission_waiting_for_a_transfer_accept_admits_the_new_holders_ticket(make_user, make_type, paid_order, gate, monkeypatch):
    """A supervisor admitting a ticket by hand while it changes hands waits, then admits it:
    the ticket is valid, only its holder changed. It used to answer "ticket not found"."""
    from domains.accounts.models import Role
    from domains.scanning.services import scan_manual_admit

    tt = make_type(capacity=100)
    supervisor = make_user(Role.ADMIN)
    _slow_accept(monkeypatch)
    for _ in range(3):
        ticket, recipient, token = _offered(make_user, tt, paid_order)
        manual = _later(0.1, lambda ticket=ticket: scan_manual_admit(ticket_id=ticket.public_id, gate=gate, supervisor=supervisor))
        accepted, admitted = run_together([lambda token=token, r=recipient: transfers.transfer_accept(recipient=r, token=token), manual])
        assert accepted[0] == "ok" and admitted[0] == "ok", (accepted, admitted)
        assert admitted[1].verdict == "ADMITTED" and admitted[1].holder_name == recipient.full_name
