"""domains/common/fixed_sql.py: the hot look-ups' fixed SQL gives the instances the ORM gives."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from domains.accounts.models import AuthSession
from domains.common import fixed_sql
from domains.common.clock import now
from domains.orders.models import Order
from domains.orders.services import _lock_order
from domains.tickets.models import Ticket, TicketType

from .helpers import checkout

pytestmark = pytest.mark.django_db


def values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_ticket_types_with_their_festival_are_those_the_orm_loads(make_type, django_assert_num_queries):
    first = make_type(name="Früh", sale_starts_at=now() - dt.timedelta(days=1), valid_on=dt.date(2027, 7, 3), comp_allowance=5)
    second = make_type(name="Weekend")
    make_type(name="Not asked for")
    with django_assert_num_queries(1):
        loaded = {t.public_id: t for t in fixed_sql.fetch(TicketType, by="public_id", values=[first.public_id, second.public_id], related=("festival",))}
    expected = {t.public_id: t for t in TicketType.objects.select_related("festival").filter(public_id__in=[first.public_id, second.public_id])}
    assert loaded.keys() == expected.keys() == {first.public_id, second.public_id}
    with django_assert_num_queries(0):
        for key, tt in loaded.items():
            assert values(tt) == values(expected[key])
            assert values(tt.festival) == values(expected[key].festival)
            assert not tt._state.adding and not tt.festival._state.adding
    assert isinstance(loaded[first.public_id].sale_starts_at, dt.datetime) and loaded[first.public_id].sale_starts_at.tzinfo is not None
    assert fixed_sql.fetch(TicketType, by="public_id", values=[uuid.uuid4()], related=("festival",)) == []
    assert fixed_sql.fetch(TicketType, by="public_id", values=[]) == []


def test_two_levels_of_foreign_keys(make_type, make_user, fake_gateway):
    order = checkout(make_user(), make_type(), 1)
    Ticket.objects.create(ticket_type=order.festival.ticket_types.get(), holder=order.buyer)
    (ticket,) = Ticket.objects.all()
    (loaded,) = fixed_sql.fetch(Ticket, by="id", values=[ticket.pk], related=("ticket_type", "ticket_type__festival", "holder"))
    assert values(loaded) == values(ticket)
    assert values(loaded.ticket_type.festival) == values(ticket.ticket_type.festival)
    assert values(loaded.holder) == values(ticket.holder)


def test_a_nullable_foreign_key_is_refused():
    with pytest.raises(ValueError, match="non-null"):
        fixed_sql.fetch(Ticket, by="id", values=[1], related=("order_line",))


def test_the_locked_order_is_the_one_the_orm_loads(make_type, make_user, fake_gateway):
    order = checkout(make_user(), make_type(), 1)
    with transaction.atomic():
        locked = _lock_order(order.pk)
        plain = _lock_order(order.pk, related=False)
    expected = Order.objects.select_related("festival", "buyer").get(pk=order.pk)
    assert values(locked) == values(plain) == values(expected)
    assert values(locked.festival) == values(expected.festival) and values(locked.buyer) == values(expected.buyer)
    with pytest.raises(Order.DoesNotExist), transaction.atomic():
        _lock_order(order.pk + 1000)


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused_as_select_for_update_refuses_it(make_type, make_user, fake_gateway):
    from django.db import connection

    if not connection.features.has_select_for_update:
        pytest.skip("no row locks on this database (SQLite): neither refuses")
    order = checkout(make_user(), make_type(), 1)
    with pytest.raises(TransactionManagementError):
        Order.objects.select_for_update().filter(pk=order.pk).first()
    with pytest.raises(TransactionManagementError):
        fixed_sql.fetch(Order, by="id", values=[order.pk], lock=True)


def test_sessions_load_by_uuid_primary_key(make_user):
    from domains.accounts.services.authentication import session_start

    session_id = session_start(user=make_user("staff"), user_agent="scanner/1.0").session.id
    (loaded,) = fixed_sql.fetch(AuthSession, by="id", values=[str(session_id)], related=("user",))
    assert loaded.id == session_id and values(loaded.user) == values(AuthSession.objects.get(id=session_id).user)


def test_update_of_named_fields_is_save_with_update_fields(make_type, make_user, fake_gateway):
    order = checkout(make_user(), make_type(), 1)
    before = Order.objects.get(pk=order.pk)
    order.payment_intent_id = "pi_fixed"
    order.status = "cancelled-in-memory-only"  # not named: must not be written
    fixed_sql.update(order, ("payment_intent_id", "updated_at"))
    after = Order.objects.get(pk=order.pk)
    assert after.payment_intent_id == "pi_fixed" and after.status == before.status
    assert after.updated_at > before.updated_at  # auto_now, as save() sets it
    assert {k: v for k, v in values(after).items() if k not in ("payment_intent_id", "updated_at")} == {
        k: v for k, v in values(before).items() if k not in ("payment_intent_id", "updated_at")
    }


def test_insert_writes_what_save_writes_and_can_ignore_a_conflict(make_type, make_user, fake_gateway):
    from domains.orders.models import Payment

    order = checkout(make_user(), make_type(), 1)
    Payment.objects.filter(order=order).delete()
    ours = Payment(order=order, provider_payment_id="pi_one", amount=5000, currency="EUR")
    fixed_sql.insert(ours)
    saved = Payment(order=order, provider_payment_id="pi_two", amount=5000, currency="EUR")
    saved.save()
    loaded = Payment.objects.get(pk=ours.pk)
    assert loaded.created_at is not None and loaded.updated_at is not None and not ours._state.adding
    differ = {"id", "public_id", "provider_payment_id", "created_at", "updated_at"}
    assert {k: v for k, v in values(loaded).items() if k not in differ} == {k: v for k, v in values(saved).items() if k not in differ}

    again = Payment(order=order, provider_payment_id="pi_one", amount=1, currency="USD")
    fixed_sql.insert(again, ignore_conflicts=True)  # the unique provider id is taken: nothing written
    assert again.pk is None
    assert Payment.objects.get(provider_payment_id="pi_one").amount == 5000
