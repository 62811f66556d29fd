"""Races on PostgreSQL: two admins assigning one booth, crews scanning at several gates.

Threads are released together by a Barrier; each uses its own database connection and closes
it. The race window is widened on purpose (a pause after the "is the booth free?" read) so
that the control tests, with the locks switched off, lose deterministically.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from domains.vendors.services import assignment as assignment_service
from tests.support.graphql import GraphQLClient
from tests.vendors.conftest import ASSIGN, SETUP_START

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def _in_threads(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.fixture
def slow_check(monkeypatch):
    """Pause after reading the booth's holder: a lock-free check-then-insert would now race."""
    original = assignment_service._booth_holder

    def slow(booth):
        holder = original(booth)
        time.sleep(0.2)
        return holder

    monkeypatch.setattr(assignment_service, "_booth_holder", slow)


@pytest.fixture
def locks_off(monkeypatch):
    from domains.vendors.models import Booth, VendorProfile

    monkeypatch.setattr(
        assignment_service, "_locked_booth", lambda booth_id: Booth.objects.select_related("festival").filter(public_id=booth_id).first()
    )
    monkeypatch.setattr(
        assignment_service, "_locked_vendor", lambda vendor_id: VendorProfile.objects.select_related("owner").filter(public_id=vendor_id).first()
    )


def _two_admins_assign_one_booth(make_user, make_vendor, make_booth, token_for):
    admins = [GraphQLClient().authenticate(token_for(make_user("admin"))) for _ in range(2)]
    vendors = [make_vendor("approved") for _ in range(2)]
    booth = make_booth()

    def work(i):
        response = admins[i].execute(ASSIGN, {"vendorId": str(vendors[i].public_id), "boothId": str(booth.public_id)})
        return response.payload("assignBooth")

    return booth, _in_threads(2, work)


def test_two_admins_assigning_one_booth_get_one_winner(slow_check, make_user, make_vendor, make_booth, token_for):
    for _ in range(ROUNDS):
        booth, results = _two_admins_assign_one_booth(make_user, make_vendor, make_booth, token_for)
        assert all(isinstance(r, dict) for r in results), results
        winners = [r for r in results if not r["errors"]]
        losers = [r for r in results if r["errors"]]
        assert len(winners) == 1 and [e["code"] for e in losers[0]["errors"]] == ["BOOTH_ALREADY_ASSIGNED"]
        assert booth.assignments.filter(ended_at__isnull=True).count() == 1


def test_one_vendor_assigned_to_two_booths_at_once_gets_one(slow_check, make_user, make_vendor, make_booth, token_for):
    admins = [GraphQLClient().authenticate(token_for(make_user("admin"))) for _ in range(2)]
    vendor = make_vendor("approved")
    booths = [make_booth(), make_booth()]
    results = _in_threads(
        2,
        lambda i: admins[i].execute(ASSIGN, {"vendorId": str(vendor.public_id), "boothId": str(booths[i].public_id)}).payload("assignBooth"),
    )
    codes = sorted(e["code"] for r in results for e in r["errors"])
    assert codes == ["VENDOR_ALREADY_HAS_BOOTH"]
    assert vendor.assignments.filter(ended_at__isnull=True).count() == 1


def test_control_without_locks_the_constraint_still_picks_one(slow_check, locks_off, make_user, make_vendor, make_booth, token_for):
    """Both admins pass the check; the partial unique index refuses the second insert and the
    service turns that into the same clean error."""
    booth, results = _two_admins_assign_one_booth(make_user, make_vendor, make_booth, token_for)
    assert sorted(len(r["errors"]) for r in results) == [0, 1]
    assert [e["code"] for r in results for e in r["errors"]] == ["BOOTH_ALREADY_ASSIGNED"]


@pytest.fixture
def without_booth_constraint():
    """Drop the one-live-assignment-per-booth index for one test, and put it back."""
    from django.db import connection as conn

    from domains.vendors.models import BoothAssignment

    constraint = next(c for c in BoothAssignment._meta.constraints if c.name == "booth_one_active_assignment")
    with conn.schema_editor() as editor:
        editor.remove_constraint(BoothAssignment, constraint)
    try:
        yield
    finally:
        BoothAssignment.objects.all().delete()
        with conn.schema_editor() as editor:
            editor.add_constraint(BoothAssignment, constraint)


def test_the_lock_alone_picks_one_winner(slow_check, without_booth_constraint, make_user, make_vendor, make_booth, token_for):
    booth, results = _two_admins_assign_one_booth(make_user, make_vendor, make_booth, token_for)
    assert [e["code"] for r in results for e in r["errors"]] == ["BOOTH_ALREADY_ASSIGNED"]
    assert booth.assignments.filter(ended_at__isnull=True).count() == 1


def test_control_without_locks_or_constraint_the_race_is_real(
    slow_check, locks_off, without_booth_constraint, make_user, make_vendor, make_booth, token_for
):
    booth, results = _two_admins_assign_one_booth(make_user, make_vendor, make_booth, token_for)
    assert [r["errors"] for r in results] == [[], []]  # two winners: the bug the lock prevents
    assert booth.assignments.filter(ended_at__isnull=True).count() == 2


def test_concurrent_crew_scans_never_exceed_the_crew_limit(assigned, make_user):
    from domains.vendors.services import VendorSetupVerdict, vendor_setup_scan
    from domains.vendors.setup_qr import setup_qr_encode

    assignment = assigned(crew_limit=3)
    code = setup_qr_encode(assignment)
    at = SETUP_START.replace(hour=10)
    results = _in_threads(8, lambda i: vendor_setup_scan(code, f"gate-{i % 3}", at).verdict)
    assert sorted(results) == sorted([VendorSetupVerdict.VENDOR_SETUP_ADMITTED] * 3 + [VendorSetupVerdict.CREW_LIMIT_REACHED] * 5)
    assignment.refresh_from_db()
    assert assignment.crew_entries == 3 and assignment.setup_entries.count() == 3


def test_a_lock_held_too_long_is_a_clean_retry_later(make_user, make_vendor, make_booth, token_for):
    """The booth row is locked elsewhere beyond lock_timeout: the admin gets RETRY_LATER, nothing is written."""
    from django.db import transaction

    from domains.vendors.models import Booth

    admin = GraphQLClient().authenticate(token_for(make_user("admin")))
    vendor, booth = make_vendor("approved"), make_booth()
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Booth.objects.select_for_update().get(pk=booth.pk)
                locked.set()
                release.wait(timeout=15)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        response = admin.execute(ASSIGN, {"vendorId": str(vendor.public_id), "boothId": str(booth.public_id)})
        errors = response.payload("assignBooth")["errors"]
        assert [e["code"] for e in errors] == ["RETRY_LATER"]
    finally:
        release.set()
        holder.join(timeout=10)
    assert not booth.assignments.exists()
