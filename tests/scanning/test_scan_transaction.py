"""A scan's own transaction on PostgreSQL (domains/scanning/services/rows.py
`scan_transaction`), as the locked scan uses it (the checked write's fallback, forced here for
every test; tests/scanning/test_checked_scan.py has the checked write): BEGIN and COMMIT travel
in the psycopg pipeline with the scan's statements (2 round trips), outside Django's atomic(). These tests run without a test
transaction around them, so the scan really owns its transaction: what it writes commits as
one, any error leaves nothing behind and the connection idle and usable, the dashboards are
prompted only after the COMMIT, and inside an outer atomic() the scan joins it instead."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction

import domains.scanning.services.commit as commit
from domains.scanning import services
from domains.scanning.models import ScanLog, TicketEntryState
from domains.scanning.services import rows
from domains.tickets.qr import qr_encode
from tests.support import pgtrace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


pytestmark.append(pytest.mark.usefixtures("locked_scan_path"))  # these trace the locked path


def _commit(env, ticket, nonce: str | None = None):
    return services.scan_commit(code=qr_encode(ticket), gate=env.gate, device=env.device, staff_user=env.staff, nonce=nonce)


@pytest.fixture
def prompts(monkeypatch):
    """The festivals the dashboards were prompted for, with whether the connection was idle
    (the scan's COMMIT done) at that moment."""
    seen = []
    monkeypatch.setattr(commit, "stats_changed", lambda festival_id: seen.append((festival_id, pgtrace.idle())))
    return seen


def test_an_admission_is_two_round_trips_and_commits(env, prompts):
    ticket = env.ticket()
    connection.ensure_connection()
    assert connection.connection.autocommit and not connection.in_atomic_block
    results = []
    messages = pgtrace.messages(lambda: results.append(_commit(env, ticket, nonce="n-1")))
    assert results[0].verdict == "ADMITTED"
    # BEGIN + lock + state read, then the writes + COMMIT.
    assert pgtrace.round_trips(messages) == 2, pgtrace.sent(messages)
    assert pgtrace.idle()
    state = TicketEntryState.objects.get(ticket=ticket)
    assert state.admissions == 1 and state.first_gate_id == env.gate.pk
    assert ScanLog.objects.filter(ticket=ticket, verdict="ADMITTED", nonce="n-1").count() == 1
    assert prompts == [(env.festival.public_id, True)]


def test_control_the_same_scan_in_djangos_atomic_waits_four_times(env, monkeypatch):
    """The same statements in Django's atomic(): psycopg waits for the BEGIN it sends itself,
    and the COMMIT follows the pipeline's end (what scan_transaction did before)."""

    @contextmanager
    def djangos():
        with transaction.atomic(), rows._pipeline():
            yield rows.ScanTransaction(own=False)

    monkeypatch.setattr(rows, "scan_transaction", djangos)
    ticket = env.ticket()
    results = []
    messages = pgtrace.messages(lambda: results.append(_commit(env, ticket)))
    assert results[0].verdict == "ADMITTED"
    assert pgtrace.round_trips(messages) == 4, pgtrace.sent(messages)


def test_a_python_error_after_the_writes_leaves_nothing(env, prompts, monkeypatch):
    ticket = env.ticket()
    real_log = commit._log

    def log_then_fail(*args, **kwargs):
        real_log(*args, **kwargs)  # the state row and the log row are written...
        raise RuntimeError("worker died")  # ...and the scan fails before its COMMIT

    monkeypatch.setattr(commit, "_log", log_then_fail)
    with pytest.raises(RuntimeError):
        _commit(env, ticket, nonce="n-2")
    monkeypatch.undo()
    assert pgtrace.idle()
    assert not TicketEntryState.objects.filter(ticket=ticket).exists()
    assert not ScanLog.objects.filter(ticket=ticket).exists()
    assert prompts == []
    # The connection is usable and the ticket still gets in once.
    assert _commit(env, ticket, nonce="n-3").verdict == "ADMITTED"


def test_a_repeated_nonce_fails_at_the_commit_and_returns_the_first_answer(env, prompts):
    first, second = env.ticket(), env.ticket()
    assert _commit(env, first, nonce="same").verdict == "ADMITTED"
    # The same device and nonce for another ticket: its log row breaks the unique constraint,
    # which PostgreSQL reports in the round trip that carries the COMMIT.
    again = _commit(env, second, nonce="same")
    assert again.replayed and again.verdict == "ADMITTED" and again.ticket_id == first.public_id
    assert pgtrace.idle()
    assert not TicketEntryState.objects.filter(ticket=second).exists()  # its admission rolled back
    assert not ScanLog.objects.filter(ticket=second).exists()
    assert ScanLog.objects.filter(device=env.device, nonce="same").count() == 1
    assert len(prompts) == 1  # only the scan that committed


def test_the_unique_violation_itself_propagates_as_djangos(env):
    ticket = env.ticket()
    _commit(env, ticket, nonce="dup")
    with pytest.raises(IntegrityError), rows.scan_transaction() as tx:
        commit._log(tx, verdict="INVALID", reason="test", festival_id=env.festival.pk, gate=env.gate, device=env.device,
                    staff_user=env.staff, direction="ENTRY", nonce="dup", scanned_at=commit.now(), received_at=commit.now())
    assert pgtrace.idle()
    assert ScanLog.objects.filter(nonce="dup").count() == 1


def test_inside_an_outer_atomic_the_scan_joins_it(env, prompts):
    ticket = env.ticket()
    with transaction.atomic():
        assert _commit(env, ticket, nonce="n-4").verdict == "ADMITTED"
        assert prompts == []  # deferred to the outer COMMIT
    assert prompts == [(env.festival.public_id, True)]
    assert TicketEntryState.objects.filter(ticket=ticket).exists()

    rolled_back = env.ticket()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _commit(env, rolled_back, nonce="n-5").verdict == "ADMITTED"
        raise RuntimeError("the outer work fails")
    assert not TicketEntryState.objects.filter(ticket=rolled_back).exists()
    assert not ScanLog.objects.filter(ticket=rolled_back).exists()
    assert len(prompts) == 1


def test_a_refused_code_is_logged_in_its_own_transaction(env, prompts):
    messages = pgtrace.messages(
        lambda: services.scan_commit(code="not-a-code", gate=env.gate, device=env.device, staff_user=env.staff, nonce="bad-1")
    )
    assert pgtrace.round_trips(messages) == 1, pgtrace.sent(messages)  # BEGIN, the log row and COMMIT together
    assert pgtrace.idle()
    assert ScanLog.objects.get(device=env.device, nonce="bad-1").verdict == "INVALID"
    assert prompts == [(env.festival.public_id, True)]
