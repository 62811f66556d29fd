"""The public catalogue cache (domains/common/readcache.py, schema/response_cache.py):
fewer queries, and every write is visible on the next read."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.tickets import inventory
from tests.perf.wsgi import call_wsgi
from tests.sales.helpers import checkout

CATALOGUE = "query Catalogue { festival { name } ticketTypes { name available soldOut } }"


def read(gql):
    result = gql.execute(CATALOGUE)
    assert not result.errors, result.errors
    return result.data


@pytest.mark.django_db(transaction=True)
def test_second_read_runs_no_sql_and_every_write_shows_at_once(gql, read_cache, make_type, make_user, fake_gateway, festival):
    tt = make_type(capacity=10, name="Weekend")
    assert read(gql)["ticketTypes"] == [{"name": "Weekend", "available": 10, "soldOut": False}]
    with CaptureQueriesContext(connection) as queries:
        read(gql)
    assert len(queries) == 0
    checkout(make_user(), tt, 3)  # inventory.reserve: availability changes
    assert read(gql)["ticketTypes"][0]["available"] == 7
    tt.refresh_from_db()
    tt.name = "Weekend Pass"
    tt.save()  # signal
    assert read(gql)["ticketTypes"][0]["name"] == "Weekend Pass"
    festival.name = "Renamed Fest"
    festival.save()
    assert read(gql)["festival"]["name"] == "Renamed Fest"
    inventory.take(tt.pk, 1)  # no signal: the inventory function says so itself
    assert read(gql)["ticketTypes"][0]["available"] == 6


@pytest.mark.django_db(transaction=True)
def test_a_hold_expiring_frees_its_tickets_without_any_write(gql, read_cache, make_type, make_user, fake_gateway, monkeypatch):
    import datetime as dt

    from domains.common import readcache

    tt = make_type(capacity=4)
    order = checkout(make_user(), tt, 4)
    assert read(gql)["ticketTypes"][0]["soldOut"]
    later = order.expires_at + dt.timedelta(seconds=1)
    monkeypatch.setattr(readcache, "clock_now", lambda: later)
    monkeypatch.setattr("domains.tickets.selectors.now", lambda: later)
    assert read(gql)["ticketTypes"][0]["available"] == 4


@pytest.mark.django_db
def test_uncommitted_writes_do_not_invalidate_until_commit(read_cache, make_type, festival):
    from django.db import transaction

    from domains.tickets.selectors import ticket_type_list_public

    tt = make_type(capacity=5)
    assert ticket_type_list_public(festival)[0].capacity == 5
    with transaction.atomic():
        type(tt).objects.filter(pk=tt.pk).update(capacity=6)
        inventory.release(tt.pk, 0)
    # TestCase transaction never commits: on_commit has not run, the old value stands.
    assert ticket_type_list_public(festival)[0].capacity == 5


@pytest.mark.django_db(transaction=True)
def test_wsgi_response_cache_serves_without_django_and_follows_writes(read_cache, make_type, monkeypatch):
    from django.core.handlers.wsgi import WSGIHandler

    tt = make_type(capacity=10, name="Day")
    body = json.dumps({"query": CATALOGUE}).encode()
    status, headers, first = call_wsgi(body)
    assert status.startswith("200") and "X-Public-Cache" not in headers and headers.get("X-Request-Id")
    calls = {"n": 0}
    original = WSGIHandler.__call__

    def counting(self, environ, start_response):
        calls["n"] += 1
        return original(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", counting)
    assert call_wsgi(body)[2] == first and calls["n"] == 0  # from memory
    tt.name = "Day Pass"
    tt.save()
    assert call_wsgi(body)[2]["data"]["ticketTypes"][0]["name"] == "Day Pass" and calls["n"] == 1
    # Signed-in requests and mutations always reach Django.
    call_wsgi(body, HTTP_AUTHORIZATION="Bearer nope")
    assert calls["n"] == 2
    me = json.dumps({"query": "{ festival { name } me { email } }"}).encode()
    call_wsgi(me)
    call_wsgi(me)
    assert calls["n"] == 4


@pytest.mark.django_db(transaction=True)
def test_entry_rule_cache_follows_rule_changes(read_cache, make_type, festival):
    from domains.scanning.services import gate_create
    from domains.scanning.services.commit import _rule_for
    from domains.scanning.services.rules_admin import entry_rule_set

    tt = make_type()
    gate = gate_create(festival=festival, name="North")
    assert _rule_for(tt.pk).mode == "single"
    entry_rule_set(ticket_type_id=tt.public_id, mode="daily", allow_exit=True, gate_ids=[gate.public_id])
    rule = _rule_for(tt.pk)
    assert rule.mode == "daily" and rule.allow_exit and rule.allowed_gate_ids == frozenset({gate.pk})
    with CaptureQueriesContext(connection) as queries:
        _rule_for(tt.pk)
    assert len(queries) == 0
    entry_rule_set(ticket_type_id=tt.public_id, mode="daily", allow_exit=True, gate_ids=[])
    assert _rule_for(tt.pk).allowed_gate_ids == frozenset()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_scan_on_postgresql_reads_the_entry_rule_with_the_ticket(read_cache, make_type, festival, make_user):
    """The rule comes in the ticket's own statement, so a scan needs no cache look-up for it and
    sees a rule that no write announced (rows written here without signals): the per-type
    cache, still holding the default rule, would have admitted at the wrong gate."""
    from domains.scanning.models import TicketTypeEntryRule
    from domains.scanning.services import gate_create, scan_commit
    from domains.scanning.services.commit import _rule_for
    from domains.tickets.models import Ticket
    from domains.tickets.qr import qr_encode

    tt = make_type()
    north, south = gate_create(festival=festival, name="North"), gate_create(festival=festival, name="South")
    staff, holder = make_user("staff"), make_user("attendee")
    assert _rule_for(tt.pk).allowed_gate_ids == frozenset()  # cached: the default rule
    rule = TicketTypeEntryRule.objects.bulk_create([TicketTypeEntryRule(ticket_type=tt, mode="single")])[0]
    TicketTypeEntryRule.allowed_gates.through.objects.bulk_create(
        [TicketTypeEntryRule.allowed_gates.through(tickettypeentryrule_id=rule.pk, gate_id=south.pk)]
    )
    assert _rule_for(tt.pk).allowed_gate_ids == frozenset()  # the cache did not hear of it
    code = qr_encode(Ticket.objects.create(ticket_type=tt, holder=holder))
    assert scan_commit(code=code, gate=north, device=None, staff_user=staff).verdict == "WRONG_GATE"
    assert scan_commit(code=code, gate=south, device=None, staff_user=staff).verdict == "ADMITTED"
