"""Staff refunds racing the rest of the lifecycle, on PostgreSQL with real threads:

* a refund racing a transfer accept or an upgrade's payment on the same ticket: no deadlock,
  and Stripe refunded exactly what was recorded;
* a refund (without override) racing a scan at the gate while it waits for Stripe: the
  ticket is either refunded or let in, never both;
* a goodwill refund retried after a Stripe timeout whose refund the `charge.refunded` event
  recorded in between: Stripe refunds once.
"""

from __future__ import annotations

import time

import pytest

from domains.common.errors import DomainError
from domains.orders.errors import OrderErrorCode
from domains.orders.models import Order, Refund
from domains.orders.refunds import order_refund
from domains.orders.webhooks import stripe_webhook_receive
from domains.payments.gateway import PaymentGatewayUnavailable
from domains.payments.webhooks import sign_webhook_payload
from domains.scanning.models import TicketEntryState
from domains.tickets.models import Ticket
from domains.transfers import services as transfers
from domains.upgrades import services as upgrades

from .conftest import admit, event_body
from .racing import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 3


def _slow_stripe(gateway, monkeypatch, seconds: float) -> None:
    """Stripe answers a refund after `seconds`: the refund holds its locks that long."""
    real = gateway.create_refund

    def slow(**kwargs):
        time.sleep(seconds)
        return real(**kwargs)

    monkeypatch.setattr(gateway, "create_refund", slow)


def _later(seconds: float, fn):
    """`fn` once the refund (started at the same instant) is waiting for Stripe."""

    def call():
        time.sleep(seconds)
        return fn()

    return call


def _refund_all(staff, order):
    return lambda: order_refund(staff=staff, order_public_id=order.public_id, reason="cancelled trip")


def _recorded_as_refunded(gateway, order, ticket, refund_result):
    """What Stripe refunded is what we recorded: a won refund has its row and voided the ticket,
    a lost one refunded nothing."""
    ticket.refresh_from_db()
    order.refresh_from_db()
    assert Refund.objects.filter(order=order).count() == len(gateway.refunds)
    if refund_result[0] == "ok":
        assert len(gateway.refunds) == 1
        assert ticket.status == Ticket.Status.REFUNDED and order.status == Order.Status.REFUNDED
    else:
        assert gateway.refunds == {} and ticket.status == Ticket.Status.VALID and order.status == Order.Status.PAID


def _slow_after_ticket_lock(monkeypatch, module, name: str, seconds: float) -> None:
    """`module.name` (called with the ticket locked, before the audit row) pauses first: the
    transfer or upgrade holds the ticket while the refund takes the order."""
    real = getattr(module, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)


def _in_order(first: str, refund, other):
    """Both callables, the one named `first` ahead by 0.1 s (it holds its locks 0.3 s)."""
    if first == "refund":
        return [refund, _later(0.1, other)]
    return [_later(0.1, refund), other]


@pytest.mark.parametrize("first", ["refund", "accept"])
def test_refund_racing_a_transfer_accept_does_not_deadlock(first, make_user, make_type, paid_order, gateway, monkeypatch):
    """The refund locks the order FOR NO KEY UPDATE (the accept's audit row referring to the
    order gets through) and the ticket before Stripe (it never waits for the ticket after
    Stripe refunded): the accept finishes first, or waits for the refund and finds the ticket
    refunded. Both orders used to deadlock, the refund sometimes the victim after Stripe had
    refunded (no Refund row, order still paid, ticket valid)."""
    tt = make_type(capacity=100)
    staff = make_user("staff")
    if first == "refund":
        _slow_stripe(gateway, monkeypatch, 0.3)
    else:
        _slow_after_ticket_lock(monkeypatch, transfers, "_check_policy", 0.3)
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        sender, recipient = make_user(), make_user()
        order = paid_order(sender, tt, 1)
        ticket = Ticket.objects.get(order_line__order=order)
        offer = transfers.transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email)
        accept = lambda recipient=recipient, offer=offer: transfers.transfer_accept(recipient=recipient, token=offer.token)  # noqa: E731
        refunded, accepted = run_together(_in_order(first, _refund_all(staff, order), accept))
        assert "crash" not in (refunded[0], accepted[0]), (refunded, accepted)
        assert refunded[0] == "ok"  # a transfer does not stop a refund
        assert accepted[0] == "ok" or accepted == ("error", "TICKET_NOT_VALID"), accepted
        _recorded_as_refunded(gateway, order, ticket, refunded)


