"""Concurrency on PostgreSQL: staff issuing comps at once never exceed a type's comp
allowance, and never touch its sellable capacity. The control replaces the conditional UPDATE
(inventory.comp_take) with read-check-write and shows more comps issued than allowed."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from domains.common.errors import DomainError
from domains.orders import comps
from domains.orders.models import Order
from domains.tickets import inventory
from domains.tickets.models import Ticket, TicketType

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
STAFF = 20
ALLOWANCE = 5


def _issue_at_once(staff_members, tt, same_email: str | None = None) -> Counter:
    barrier = threading.Barrier(len(staff_members))
    results: list = [None] * len(staff_members)

    def worker(i):
        try:
            barrier.wait()
            comps.comp_issue(
                staff=staff_members[i],
                email=same_email or f"guest{i}@example.test",
                ticket_type_public_id=tt.public_id,
                quantity=1,
                note="guest list",
            )
            results[i] = "ok"
        except DomainError as exc:
            results[i] = str(exc.code)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(staff_members))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return Counter(results)


def test_twenty_staff_at_once_never_exceed_the_allowance(make_user, make_type):
    staff = [make_user("staff") for _ in range(STAFF)]
    for _ in range(3):
        tt = make_type(capacity=3, comp_allowance=ALLOWANCE)
        counts = _issue_at_once(staff, tt)
        assert counts == {"ok": ALLOWANCE, "COMP_ALLOWANCE_EXHAUSTED": STAFF - ALLOWANCE}, counts
        tt.refresh_from_db()
        assert (tt.comp_issued_count, tt.sold_count, tt.held_count) == (ALLOWANCE, 0, 0)
        assert Ticket.objects.filter(ticket_type=tt, status="valid", from_comp_allowance=True).count() == ALLOWANCE
        assert Order.objects.filter(lines__ticket_type=tt, status="paid").count() == ALLOWANCE


def test_staff_comping_the_same_new_guest_at_once_share_one_account(make_user, make_type):
    from domains.accounts.models import User

    for n in range(3):
        tt = make_type(capacity=3, comp_allowance=ALLOWANCE)
        email = f"New.Guest{n}@Example.test"
        counts = _issue_at_once([make_user("staff") for _ in range(4)], tt, same_email=email)
        assert counts == {"ok": 4}, counts
        guest = User.objects.get(email__iexact=email)
        assert Ticket.objects.filter(ticket_type=tt, holder=guest).count() == 4


def test_control_read_then_write_issues_more_comps_than_the_allowance(make_user, make_type, monkeypatch):
    def unsafe_comp_take(ticket_type_id, quantity):
        row = TicketType.objects.get(pk=ticket_type_id)
        if row.comp_allowance is None or row.comp_allowance - row.comp_issued_count < quantity:
            return False
        time.sleep(0.05)  # any work between the read and the write
        TicketType.objects.filter(pk=ticket_type_id).update(comp_issued_count=row.comp_issued_count + quantity)
        return True

    monkeypatch.setattr(inventory, "comp_take", unsafe_comp_take)
    tt = make_type(capacity=3, comp_allowance=ALLOWANCE)
    counts = _issue_at_once([make_user("staff") for _ in range(STAFF)], tt)
    issued = Ticket.objects.filter(ticket_type=tt).count()
    assert counts["ok"] == issued > ALLOWANCE, counts  # the race is real: more comps than allowed
