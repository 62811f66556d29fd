"""Property-based tests of the gate-scanning invariants (hypothesis).

Random histories per ticket - online scans (entry and exit), offline batches from several
devices (device clocks behind, ahead, beyond OFFLINE_CLOCK_TRUST; nonces repeated within and
across uploads), re-uploads (whole or part, in any order), refused uploads, supervisor manual
admits and restores - are applied through the services, and every answer, the scan log and the
entry state are checked against `Oracle`, a model written from the docstrings:

- entry (rules.decide): a single-entry ticket gets in once, a daily pass once per festival-local
  day; with exits allowed, a holder scanned out may come back in. Exits answer EXITED,
  EXIT_NOT_ALLOWED or NOT_INSIDE.
- offline scans (batch.py) are applied at their believed time (believed_scan_time), in that order
  within an upload (ties keep upload order); an entry the device admitted and the server does
  not is conflict=True. An exit scan is no admission: it is never a conflict.
- a repeated (device, nonce) answers with the stored first answer and is not logged again.
- a restore (supervisor.py) undoes the latest standing admission; the ticket may enter again
  (that day, for daily passes).

The festival runs 24-26 October 2026 in Europe/Berlin: scans fall near local midnights and on
the night summer time ends (25 October, 03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domains.common.errors import DomainError
from domains.scanning.models import Direction, ScanLog, TicketEntryState, TicketTypeEntryRule, Verdict
from domains.scanning.services import OfflineScan, scan_commit, scan_commit_batch, scan_manual_admit, scan_restore
from domains.scanning.services.commit import OFFLINE_CLOCK_TRUST, believed_scan_time
from domains.tickets.qr import qr_encode
from tests.scanning import factories

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Europe/Berlin")
# 23:30 local on the 24th; local midnights are 22:00 UTC (24th, CEST), 23:00 UTC (25th, CET).
START = dt.datetime(2026, 10, 24, 21, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
# The same examples on every run (CI stays reproducible); SCAN_PROPERTY_EXPLORE=1 draws new ones
# each run, with SCAN_PROPERTY_EXAMPLES as many as wanted, to look for more.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("SCAN_PROPERTY_EXAMPLES", "60")), deadline=None, database=None,
    derandomize=os.environ.get("SCAN_PROPERTY_EXPLORE") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAILY, SINGLE = TicketTypeEntryRule.Mode.DAILY, TicketTypeEntryRule.Mode.SINGLE


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(ZONE).date()


# --- the oracle -----------------------------------------------------------------------------


@dataclass
class Row:
    """A scan-log row the oracle expects."""

    ticket: int
    verdict: str
    direction: str
    scanned_at: dt.datetime
    gate: int
    offline: bool = False
    conflict: bool = False
    method: str = ScanLog.Method.CAMERA
    undone: bool = False
    scan_id: object = None


@dataclass
class TicketModel:
    mode: str
    allow_exit: bool
    standing: list[Row] = field(default_factory=list)  # admissions not undone, in the order applied
    inside: bool = False

    def days(self) -> set[dt.date]:
        return {local_day(r.scanned_at) for r in self.standing}

    def verdict(self, direction: str, at: dt.datetime) -> str:
        if direction == Direction.EXIT:
            if not self.allow_exit:
                return Verdict.EXIT_NOT_ALLOWED
            return Verdict.EXITED if self.inside else Verdict.NOT_INSIDE
        if not self.standing:
            return Verdict.ADMITTED
        if self.mode == DAILY and local_day(at) not in self.days():
            return Verdict.ADMITTED
        if self.allow_exit and not self.inside:
            return Verdict.ADMITTED  # re-entry
        return Verdict.ALREADY_USED

    def apply(self, row: Row) -> None:
        if row.verdict == Verdict.ADMITTED:
            self.standing.append(row)
            self.inside = True
        elif row.verdict == Verdict.EXITED:
            self.inside = False


class Oracle:
    def __init__(self, mode: str, allow_exit: bool, tickets: int):
        self.tickets = [TicketModel(mode, allow_exit) for _ in range(tickets)]
        self.rows: list[Row] = []
        self.stored: dict[tuple[int, str], tuple[Row, str]] = {}  # (device, nonce) -> (row, verdict)

    def scan(self, *, ticket, device, gate, direction, at, nonce=None, offline=False, claimed=False):
        """The expected (verdict, conflict, replayed, row) of one scan."""
        if nonce is not None and (device, nonce) in self.stored:
            row = self.stored[(device, nonce)][0]
            return row.verdict, row.conflict, True, row
        model = self.tickets[ticket]
        verdict = model.verdict(direction, at)
        conflict = offline and claimed and direction == Direction.ENTRY and verdict != Verdict.ADMITTED
        row = Row(ticket, verdict, direction, at, gate, offline=offline, conflict=conflict)
        model.apply(row)
        self.rows.append(row)
        if nonce is not None:
            self.stored[(device, nonce)] = (row, verdict)
        return verdict, conflict, False, row

    def manual_admit(self, *, ticket, gate, at):
        model = self.tickets[ticket]
        verdict = model.verdict(Direction.ENTRY, at)
        row = Row(ticket, verdict, Direction.ENTRY, at, gate, method=ScanLog.Method.MANUAL)
        model.apply(row)
        self.rows.append(row)
        return row

    def restore(self, *, ticket, gate, at):
        """None when there is nothing to undo (NOT_ADMITTED)."""
        model = self.tickets[ticket]
        if not model.standing:
            return None
        model.standing.pop().undone = True
        model.inside = False
        row = Row(ticket, Verdict.RESTORED, Direction.ENTRY, at, gate, method=ScanLog.Method.MANUAL)
        self.rows.append(row)
        return row


# --- histories ------------------------------------------------------------------------------

GATES = 3  # gate i has device i
NONCES = [f"n{i}" for i in range(5)]  # a small pool: nonces repeat
ADVANCE = st.sampled_from([0, 1, 5, 20, 45, 90, 180, 420, 900]).map(lambda m: m * MINUTE)
# Device time relative to the upload: far behind (not believed), exactly the trust (believed),
# behind across a local midnight, a little behind, now, ahead (not believed).
DEVICE_OFFSET = st.sampled_from([
    -OFFLINE_CLOCK_TRUST - dt.timedelta(seconds=1), -OFFLINE_CLOCK_TRUST, -600 * MINUTE, -90 * MINUTE,
    -31 * MINUTE, -5 * MINUTE, -MINUTE, dt.timedelta(0), 15 * MINUTE,
])
TICKET = st.integers(0, 1)
DIRECTION = st.sampled_from([Direction.ENTRY, Direction.ENTRY, Direction.EXIT])

offline_scan = st.tuples(
    TICKET, DIRECTION, DEVICE_OFFSET, st.sampled_from(NONCES),
    st.sampled_from([Verdict.ADMITTED, Verdict.ADMITTED, Verdict.ALREADY_USED, Verdict.EXITED]),
)
step = st.one_of(
    st.tuples(st.just("online"), ADVANCE, TICKET, st.integers(0, GATES - 1), DIRECTION, st.none() | st.sampled_from(NONCES)),
    st.tuples(st.just("batch"), ADVANCE, st.integers(0, GATES - 1), st.lists(offline_scan, min_size=1, max_size=4)),
    st.tuples(st.just("reupload"), ADVANCE, st.integers(0, 10), st.lists(st.booleans(), min_size=4, max_size=4), st.booleans()),
    st.tuples(st.just("refused"), ADVANCE, st.integers(0, GATES - 1), st.lists(offline_scan, min_size=2, max_size=4), st.integers(0, 3)),
    st.tuples(st.just("admit"), ADVANCE, TICKET, st.integers(0, GATES - 1)),
    st.tuples(st.just("restore"), ADVANCE, TICKET),
)


@dataclass
class World:
    festival: object
    gates: list
    devices: list
    tickets: list
    codes: list
    staff: object
    supervisor: object


def make_world(make_user, mode, allow_exit, staff, supervisor) -> World:
    fest = factories.festival(starts_on=dt.date(2026, 10, 24), ends_on=dt.date(2026, 10, 26), timezone="Europe/Berlin")
    gates = [factories.gate(fest, f"G{i}") for i in range(GATES)]
    devices = [factories.device(g, staff)[0] for g in gates]
    tt = factories.ticket_type(fest, mode=mode, allow_exit=allow_exit)
    holder = make_user("attendee")
    tickets = [factories.ticket(tt, holder) for _ in range(2)]
    return World(fest, gates, devices, tickets, [qr_encode(t) for t in tickets], staff, supervisor)


@pytest.fixture
def actors(make_user, monkeypatch):
    import domains.scanning.services.commit as commit

    # Histories scan far faster than a gate; the per-device and per-staff limits are not tested here.
    monkeypatch.setattr(commit, "DEVICE_LIMIT", 10**9)
    monkeypatch.setattr(commit, "STAFF_LIMIT", 10**9)
    return make_user("staff"), make_user("admin")


def run_history(world: World, oracle: Oracle, steps, set_now) -> None:
    clock = START
    uploads: list[tuple[int, list[OfflineScan], list]] = []  # (device, scans, first answers)
    for s in steps:
        kind, advance = s[0], s[1]
        event(kind)
        clock += advance
        set_now(clock)
        if kind == "online":
            _, _, t, g, direction, nonce = s
            got = scan_commit(code=world.codes[t], gate=world.gates[g], device=world.devices[g], staff_user=world.staff,
                              nonce=nonce, direction=direction)
            want = oracle.scan(ticket=t, device=g, gate=g, direction=direction, at=clock, nonce=nonce)
            check_answer(got, want, s)
        elif kind in ("batch", "refused"):
            g, raw = s[2], s[3]
            scans = [
                OfflineScan(code=world.codes[t], scanned_at=clock + off, nonce=nonce, direction=direction, local_verdict=local)
                for t, direction, off, nonce, local in raw
            ]
            if kind == "refused":
                # One scan in the middle names another gate: the whole upload is refused first.
                bad = s[4] % len(scans)
                other = world.gates[(g + 1) % GATES]
                scans[bad] = dataclasses.replace(scans[bad], gate_id=str(other.public_id))
                before = snapshot(world)
                with pytest.raises(DomainError) as refused:
                    scan_commit_batch(device=world.devices[g], staff_user=world.staff, scans=scans)
                assert refused.value.details[0].field == f"scans.{bad}.gateId"
                assert snapshot(world) == before, "a refused upload wrote something"
                continue
            got = scan_commit_batch(device=world.devices[g], staff_user=world.staff, scans=scans)
            order = sorted(range(len(scans)), key=lambda i: (believed_scan_time(scans[i].scanned_at, clock), i))
            wants = [None] * len(scans)
            for i in order:
                t, direction, _off, nonce, local = raw[i]
                wants[i] = oracle.scan(
                    ticket=t, device=g, gate=g, direction=direction, at=believed_scan_time(scans[i].scanned_at, clock),
                    nonce=nonce, offline=True, claimed=local == Verdict.ADMITTED,
                )
            for i in order:  # in the order applied: a repeated nonce's first answer comes first
                check_answer(got[i], wants[i], s)
            uploads.append((g, scans, got))
        elif kind == "reupload":
            if not uploads:
                continue
            _, _, which, keep, reverse = s
            g, scans, first = uploads[which % len(uploads)]
            part = [i for i in range(len(scans)) if keep[i % len(keep)]] or [0]
            if reverse:
                part.reverse()
            before = snapshot(world)
            again = scan_commit_batch(device=world.devices[g], staff_user=world.staff, scans=[scans[i] for i in part])
            for i, r in zip(part, again, strict=True):
                assert r.replayed, s
                assert (r.verdict, r.conflict, r.scan_id) == (first[i].verdict, first[i].conflict, first[i].scan_id), s
            assert snapshot(world) == before, "a re-upload changed something"
        elif kind == "admit":
            _, _, t, g = s
            got = scan_manual_admit(ticket_id=world.tickets[t].public_id, gate=world.gates[g], supervisor=world.supervisor)
            row = oracle.manual_admit(ticket=t, gate=g, at=clock)
            check_answer(got, (row.verdict, False, False, row), s)
        elif kind == "restore":
            _, _, t = s
            row = oracle.restore(ticket=t, gate=0, at=clock)
            if row is None:
                with pytest.raises(DomainError) as refused:
                    scan_restore(ticket_id=world.tickets[t].public_id, gate=world.gates[0], supervisor=world.supervisor)
                assert str(refused.value.details[0].code) == "NOT_ADMITTED"
            else:
                got = scan_restore(ticket_id=world.tickets[t].public_id, gate=world.gates[0], supervisor=world.supervisor)
                check_answer(got, (row.verdict, False, False, row), s)


def check_answer(got, want, step) -> None:
    verdict, conflict, replayed, row = want
    event(f"answer {verdict}{' conflict' if conflict else ''}{' replayed' if replayed else ''}")
    assert (got.verdict, got.conflict, got.replayed) == (verdict, conflict, replayed), step
    if replayed:
        assert got.scan_id == row.scan_id, step
    else:
        assert got.scan_id is not None and row.scan_id is None, step
        row.scan_id = got.scan_id


def snapshot(world: World):
    logs = list(ScanLog.objects.filter(festival=world.festival).order_by("id").values_list("id", "verdict", "undone", "conflict"))
    states = list(TicketEntryState.objects.filter(ticket__in=world.tickets).order_by("ticket_id").values())
    return logs, states


def check_log_and_state(world: World, oracle: Oracle) -> None:
    gate_index = {g.pk: i for i, g in enumerate(world.gates)}
    ticket_index = {t.pk: i for i, t in enumerate(world.tickets)}
    logged = list(ScanLog.objects.filter(festival=world.festival).order_by("id"))
    # Every attempt exactly once, in the order applied, as the oracle says (replays add nothing).
    assert [
        (ticket_index[r.ticket_id], r.verdict, r.direction, r.scanned_at, gate_index[r.gate_id], r.offline, r.conflict, r.method, r.undone, r.public_id)
        for r in logged
    ] == [
        (r.ticket, r.verdict, r.direction, r.scanned_at, r.gate, r.offline, r.conflict, r.method, r.undone, r.scan_id)
        for r in oracle.rows
    ]
    for i, ticket in enumerate(world.tickets):
        model = oracle.tickets[i]
        mine = [r for r in logged if r.ticket_id == ticket.pk]
        standing = [r for r in mine if r.verdict == Verdict.ADMITTED and not r.undone]
        # The rule's allowance, from the log alone: without exits one admission per period.
        if not model.allow_exit:
            periods = [local_day(r.scanned_at) if model.mode == DAILY else None for r in standing]
            assert len(periods) == len(set(periods)), f"ticket {i}: two standing admissions in one period"
        # The entry state agrees with the log.
        state = TicketEntryState.objects.filter(ticket=ticket).first()
        if state is None:
            assert not standing
            continue
        assert state.admissions == len(standing), f"ticket {i}"
        assert state.inside == model.inside, f"ticket {i}"
        days = sorted({local_day(r.scanned_at) for r in standing})
        assert state.days_admitted == [d.isoformat() for d in days], f"ticket {i}"
        first = standing[0] if standing else None
        assert (state.first_admitted_at, state.first_gate_id) == ((first.scanned_at, first.gate_id) if first else (None, None)), f"ticket {i}"
        # `day`: the latest festival day admitted, and the first admission applied that day.
        day_first = next((r for r in standing if local_day(r.scanned_at) == days[-1]), None) if days else None
        assert (state.day, state.day_first_admitted_at, state.day_first_gate_id) == (
            (days[-1], day_first.scanned_at, day_first.gate_id) if day_first else (None, None, None)
        ), f"ticket {i}"


@PROPERTY_SETTINGS
@given(
    mode=st.sampled_from([SINGLE, DAILY]),
    allow_exit=st.booleans(),
    steps=st.lists(step, min_size=1, max_size=12),
)
def test_random_histories_agree_with_the_rules(actors, make_user, set_now, mode, allow_exit, steps):
    staff, supervisor = actors
    set_now(START)
    world = make_world(make_user, mode, allow_exit, staff, supervisor)
    oracle = Oracle(mode, allow_exit, len(world.tickets))
    run_history(world, oracle, steps, set_now)
    check_log_and_state(world, oracle)


# Daily passes across days: late uploads of earlier days between online scans of later ones.
LATE_OFFSET = st.sampled_from([-2000, -1500, -1441, -900, -600, -90, -5, 0]).map(lambda m: m * MINUTE)
late_scan = st.tuples(st.just(0), st.just(Direction.ENTRY), LATE_OFFSET, st.sampled_from(NONCES), st.just(Verdict.ADMITTED))
DAY_ADVANCE = st.sampled_from([0, 60, 300, 720, 1440]).map(lambda m: m * MINUTE)
day_step = st.one_of(
    st.tuples(st.just("online"), DAY_ADVANCE, st.just(0), st.integers(0, GATES - 1), st.just(Direction.ENTRY), st.none()),
    st.tuples(st.just("batch"), DAY_ADVANCE, st.integers(0, GATES - 1), st.lists(late_scan, min_size=1, max_size=3)),
    st.tuples(st.just("restore"), DAY_ADVANCE, st.just(0)),
)


@PROPERTY_SETTINGS
@given(allow_exit=st.booleans(), steps=st.lists(day_step, min_size=2, max_size=10))
def test_daily_pass_histories_with_late_uploads_agree_with_the_rules(actors, make_user, set_now, allow_exit, steps):
    staff, supervisor = actors
    set_now(START)
    world = make_world(make_user, DAILY, allow_exit, staff, supervisor)
    oracle = Oracle(DAILY, allow_exit, len(world.tickets))
    run_history(world, oracle, steps, set_now)
    check_log_and_state(world, oracle)


# --- upload order of disjoint batches -------------------------------------------------------

UPLOAD_AT = dt.datetime(2026, 10, 26, 0, 30, tzinfo=ZONE)  # just after a local midnight
BELIEVED_OFFSET = st.sampled_from([-1500, -1441, -700, -65, -31, -30, -2, 0]).map(lambda m: m * MINUTE)


@PROPERTY_SETTINGS
@given(
    mode=st.sampled_from([SINGLE, DAILY]),
    batches=st.lists(st.lists(BELIEVED_OFFSET, min_size=1, max_size=3), min_size=2, max_size=3),
    orders=st.data(),
)
def test_the_upload_order_of_disjoint_batches_decides_only_which_admission_stands(actors, make_user, set_now, mode, batches, orders):
    """Entry scans of one ticket (no exits) made offline at different gates, one upload per
    device, all received at the same time. In whatever order the devices upload: one admission
    stands per period (the festival, or each festival day with a scan), every other scan of the
    period is ALREADY_USED with conflict=True, and the one that stands is the earliest (believed
    time, then upload position) of the first upload holding a scan of that period: the server
    cannot take back an admission it has answered, so which scan stands is the only thing the
    upload order decides."""
    staff, supervisor = actors
    set_now(UPLOAD_AT)
    world = make_world(make_user, mode, False, staff, supervisor)
    period = (lambda at: local_day(at)) if mode == DAILY else (lambda at: None)
    outcomes = []
    for ticket, code in enumerate(world.codes):
        order = orders.draw(st.permutations(range(len(batches))), label=f"upload order for ticket {ticket}")
        answers = {}
        for b in order:
            scans = [OfflineScan(code=code, scanned_at=UPLOAD_AT + off, nonce=f"t{ticket}-{j}") for j, off in enumerate(batches[b])]
            for j, r in enumerate(scan_commit_batch(device=world.devices[b], staff_user=staff, scans=scans)):
                answers[(b, j)] = r
        expected_standing = {}
        for b in order:
            for j in sorted(range(len(batches[b])), key=lambda j: (batches[b][j], j)):
                expected_standing.setdefault(period(UPLOAD_AT + batches[b][j]), (b, j))
        standing = {k for k, r in answers.items() if r.verdict == Verdict.ADMITTED}
        assert standing == set(expected_standing.values())
        for k, r in answers.items():
            if k not in standing:
                assert (r.verdict, r.conflict) == (Verdict.ALREADY_USED, True), k
            else:
                assert not r.conflict, k
        outcomes.append((sorted(expected_standing, key=str), sum(r.conflict for r in answers.values())))
    # Two tickets, two upload orders: the same periods admitted, the same number of conflicts.
    assert outcomes[0] == outcomes[1]
    state_counts = [TicketEntryState.objects.get(ticket=t).admissions for t in world.tickets]
    assert state_counts[0] == state_counts[1] == len(outcomes[0][0])


# --- regressions found by the properties ----------------------------------------------------


def test_an_offline_exit_scan_is_never_a_conflict(env, set_now):
    """Found by the histories above: an offline exit scan uploaded with the input's default
    localVerdict (ADMITTED) was reported CONFLICT (conflict=True in the log), though an exit is no
    admission and it stood (EXITED). A conflict is an offline admission the server refused."""
    from tests.scanning.conftest import local
    from tests.scanning.test_offline_and_reports import upload

    camping = factories.ticket_type(env.festival, name="Camping", allow_exit=True)
    code = qr_encode(env.ticket(camping))
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"
    set_now(local(3, 14))
    (out,) = upload(env, env.device, env.device_token, [
        {"code": code, "scannedAt": local(3, 13).isoformat(), "nonce": "x1", "direction": "EXIT"},
    ])["results"]
    assert (out["outcome"], out["result"]["verdict"], out["result"]["conflict"]) == ("STOOD", "EXITED", False)
    assert not ScanLog.objects.filter(conflict=True).exists()


def _supervisor(make_user):
    return make_user("admin")


def test_restoring_a_late_uploaded_earlier_day_frees_that_day(env, set_now, make_user):
    """Found by the histories: restore undoes the latest admission *applied*; for a daily pass
    that can be an offline scan of an earlier day uploaded late. Its day stayed in days_admitted
    (the code freed only `state.day`, and only when the undone scan was that day's first), so
    the ticket could not enter on that day again, against the log."""
    from tests.scanning.conftest import local
    from tests.scanning.test_offline_and_reports import upload

    daily = factories.ticket_type(env.festival, name="3-day", mode=TicketTypeEntryRule.Mode.DAILY)
    ticket = env.ticket(daily)
    code = qr_encode(ticket)
    supervisor = _supervisor(make_user)
    set_now(local(4, 9))
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"
    set_now(local(4, 10))
    (late,) = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": local(3, 18).isoformat(), "nonce": "d3"}])["results"]
    assert late["result"]["verdict"] == "ADMITTED"
    assert scan_restore(ticket_id=ticket.public_id, gate=env.gate, supervisor=supervisor).verdict == Verdict.RESTORED
    state = TicketEntryState.objects.get(ticket=ticket)
    assert (state.admissions, state.days_admitted, state.day) == (1, ["2026-07-04"], local(4, 9).date())
    (again,) = upload(env, env.device_b, env.device_b_token, [{"code": code, "scannedAt": local(3, 19).isoformat(), "nonce": "d3b"}])["results"]
    assert again["result"]["verdict"] == "ADMITTED"


def test_restores_of_a_daily_pass_free_each_day_they_undo(env, set_now, make_user):
    """Found by the histories: after the latest day's admission was undone, `day` became None
    although earlier days stayed admitted, and a second restore (of the day before) freed
    nothing: the ticket stayed 'used' on a day whose only admission was undone."""
    from tests.scanning.conftest import local

    daily = factories.ticket_type(env.festival, name="3-day", mode=TicketTypeEntryRule.Mode.DAILY)
    ticket = env.ticket(daily)
    code = qr_encode(ticket)
    supervisor = _supervisor(make_user)
    for day in (3, 4, 5):
        set_now(local(day, 10))
        assert env.scan(code)["result"]["verdict"] == "ADMITTED"
    set_now(local(5, 11))
    scan_restore(ticket_id=ticket.public_id, gate=env.gate, supervisor=supervisor)  # the 5th's
    state = TicketEntryState.objects.get(ticket=ticket)
    # The 4th is still the latest day admitted, with its first admission.
    assert (state.day, state.day_first_admitted_at, state.days_admitted) == (local(4, 10).date(), local(4, 10), ["2026-07-03", "2026-07-04"])
    scan_restore(ticket_id=ticket.public_id, gate=env.gate, supervisor=supervisor)  # the 4th's
    state.refresh_from_db()
    assert (state.admissions, state.days_admitted, state.first_admitted_at) == (1, ["2026-07-03"], local(3, 10))
    set_now(local(4, 12))
    assert env.scan(code)["result"]["verdict"] == "ADMITTED"