@pytest.mark.parametrize("first", ["refund", "upgrade"])
def test_refund_racing_an_upgrade_payment_does_not_deadlock(first, make_user, make_type, paid_order, gateway, monkeypatch):
    """As with a transfer: the upgrade's confirmation locks the ticket and audits with the
    order; it runs before the refund's ticket lock or after the refund committed, never
    crossed with it."""
    day = make_type(name="Day", tier_rank=10, price_amount=5000, capacity=100)
    weekend = make_type(name="Weekend", tier_rank=20, price_amount=8000, capacity=100)
    staff = make_user("staff")
    if first == "refund":
        _slow_stripe(gateway, monkeypatch, 0.3)
    else:
        _slow_after_ticket_lock(monkeypatch, upgrades, "ticket_bump_secret", 0.3)
    for _ in range(ROUNDS):
        gateway.refunds.clear()
        holder = make_user()
        order = paid_order(holder, day, 1)
        ticket = Ticket.objects.get(order_line__order=order)
        up = upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id).upgrade
        gateway.succeed(up.payment_intent_id)
        confirm = lambda holder=holder, up=up: upgrades.upgrade_confirm(user=holder, upgrade_public_id=up.public_id)  # noqa: E731
        refunded, confirmed = run_together(_in_order(first, _refund_all(staff, order), confirm))
        assert "crash" not in (refunded[0], confirmed[0]), (refunded, confirmed)
        assert refunded[0] == "ok"
        _recorded_as_refunded(gateway, order, ticket, refunded)


def test_refund_racing_a_scan_refunds_or_admits_never_both(make_user, make_type, paid_order, gate, gateway, monkeypatch):
    """Whether a ticket was scanned in is read with the ticket locked, and the lock is held
    through the Stripe call: a scan during that call waits and then refuses the refunded
    ticket. It used to be let in while the refund (without override) voided it anyway."""
    tt = make_type(capacity=100)
    staff = make_user("staff")
    _slow_stripe(gateway, monkeypatch, 0.5)
    for _ in range(ROUNDS):
        order = paid_order(make_user(), tt, 1)
        ticket = Ticket.objects.get(order_line__order=order)
        refunded, scanned = run_together([_refund_all(staff, order), _later(0.15, lambda ticket=ticket: admit(ticket, gate))])
        assert "crash" not in (refunded[0], scanned[0]), (refunded, scanned)
        ticket.refresh_from_db()
        admitted = TicketEntryState.objects.filter(ticket=ticket, admissions__gt=0).exists()
        was_refunded = ticket.status == Ticket.Status.REFUNDED
        assert admitted != was_refunded, (refunded, scanned, ticket.status)
        if refunded[0] == "error":
            assert refunded[1] == "REFUND_TICKET_SCANNED"


def test_goodwill_refund_retried_after_a_timeout_refunds_once(make_user, make_type, paid_order, gateway, monkeypatch, webhook_secret):
    """A retry reuses the attempt's idempotency key, numbered among the staff refunds only:
    the charge.refunded event that records the timed-out attempt's refund in between does
    not change it, so Stripe gives the first refund back and the retry confirms it. It used
    to be numbered among all the order's refunds: a new key, a second refund."""
    staff = make_user("staff")
    order = paid_order(make_user(), make_type(capacity=10, price_amount=5000), 1)
    real = gateway.create_refund
    made = []

    def times_out_once(**kwargs):
        info = real(**kwargs)
        if not made:
            made.append(info)  # Stripe refunded, but the answer never reached us
            raise PaymentGatewayUnavailable("timeout", "Stripe did not answer in time.")
        return info

    monkeypatch.setattr(gateway, "create_refund", times_out_once)

    def goodwill(amount):
        return order_refund(staff=staff, order_public_id=order.public_id, reason="stage delayed", amount=amount)

    with pytest.raises(DomainError) as exc:
        goodwill(1000)
    assert exc.value.code == OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE
    # The event for the refund Stripe made arrives before the retry.
    first = made[0]
    obj = {
        "id": "ch_fake", "object": "charge", "payment_intent": order.payment_intent_id, "amount_refunded": first.amount, "currency": "eur",
        "refunds": {"data": [{"id": first.id, "amount": first.amount, "currency": "eur", "metadata": first.metadata}]},
    }
    body = event_body("charge.refunded", obj)
    stripe_webhook_receive(payload=body, signature_header=sign_webhook_payload(body, webhook_secret, int(time.time())))
    assert Refund.objects.filter(order=order).count() == 1

    retried = goodwill(1000)
    assert len(gateway.refunds) == 1 and retried.refund.provider_refund_id == first.id
    order.refresh_from_db()
    assert order.refunded_amount == 1000 and Refund.objects.filter(order=order).count() == 1

    # The retry counted as this staff refund: the next goodwill refund is a new one.
    goodwill(500)
    order.refresh_from_db()
    assert len(gateway.refunds) == 2 and order.refunded_amount == 1500
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert Ticket.objects.get(order_line__order=order).status == Ticket.Status.VALID


