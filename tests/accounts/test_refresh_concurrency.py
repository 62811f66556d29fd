"""Item 10: of 10 concurrent refreshes with one token at most one succeeds (PostgreSQL),
and a control showing that without the row lock more than one does."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.db.models import QuerySet

from domains.accounts import services
from domains.accounts.services import authentication
from domains.accounts.services.authentication import session_start
from domains.common.clock import now as real_now
from domains.common.errors import DomainError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


def race(refresh_token: str) -> list[str]:
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def refresh():
        try:
            barrier.wait()
            try:
                services.session_refresh(refresh_token=refresh_token)
                result = "ok"
            except DomainError as exc:
                result = str(exc.code)
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == THREADS, outcomes
    return outcomes


@pytest.fixture
def slow_clock(monkeypatch):
    """Widen the window between reading the token and marking it used."""

    def slow_now():
        time.sleep(0.05)
        return real_now()

    monkeypatch.setattr(authentication, "now", slow_now)


def test_ten_concurrent_refreshes_at_most_one_succeeds(make_user, slow_clock):
    user = make_user()
    for _ in range(3):
        pair = session_start(user=user)
        outcomes = race(pair.refresh_token)
        assert outcomes.count("ok") <= 1, outcomes
        assert set(outcomes) <= {"ok", "INVALID_TOKEN"}


def test_control_without_the_row_lock_several_succeed(make_user, slow_clock, monkeypatch):
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, *a, **k: self)
    user = make_user()
    best = 0
    for _ in range(5):
        pair = session_start(user=user)
        best = max(best, race(pair.refresh_token).count("ok"))
        if best > 1:
            break
    assert best > 1, "without select_for_update the race should let more than one refresh through"
