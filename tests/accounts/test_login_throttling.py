"""Item 12: concurrent guesses get one password check, failures earn a growing delay, and the
answers do not reveal whether an account exists."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from domains.accounts.models import User
from domains.accounts.throttling import delay_after
from tests.conftest import PASSWORD
from tests.support.accounts import LOGIN
from tests.support.graphql import GraphQLClient


def attempt(email, password="wrong-password-123", ip="203.0.113.7") -> dict:
    client = GraphQLClient()
    client.client_ip = ip
    return client.execute(LOGIN, {"email": email, "password": password}).payload("login")


def codes(payload) -> list[str]:
    return [e["code"] for e in payload["errors"]]


@pytest.fixture
def counted_checks(monkeypatch):
    """Counts real password checks; each takes `delay` seconds so concurrent ones overlap."""
    state = {"count": 0, "delay": 0.0}
    lock = threading.Lock()
    original = User.check_password

    def check(self, raw):
        with lock:
            state["count"] += 1
        time.sleep(state["delay"])
        return original(self, raw)

    monkeypatch.setattr(User, "check_password", check)
    return state


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_guesses_get_one_password_check(make_user, counted_checks):
    make_user(email="target@example.test")
    counted_checks["delay"] = 1.5
    barrier = threading.Barrier(50)
    results: list[dict] = []
    lock = threading.Lock()

    def guess():
        try:
            barrier.wait()
            payload = attempt("target@example.test")
            with lock:
                results.append(payload)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 50
    assert counted_checks["count"] == 1, "only one password check may run at a time per account"
    outcome = sorted(code for r in results for code in codes(r))
    assert outcome.count("INVALID_CREDENTIALS") == 1
    assert outcome.count("RATE_LIMITED") == 49
    assert all(r["accessToken"] is None for r in results)
    assert all(e["retryAfter"] >= 1 for r in results for e in r["errors"] if e["code"] == "RATE_LIMITED")


def test_sequential_failures_earn_a_growing_delay(make_user, counted_checks, settings):
    make_user(email="ana@example.test")
    free = settings.LOGIN_THROTTLE_FREE_FAILURES
    for _ in range(free):
        assert codes(attempt("ana@example.test")) == ["INVALID_CREDENTIALS"]
    refused = attempt("ana@example.test")
    assert codes(refused) == ["RATE_LIMITED"] and refused["errors"][0]["retryAfter"] == 1
    # even the right password waits: the guesser must not learn it was right
    assert codes(attempt("ana@example.test", PASSWORD)) == ["RATE_LIMITED"]
    assert counted_checks["count"] == free

    from django.core.cache import cache

    from domains.accounts.throttling import _digest

    waits = []
    for _ in range(4):
        cache.delete(f"login:gate:acct:{_digest('ana@example.test')}")  # as if the wait had passed
        assert codes(attempt("ana@example.test")) == ["INVALID_CREDENTIALS"]
        waits.append(attempt("ana@example.test")["errors"][0]["retryAfter"])
    assert waits == [2, 4, 8, 16]
    assert [delay_after(n, 3) for n in range(1, 8)] == [0, 0, 1, 2, 4, 8, 16]
    settings.LOGIN_THROTTLE_MAX_DELAY = 900
    assert delay_after(100, 3) == 900


def test_success_clears_the_failures(make_user, settings):
    make_user(email="ana@example.test")
    for _ in range(settings.LOGIN_THROTTLE_FREE_FAILURES - 1):
        attempt("ana@example.test")
    assert codes(attempt("ana@example.test", PASSWORD)) == []
    for _ in range(settings.LOGIN_THROTTLE_FREE_FAILURES - 1):
        assert codes(attempt("ana@example.test")) == ["INVALID_CREDENTIALS"]


def test_an_address_guessing_many_accounts_is_slowed_down(make_user, settings, counted_checks):
    settings.LOGIN_THROTTLE_FREE_IP_FAILURES = 5
    for n in range(5):
        assert codes(attempt(f"nobody{n}@example.test")) == ["INVALID_CREDENTIALS"]
    make_user(email="real@example.test")
    refused = attempt("real@example.test")
    assert codes(refused) == ["RATE_LIMITED"] and refused["errors"][0]["retryAfter"] >= 1
    assert counted_checks["count"] == 0
    # someone else, from another address, logs in as usual
    assert codes(attempt("real@example.test", PASSWORD, ip="198.51.100.1")) == []


def test_unknown_email_and_wrong_password_answer_identically(make_user, monkeypatch):
    make_user(email="ana@example.test")
    wrong = GraphQLClient().execute(LOGIN, {"email": "ana@example.test", "password": "wrong-password-123"})
    unknown = GraphQLClient().execute(LOGIN, {"email": "nobody@example.test", "password": "wrong-password-123"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.body == unknown.body
    # and they cost a password hash each (no fast path that times differently)
    from django.contrib.auth import hashers

    calls = []
    original = hashers.check_password

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("domains.accounts.services.authentication.check_password", spy)
    GraphQLClient().execute(LOGIN, {"email": "nobody2@example.test", "password": "wrong-password-123"})
    assert calls == [1]


def test_aliased_logins_in_one_document_count_as_attempts(make_user, counted_checks, settings):
    make_user(email="ana@example.test")
    fields = " ".join(
        f'a{i}: login(email: "ana@example.test", password: "guess-{i}-xxxxxxxx") {{ accessToken errors {{ code }} }}'
        for i in range(10)
    )
    response = GraphQLClient().execute(f"mutation {{ {fields} }}")
    answers = [response.data[f"a{i}"]["errors"][0]["code"] for i in range(10)]
    free = settings.LOGIN_THROTTLE_FREE_FAILURES
    assert answers == ["INVALID_CREDENTIALS"] * free + ["RATE_LIMITED"] * (10 - free)
    assert counted_checks["count"] == free


CHANGE = """mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) {
  accessToken errors { code retryAfter } } }"""
ERASE = "mutation($p: String!) { eraseMe(password: $p) { ok errors { code retryAfter } } }"


@pytest.mark.parametrize("operation", ["changePassword", "eraseMe"])
def test_confirming_the_password_in_a_session_is_limited_like_a_login(as_user, counted_checks, settings, operation):
    """A stolen session could otherwise guess the password at request speed, then change it
    (which signs everyone else out) or erase the account."""
    client = as_user()
    free = settings.LOGIN_THROTTLE_FREE_FAILURES

    def guess(password):
        if operation == "changePassword":
            return client.execute(CHANGE, {"c": password, "n": "a-brand-new-password-9"}).payload("changePassword")
        return client.execute(ERASE, {"p": password}).payload("eraseMe")

    for _ in range(free):
        assert codes(guess("wrong-guess-123")) == ["INVALID_CREDENTIALS"]
    refused = guess(PASSWORD)  # even the right one waits now
    assert codes(refused) == ["RATE_LIMITED"] and refused["errors"][0]["retryAfter"] >= 1
    assert counted_checks["count"] == free
    # The login of the same account waits too: one count per account, whatever the door.
    assert codes(attempt(client.user.email, PASSWORD)) == ["RATE_LIMITED"]
    client.user.refresh_from_db()
    assert client.user.check_password(PASSWORD) and client.user.is_active
