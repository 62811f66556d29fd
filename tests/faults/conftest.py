"""Fault tests (items 21-25) against PRIVATE PostgreSQL and Redis instances started here, so the
shared services of the rest of the suite are never stopped. Each xdist worker that runs a fault
test starts its own cluster (about 8 s with migrations)."""

from __future__ import annotations

import pytest

from tests.faults.services import PrivatePostgres, PrivateRedis, django_env, manage


@pytest.fixture(scope="session")
def private_pg():
    pg = PrivatePostgres().init()
    redis_ = PrivateRedis().start()  # migrate needs none, but settings want a URL
    try:
        manage(django_env(pg, redis_, pg.dir), "migrate", "--noinput", "-v", "0")
    finally:
        redis_.stop()
    yield pg
    pg.destroy()


@pytest.fixture
def private_redis():
    redis_ = PrivateRedis().start()
    yield redis_
    redis_.stop()


@pytest.fixture
def stack(private_pg, private_redis, tmp_path):
    """(pg, redis, env, var_dir): the environment for servers, workers and scripts."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = django_env(private_pg, private_redis, var_dir)
    private_pg.query("SELECT 1")
    return private_pg, private_redis, env, var_dir
