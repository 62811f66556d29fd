"""The checked write of a scan on PostgreSQL (domains/scanning/services/commit.py
`_ticket_scan_checked`, rows.py `record_if_unchanged`, migration scanning 0002): the ticket and
its entry state are read without a lock, the scan is decided in Python (domains/scanning/rules.py),
and one statement writes the state and the log row only if, with the ticket's row lock held, both
rows are still the versions read. Whatever changed them in between makes the scan decide again
on a new read; a scan that keeps meeting changes takes the locked path.

These tests run without a test transaction around them (the scan's statement is its own
transaction), except where they open one."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

import domains.scanning.services.commit as commit
from domains.scanning import services
from domains.scanning.models import ScanLog, TicketEntryState, TicketTypeEntryRule
from domains.scanning.services import rows
from domains.tickets.models import Ticket
from domains.tickets.qr import qr_encode
from tests.scanning.conftest import other_connection
from tests.support import pgtrace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _commit(env, ticket, nonce: str | None = None, *, gate=None, device=None, direction="ENTRY"):
    return services.scan_commit(
        code=qr_encode(ticket), gate=gate or env.gate, device=device or env.device, staff_user=env.staff,
        nonce=nonce, direction=direction,
    )


@pytest.fixture
def prompts(monkeypatch):
    seen = []
    monkeypatch.setattr(commit, "stats_changed", lambda festival_id: seen.append((festival_id, pgtrace.idle())))
    return seen


@pytest.fixture
def between_read_and_write(monkeypatch):
    """between_read_and_write(fn): fn() runs once, on another connection's behalf (committed at
    once), after the next scan has read its rows and before it writes."""
    real_read = rows.ticket_and_state_seen
    pending = []

    def read(public_id):
        found = real_read(public_id)
        while pending:
            pending.pop()()
        return found

    monkeypatch.setattr(rows, "ticket_and_state_seen", read)
    return pending.append


@pytest.fixture
def locked_scans(monkeypatch):
    """Counts the scans that fell back to the locked path."""
    calls = []
    real = commit._ticket_scan_locked

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(commit, "_ticket_scan_locked", counted)
    return calls


def test_the_function_takes_every_column_of_the_state_and_the_log_row():
    """A model that gains a column needs the function replaced (a new migration): this fails."""
    with connection.cursor() as cur:
        cur.execute("SELECT proargnames FROM pg_proc WHERE proname = 'scanning_record_scan'")
        (names,) = cur.fetchone()
    state = [f.attname for f in TicketEntryState._meta.concrete_fields if not f.primary_key]
    log = [f.attname for f in ScanLog._meta.concrete_fields if f.attname not in ("id", "ticket_id")]
    assert sorted(names) == sorted(
        ["p_ticket", "p_ticket_version", "p_state_version", "p_state_write"]
        + [f"s_{n}" for n in state]
        + [f"l_{n}" for n in log]
    )


def test_an_admission_is_a_read_and_one_write(env, prompts, locked_scans):
    ticket = env.ticket()
    connection.ensure_connection()
    results = []
    assert pgtrace.round_trips(pgtrace.messages(lambda: results.append(_commit(env, ticket, nonce="c-1")))) == 2
    assert results[0].verdict == "ADMITTED" and results[0].holder_name == env.holder.full_name
    assert pgtrace.idle() and locked_scans == []
    state = TicketEntryState.objects.get(ticket=ticket)
    assert (state.admissions, state.inside, state.first_gate_id) == (1, True, env.gate.pk)
    row = ScanLog.objects.get(ticket=ticket)
    assert (row.verdict, row.nonce, row.ticket_type_id, row.public_id) == ("ADMITTED", "c-1", ticket.ticket_type_id, results[0].scan_id)
    assert prompts == [(env.festival.public_id, True)]

    again = _commit(env, ticket, nonce="c-2", gate=env.gate_b, device=env.device_b)
    assert again.verdict == "ALREADY_USED" and again.first_used_gate == env.gate.name
    assert again.first_used_at == state.first_admitted_at
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1


def test_a_ticket_voided_after_the_read_is_answered_voided(env, between_read_and_write, locked_scans):
    ticket = env.ticket()
    between_read_and_write(lambda: Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUNDED))
    result = _commit(env, ticket, nonce="v-1")
    assert result.verdict == "VOIDED"
    assert not TicketEntryState.objects.filter(ticket=ticket).exists()
    assert list(ScanLog.objects.filter(ticket=ticket).values_list("verdict", flat=True)) == ["VOIDED"]
    assert locked_scans == []  # decided again on a new read, not by the lock


def test_a_code_superseded_after_the_read_is_answered_voided(env, between_read_and_write):
    ticket = env.ticket()
    code = qr_encode(ticket)
    between_read_and_write(lambda: Ticket.objects.filter(pk=ticket.pk).update(secret_version=ticket.secret_version + 1))
    result = services.scan_commit(code=code, gate=env.gate, device=env.device, staff_user=env.staff, nonce="v-2")
    assert (result.verdict, result.holder_name) == ("VOIDED", "")
    assert not TicketEntryState.objects.filter(ticket=ticket).exists()


def test_an_admission_elsewhere_after_the_read_is_answered_already_used(env, between_read_and_write):
    ticket = env.ticket()
    between_read_and_write(lambda: _commit(env, ticket, nonce="g-b", gate=env.gate_b, device=env.device_b))
    result = _commit(env, ticket, nonce="g-a")
    assert result.verdict == "ALREADY_USED" and result.first_used_gate == env.gate_b.name
    assert ScanLog.objects.filter(ticket=ticket, verdict="ADMITTED").count() == 1
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1


def test_an_exit_after_the_read_lets_the_reentry_through(env, between_read_and_write):
    """Exits allowed: a scan read while the holder was inside (ALREADY_USED) finds the state
    changed by an exit scan and is decided again: ADMITTED (re-entry)."""
    TicketTypeEntryRule.objects.create(ticket_type=env.ticket_type, allow_exit=True)
    ticket = env.ticket()
    assert _commit(env, ticket, nonce="e-1").verdict == "ADMITTED"
    between_read_and_write(lambda: _commit(env, ticket, nonce="e-2", direction="EXIT", gate=env.gate_b, device=env.device_b))
    result = _commit(env, ticket, nonce="e-3")
    assert result.verdict == "ADMITTED"
    state = TicketEntryState.objects.get(ticket=ticket)
    assert (state.admissions, state.inside) == (2, True)


def test_a_scan_that_keeps_meeting_changes_takes_the_lock(env, monkeypatch, locked_scans):
    ticket = env.ticket()
    tried = []

    def always_changed(seen, **kwargs):
        tried.append(seen)
        return False

    monkeypatch.setattr(rows, "record_if_unchanged", always_changed)
    result = _commit(env, ticket, nonce="l-1")
    assert result.verdict == "ADMITTED"
    assert len(tried) == commit.CHECKED_ATTEMPTS and len(locked_scans) == 1
    assert ScanLog.objects.filter(ticket=ticket).count() == 1
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1


def test_a_repeated_nonce_returns_the_first_answer_and_writes_nothing(env, prompts):
    first, second = env.ticket(), env.ticket()
    assert _commit(env, first, nonce="same").verdict == "ADMITTED"
    again = _commit(env, second, nonce="same")
    assert again.replayed and again.verdict == "ADMITTED" and again.ticket_id == first.public_id
    assert pgtrace.idle()
    assert not TicketEntryState.objects.filter(ticket=second).exists()
    assert not ScanLog.objects.filter(ticket=second).exists()
    assert len(prompts) == 1


def test_inside_an_outer_atomic_the_scan_joins_it(env, prompts):
    ticket = env.ticket()
    with transaction.atomic():
        assert _commit(env, ticket, nonce="o-1").verdict == "ADMITTED"
        assert prompts == []  # after the outer COMMIT
        # A repeated nonce inside the outer transaction: its savepoint rolls back, the outer
        # transaction goes on.
        again = _commit(env, env.ticket(), nonce="o-1")
        assert again.replayed and again.ticket_id == ticket.public_id
    assert prompts == [(env.festival.public_id, True)]
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1

    rolled_back = env.ticket()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _commit(env, rolled_back, nonce="o-2").verdict == "ADMITTED"
        raise RuntimeError("the outer work fails")
    assert not TicketEntryState.objects.filter(ticket=rolled_back).exists()
    assert not ScanLog.objects.filter(ticket=rolled_back).exists()
    assert len(prompts) == 1


def test_a_failed_write_leaves_nothing_and_the_connection_usable(env, prompts):
    ticket = env.ticket()

    def fail_the_record(execute, sql, params, many, context):
        if "scanning_record_scan" in sql:
            raise DatabaseError("injected: the connection dropped")
        return execute(sql, params, many, context)

    with pytest.raises(DatabaseError), connection.execute_wrapper(fail_the_record):
        _commit(env, ticket, nonce="f-1")
    assert pgtrace.idle()
    assert not TicketEntryState.objects.filter(ticket=ticket).exists()
    assert not ScanLog.objects.filter(ticket=ticket).exists()
    assert prompts == []
    assert _commit(env, ticket, nonce="f-2").verdict == "ADMITTED"


def test_the_function_refuses_an_unknown_state_write(env):
    ticket = env.ticket()
    _t, _s, seen = rows.ticket_and_state_seen(ticket.public_id)
    row = ScanLog(festival_id=env.festival.pk, gate=env.gate, verdict="ADMITTED", scanned_at=commit.now(), received_at=commit.now())
    with pytest.raises(DatabaseError, match="unknown state write"):
        rows.record_if_unchanged(seen, state=TicketEntryState(ticket=ticket, days_admitted=[]), write="upsert", log_row=row)
    assert pgtrace.idle() and not ScanLog.objects.filter(ticket=ticket).exists()


def test_an_integrity_error_that_is_not_a_repeated_nonce_propagates(env):
    ticket = env.ticket()
    _t, _s, seen = rows.ticket_and_state_seen(ticket.public_id)
    TicketEntryState.objects.create(ticket=ticket)  # behind the scan's back, without touching the ticket
    row = ScanLog(festival_id=env.festival.pk, gate=env.gate, verdict="ADMITTED", scanned_at=commit.now(), received_at=commit.now())
    # The state changed since the read: nothing written (not an insert over the new row).
    assert rows.record_if_unchanged(seen, state=TicketEntryState(ticket=ticket, days_admitted=[]), write="insert", log_row=row) is False
    # A state read as absent and inserted twice would break the primary key: PostgreSQL says so.
    with connection.cursor() as cur:
        cur.execute("SELECT xmin::text FROM scanning_ticketentrystate WHERE ticket_id = %s", [ticket.pk])
        stale = rows.Seen(ticket.pk, seen.ticket_version, cur.fetchone()[0])
    with pytest.raises(IntegrityError):
        rows.record_if_unchanged(stale, state=TicketEntryState(ticket=ticket, days_admitted=[]), write="insert", log_row=row)
    assert pgtrace.idle()


# --- writers on another connection ---


@pytest.fixture
def outcomes(monkeypatch):
    """What each call of the checked write answered (False: changed, nothing written)."""
    seen = []
    real = rows.record_if_unchanged

    def counted(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(rows, "record_if_unchanged", counted)
    return seen


def _scan(env, ticket, nonce):
    return services.scan_commit(code=qr_encode(ticket), gate=env.gate, device=env.device, staff_user=env.staff, nonce=nonce)


def test_a_state_committed_while_the_write_waits_for_the_lock_is_seen(env, between_read_and_write, held_open, outcomes):
    ticket = env.ticket()
    between_read_and_write(lambda: held_open(
        ("SELECT id FROM tickets_ticket WHERE id = %s FOR UPDATE", [ticket.pk]),
        ("INSERT INTO scanning_ticketentrystate (ticket_id, first_admitted_at, first_gate_id, day, day_first_admitted_at,"
         " day_first_gate_id, inside, admissions, days_admitted, last_scan_at, updated_at)"
         " VALUES (%s, now(), %s, '2026-07-03', now(), %s, true, 1, '[\"2026-07-03\"]', now(), now())",
         [ticket.pk, env.gate_b.pk, env.gate_b.pk]),
    ))
    result = _scan(env, ticket, "w-1")
    assert result.verdict == "ALREADY_USED" and result.first_used_gate == env.gate_b.name
    assert outcomes == [False, True]
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1
    assert list(ScanLog.objects.filter(ticket=ticket).values_list("verdict", flat=True)) == ["ALREADY_USED"]


def test_a_refund_committed_while_the_write_waits_for_the_lock_is_seen(env, between_read_and_write, held_open, outcomes):
    ticket = env.ticket()
    between_read_and_write(lambda: held_open(("UPDATE tickets_ticket SET status = 'refunded' WHERE id = %s", [ticket.pk])))
    assert _scan(env, ticket, "w-2").verdict == "VOIDED"
    assert outcomes == [False, True]
    assert not TicketEntryState.objects.filter(ticket=ticket).exists()


def test_a_ticket_deleted_after_the_read_is_answered_unknown(env, between_read_and_write, outcomes):
    ticket = env.ticket()

    def delete():
        with other_connection() as other:
            other.execute("DELETE FROM tickets_ticket WHERE id = %s", [ticket.pk])

    between_read_and_write(delete)
    result = _scan(env, ticket, "w-3")
    assert (result.verdict, result.ticket_id) == ("INVALID", None)
    assert outcomes == [False]
    assert ScanLog.objects.filter(device=env.device, nonce="w-3", reason="unknown ticket").count() == 1


def test_a_manual_admission_after_the_read_is_answered_already_used(env, between_read_and_write, make_user, outcomes):
    admin = make_user("admin")
    ticket = env.ticket()
    between_read_and_write(lambda: services.scan_manual_admit(ticket_id=ticket.public_id, gate=env.gate_b, supervisor=admin))
    assert _scan(env, ticket, "w-4").verdict == "ALREADY_USED"
    assert outcomes == [False, True]
    assert TicketEntryState.objects.get(ticket=ticket).admissions == 1


def test_a_restore_after_the_read_lets_the_scan_in(env, between_read_and_write, make_user, outcomes):
    admin = make_user("admin")
    ticket = env.ticket()
    assert _scan(env, ticket, "w-5").verdict == "ADMITTED"
    between_read_and_write(lambda: services.scan_restore(ticket_id=ticket.public_id, gate=env.gate, supervisor=admin))
    assert _scan(env, ticket, "w-6").verdict == "ADMITTED"
    assert outcomes == [True, False, True]
    state = TicketEntryState.objects.get(ticket=ticket)
    assert (state.admissions, state.inside) == (1, True)
