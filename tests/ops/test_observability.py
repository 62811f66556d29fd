"""Observability (issue 8, item 6): job logs carry actor and message id, Sentry events carry
no credentials, /api/metrics/ reports operations, scans, orders and queue depth behind a token."""

from __future__ import annotations

import json
import logging

from festival.logging import bind, request_context


def test_job_logs_carry_the_actor_the_message_id_and_the_enqueuing_request(run_jobs, json_logs):
    from django.db import transaction

    from domains.notifications.services import email_enqueue

    token = request_context.set({})
    try:
        bind(request_id="req-abc123")
        with transaction.atomic():
            email_enqueue(key="obs:1", to_email="obs@example.test", template="account_exists", context={"full_name": "O"})
    finally:
        request_context.reset(token)
    run_jobs()
    sent = [r for r in json_logs.parsed() if r["message"] == "email sent"]
    assert len(sent) == 1
    assert sent[0]["actor"] == "send_email" and len(sent[0]["message_id"]) >= 32
    assert sent[0]["request_id"] == "req-abc123" and sent[0]["transport"] == "job"


def test_http_logs_carry_request_id_user_and_operation(as_user, json_logs, monkeypatch):
    import festival.metrics

    original = festival.metrics.observe

    def observe_and_log(*args):
        logging.getLogger("tests.ops").info("inside the request")
        return original(*args)

    monkeypatch.setattr(festival.metrics, "observe", observe_and_log)
    client = as_user("attendee")
    response = client.execute("query WhoAmI { me { email } }", headers={"X-Request-Id": "req-http-1"})
    assert not response.errors
    [record] = [r for r in json_logs.parsed() if r["message"] == "inside the request"]
    assert record["request_id"] == "req-http-1" and record["operation"] == "WhoAmI"
    assert record["user_id"] == str(client.user.public_id)


# --- Sentry ---------------------------------------------------------------------------


def test_sentry_events_carry_no_authorization_or_secret_variables(as_user, sentry_events, monkeypatch):
    from domains.accounts import services

    def boom(**kwargs):
        raise RuntimeError("resolver exploded")

    monkeypatch.setattr(services, "password_change", boom)
    client = as_user("attendee")
    response = client.execute(
        "mutation Change($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }",
        {"c": "CANARY-old-password", "n": "CANARY-new-password"},
    )
    assert response.errors[0]["message"] == "Internal server error."
    assert sentry_events, "the masked error reached Sentry"
    dumped = json.dumps(sentry_events)
    assert "resolver exploded" in dumped
    assert "CANARY" not in dumped
    assert client.token not in dumped
    assert "Bearer" not in dumped


def test_a_clients_mistake_sends_no_sentry_event(gql, db, sentry_events):
    """Refusals are INFO (breadcrumbs): an expired token or a typo in a document is no server
    error, and their messages quote the client's values (schema/extensions.py `log_errors`)."""
    assert gql.execute("{ me { email } }").errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    gql.execute('mutation { login(email: "a@example.test", password: "CANARY-pw") { noSuchField } }')
    import sentry_sdk

    sentry_sdk.get_client().flush()
    assert sentry_events == []


def test_scrub_event_removes_headers_and_secret_keys():
    from festival.sentry import scrub_event

    event = {
        "request": {
            "headers": {"Authorization": "Bearer x", "X-Device-Token": "sdt_1", "User-Agent": "ua"},
            "cookies": {"sessionid": "s"},
            "data": {"query": "mutation", "variables": {"password": "p", "newPassword": "p2", "token": "t", "email": "e"}},
        },
        "extra": {"refreshToken": "r", "nested": [{"qrCode": "q"}]},
        "user": {"email": "ana@example.test"},
    }
    out = scrub_event(event)
    assert out["request"]["headers"] == {"User-Agent": "ua"}
    assert "cookies" not in out["request"] and "user" not in out
    variables = out["request"]["data"]["variables"]
    assert variables["password"] == variables["newPassword"] == variables["token"] == "[Filtered]"
    assert out["extra"]["refreshToken"] == "[Filtered]" and out["extra"]["nested"][0]["qrCode"] == "[Filtered]"
    assert scrub_event({"request": {"data": '{"password": "x"}'}})["request"]["data"] == "[Filtered]"


def test_settings_start_sentry_only_with_a_dsn(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import django, sentry_sdk; django.setup(); from django.conf import settings; "
        "c = sentry_sdk.get_client(); print(c.is_active(), c.options.get('send_default_pii'), "
        "sorted(k for k in c.integrations if k in ('django', 'dramatiq')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "festival.settings", "FESTIVAL_VAR_DIR": str(tmp_path)}
    env.pop("SENTRY_DSN", None)
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert off.stdout.split()[0] == "False", off.stderr
    env["SENTRY_DSN"] = "http://public@127.0.0.1:9/1"
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert on.stdout.strip() == "True False ['django', 'dramatiq']", on.stderr


# --- metrics ----------------------------------------------------------------------------


def test_metrics_report_operations_scans_orders_and_queues(gql, as_user, settings):
    from domains.notifications.services import email_enqueue

    settings.METRICS_TOKEN = ""
    gql.execute("query Fest { festival { name } }")
    email_enqueue(key="metrics:1", to_email="m@example.test", template="account_exists", context={})
    response = gql.post_raw(b"", method="GET", path="/api/metrics/")
    assert response.status_code == 200
    text = response.text
    assert 'graphql_requests_total{kind="query",operation="festival",outcome="ok"}' in text
    assert 'graphql_request_seconds_bucket{kind="query",le="0.005",operation="festival"}' in text
    assert "festival_scans" in text and "festival_orders" in text
    assert 'dramatiq_queue_depth{queue="email"}' in text


def test_metrics_label_operations_by_root_field_not_the_clients_name(gql, db):
    gql.execute("query MadeUpName123 { festival { name } }")
    text = gql.post_raw(b"", method="GET", path="/api/metrics/").text
    assert "MadeUpName123" not in text


def test_metrics_need_the_token_when_one_is_set(gql, db, settings):
    settings.METRICS_TOKEN = "metrics-secret"
    assert gql.post_raw(b"", method="GET", path="/api/metrics/").status_code == 401
    wrong = gql.post_raw(b"", method="GET", path="/api/metrics/", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = gql.post_raw(b"", method="GET", path="/api/metrics/", headers={"Authorization": "Bearer metrics-secret"})
    assert ok.status_code == 200 and "graphql_requests_total" in ok.text


def test_metrics_are_closed_in_production_without_a_token(gql, db, settings):
    settings.METRICS_TOKEN = ""
    settings.IS_PRODUCTION = True
    assert gql.post_raw(b"", method="GET", path="/api/metrics/").status_code == 401
