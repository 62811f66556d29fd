"""Item 23 (Redis half): Redis stopped under a running server. GraphQL keeps serving reads and
the writes that do not need Redis (rate limits fail open, logged); /api/health/ answers 503 with
redis down; an email whose job could not be enqueued stays pending and goes out once Redis is
back and `resend_pending_emails` runs."""

from __future__ import annotations

import httpx
import pytest

from tests.faults.services import PrivateRedis, django_script, manage, start_server, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases=[])]

SEED = """
import datetime as dt
from domains.events.models import Festival
Festival.objects.get_or_create(slug="redisfest", defaults=dict(name="Redis Fest", starts_on=dt.date(2030, 7, 1),
    ends_on=dt.date(2030, 7, 3), venue_name="Field", status=Festival.Status.ON_SALE, is_current=True))
"""
READ = {"query": "{ festival(slug: \"redisfest\") { name } ticketTypes { name } schedule { days { date } } }"}
REGISTER = {
    "query": "mutation($e: String!) { register(email: $e, password: \"a-long-enough-pass-99\", fullName: \"R\") { ok errors { code } } }",
    "variables": {"e": "while.down@example.test"},
}


def test_redis_down_keeps_reads_fails_health_and_loses_no_email(stack):
    pg, redis_, env, var_dir = stack
    django_script(env, SEED)
    server, base = start_server(env, var_dir)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/api/health/").status_code == 200
            assert http.post("/graphql/", json=READ).json()["data"]["festival"]["name"] == "Redis Fest"

            redis_.stop()
            for _ in range(3):
                response = http.post("/graphql/", json=READ)
                assert response.status_code == 200 and not response.json().get("errors"), response.text
                assert response.json()["data"]["festival"]["name"] == "Redis Fest"
            health = http.get("/api/health/")
            assert health.status_code == 503
            assert health.json()["checks"]["redis"] == "down" and health.json()["checks"]["database"] == "ok"
            assert "Traceback" not in health.text

            registered = http.post("/graphql/", json=REGISTER)
            assert registered.status_code == 200, registered.text
            assert registered.json()["data"]["register"] == {"ok": True, "errors": []}, registered.text
            assert pg.query("SELECT status FROM notifications_outboundemail WHERE to_email = 'while.down@example.test'") == [("pending",)]

            back = PrivateRedis()
            back.port = redis_.port  # the same address: every process reconnects by itself
            back.start()
            redis_.process = back.process  # the fixture stops it
            wait_for(lambda: http.get("/api/health/").status_code == 200, 15, "health to recover")
            assert http.post("/graphql/", json=READ).status_code == 200
    finally:
        server.stop()
    log = server.output()
    assert "rate limit not counted: cache unavailable" in log  # failed open, and said so
    assert "email job not enqueued" in log

    out = manage(env, "resend_pending_emails", "--older-than", "0")
    assert out.strip() == "1 pending email(s) enqueued"
    worker = start_worker(env, var_dir, "after")
    try:
        wait_for(lambda: len(list((var_dir / "outbox").glob("*.eml"))) == 1, 30, "the pending email")
    finally:
        worker.stop()
    assert pg.query("SELECT status FROM notifications_outboundemail WHERE to_email = 'while.down@example.test'") == [("sent",)]
    assert manage(env, "resend_pending_emails", "--older-than", "0").strip() == "0 pending email(s) enqueued"
