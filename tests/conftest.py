"""Shared fixtures. Tests run against the database named by DATABASE_URL (SQLite by
default, PostgreSQL in CI) and Redis when REDIS_URL is set."""

from __future__ import annotations

import os

os.environ.setdefault("FESTIVAL_TESTING", "1")

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.support.graphql import GraphQLClient  # noqa: E402

PASSWORD = "correct-horse-battery-staple"


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if os.environ.get("FESTIVAL_REQUIRE_SERVICES") == "1" and not (on_postgres and settings.REDIS_URL):
        raise pytest.UsageError("FESTIVAL_REQUIRE_SERVICES=1 but DATABASE_URL/REDIS_URL do not name PostgreSQL and Redis")
    for item in items:
        if item.get_closest_marker("postgres") and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if item.get_closest_marker("redis") and not settings.REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs Redis (set REDIS_URL)"))


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Each test gets its own outbox folder and an empty cache (throttles, rate limits)."""
    from django.core.cache import cache

    settings.EMAIL_OUTBOX_DIR = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "workers.email_backends.OutboxBackend"
    _clear_own_cache(cache)
    yield
    _clear_own_cache(cache)


def _clear_own_cache(cache) -> None:
    """Empty this process's cache. On Redis, only the keys under this process's prefix:
    cache.clear() is FLUSHDB, which under pytest-xdist wipes the other workers' throttle
    counters and Dramatiq queues in the middle of their tests."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def gql() -> GraphQLClient:
    return GraphQLClient()


@pytest.fixture
def make_user(db):
    from domains.accounts.models import User

    counter = {"n": 0}

    def make(role: str = "attendee", email: str | None = None, password: str = PASSWORD, **extra):
        counter["n"] += 1
        email = email or f"{role}{counter['n']}@example.test"
        return User.objects.create_user(email=email, password=password, role=role, full_name=extra.pop("full_name", f"{role.title()} {counter['n']}"), **extra)

    return make


@pytest.fixture
def token_for(db):
    """An access token for a user, as login would issue it (without the throttle)."""
    from domains.accounts.services.authentication import session_start

    def issue(user) -> str:
        return session_start(user=user).access_token

    return issue


@pytest.fixture
def as_user(gql, make_user, token_for):
    """A client signed in with a new user of the given role: `as_user("staff")`."""

    def login(role: str = "attendee", **kwargs):
        user = make_user(role, **kwargs)
        client = GraphQLClient().authenticate(token_for(user))
        client.user = user
        return client

    return login


@pytest.fixture
def locked_scan_path(monkeypatch):
    """Every gate scan takes the locked path (domains/scanning/services/commit.py): the checked
    write's fallback, and the only path on other databases than PostgreSQL."""
    from domains.scanning.services import rows

    monkeypatch.setattr(rows, "checked_writes", lambda: False)


@pytest.fixture
def outbox(settings):
    """The emails written to the outbox folder, parsed."""
    import email
    from email import policy

    class Outbox:
        def messages(self):
            folder = settings.EMAIL_OUTBOX_DIR
            if not folder.exists():
                return []
            return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]

    return Outbox()


@pytest.fixture
def run_jobs(transactional_db):
    """Run the Dramatiq jobs enqueued so far (and any they enqueue) with a real worker,
    then stop it. Needs transactional_db: worker threads cannot see an open test transaction."""
    import dramatiq
    from dramatiq import Worker

    broker = dramatiq.get_broker()
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()

    def drain(timeout_ms: int = 20_000):
        for queue in list(broker.get_declared_queues()):
            broker.join(queue, timeout=timeout_ms)
        worker.join()

    yield drain
    worker.stop()
    for queue in list(broker.get_declared_queues()):
        broker.flush(queue)