def _timed_out_goodwill_refund(staff, order, gateway, monkeypatch, amount):
    """A goodwill refund whose Stripe call times out after Stripe refunded; returns Stripe's refund."""
    real = gateway.create_refund
    made = []

    def times_out(**kwargs):
        made.append(real(**kwargs))
        raise PaymentGatewayUnavailable("timeout", "Stripe did not answer in time.")

    monkeypatch.setattr(gateway, "create_refund", times_out)
    with pytest.raises(DomainError) as exc:
        order_refund(staff=staff, order_public_id=order.public_id, reason="stage delayed", amount=amount)
    assert exc.value.code == OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE
    monkeypatch.setattr(gateway, "create_refund", real)
    return made[0]


def _event_records(order, refund, webhook_secret):
    obj = {
        "id": "ch_fake", "object": "charge", "payment_intent": order.payment_intent_id, "amount_refunded": refund.amount,
        "currency": "eur",
        "refunds": {"data": [{"id": refund.id, "amount": refund.amount, "currency": "eur", "metadata": refund.metadata}]},
    }
    body = event_body("charge.refunded", obj)
    stripe_webhook_receive(payload=body, signature_header=sign_webhook_payload(body, webhook_secret, int(time.time())))


def test_after_a_timed_out_refund_the_event_recorded_another_refund_gets_a_key_of_its_own(
    make_user, make_type, paid_order, gateway, monkeypatch, webhook_secret
):
    """The timed-out attempt's number was kept for every later refund of the order: Stripe
    refused each (a key reused with other parameters) and the order could not be refunded
    again. A different refund now takes the next number, and the attempt is audited as done."""
    staff = make_user("staff")
    order = paid_order(make_user(), make_type(capacity=10, price_amount=5000), 1)
    first = _timed_out_goodwill_refund(staff, order, gateway, monkeypatch, 1000)
    _event_records(order, first, webhook_secret)
    assert Refund.objects.get(order=order).staff_sequence == 1

    second = order_refund(staff=staff, order_public_id=order.public_id, reason="parking chaos", amount=700)

    assert len(gateway.refunds) == 2 and second.refund.provider_refund_id != first.id
    order.refresh_from_db()
    assert order.refunded_amount == 1700
    assert sorted(Refund.objects.filter(order=order).values_list("amount", "staff_sequence")) == [(700, 2), (1000, 1)]
    from domains.audit.models import AuditEntry

    audited = [e.data["amount"] for e in AuditEntry.objects.filter(order=order, action="order.refunded").order_by("id")]
    assert audited == [1000, 700]
    # And the one after that is a third, not a replay of either.
    order_refund(staff=staff, order_public_id=order.public_id, reason="rain", amount=300)
    assert len(gateway.refunds) == 3


def test_another_refund_before_the_event_of_a_timed_out_one_is_refused_and_changes_nothing(
    make_user, make_type, paid_order, gateway, monkeypatch, webhook_secret
):
    """Until Stripe's event records the timed-out refund, its number is still the next one and
    Stripe refuses it with other parameters: a clear, retryable refusal, nothing refunded."""
    staff = make_user("staff")
    order = paid_order(make_user(), make_type(capacity=10, price_amount=5000), 1)
    first = _timed_out_goodwill_refund(staff, order, gateway, monkeypatch, 1000)

    with pytest.raises(DomainError) as exc:
        order_refund(staff=staff, order_public_id=order.public_id, reason="parking chaos", amount=700)
    assert exc.value.code == OrderErrorCode.PAYMENT_PROVIDER_UNAVAILABLE
    assert "timed out" in str(exc.value)
    order.refresh_from_db()
    assert order.refunded_amount == 0 and not Refund.objects.filter(order=order).exists()
    assert list(gateway.refunds.values()) == [first]

    _event_records(order, first, webhook_secret)
    order_refund(staff=staff, order_public_id=order.public_id, reason="parking chaos", amount=700)
    order.refresh_from_db()
    assert order.refunded_amount == 1700 and len(gateway.refunds) == 2
