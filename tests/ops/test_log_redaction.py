"""Credentials and personal data that travel in URLs or through HTTP client libraries never reach
the logs or Sentry: signed download and wallet-pass links (bearer credentials for a ticket and
its QR code), GraphQL GET query strings (document and variables), the APNs device push token,
the SendGrid payload and key, a PaymentIntent's client secret. deploy/nginx.conf logs a
redacted path for the same reasons (tests/ops/test_proxy.py runs it in nginx)."""

from __future__ import annotations

import io
import json

import pytest

from domains.common.signing import sign_download

EMAIL = "canary.redact81@example.test"
SEARCH = "query($s: String!) { staffOrders(filter: {search: $s}) { edges { node { number } } } }"


def _flush():
    import sentry_sdk

    sentry_sdk.get_client().flush()


@pytest.fixture
def failing_download(monkeypatch):
    from schema.orders import rest

    def broken(object_id):
        raise RuntimeError("pdf renderer down")

    monkeypatch.setitem(rest.BUILDERS, "tickets", broken)
    return sign_download("tickets", "00000000-0000-0000-0000-000000000000")


def test_a_failed_download_names_its_path_without_the_token(gql, db, json_logs, sentry_events, failing_download):
    token = failing_download
    response = gql.post_raw(b"", method="GET", path=f"/api/downloads/{token}/")
    assert response.status_code == 500  # the builder failed: a server error, logged and reported
    _flush()
    errors = [r for r in json_logs.parsed() if r["level"] == "ERROR"]
    assert any("/api/downloads/[token]/" in r["message"] for r in errors), errors
    assert not [line for line in json_logs.lines if token in line]
    assert sentry_events, "the failure reached Sentry"
    dumped = json.dumps(sentry_events)
    assert token not in dumped and token.rsplit(".", 1)[1] not in dumped  # nor its MAC
    assert "/api/downloads/[token]/" in dumped


def test_a_graphql_get_reaches_sentry_without_its_query_string(as_user, sentry_events, monkeypatch):
    from domains.orders import staff_selectors

    def boom(*args, **kwargs):
        raise RuntimeError("search failed")

    monkeypatch.setattr(staff_selectors, "staff_order_search", boom)
    staff = as_user("staff")
    response = staff.post_raw({"query": SEARCH, "variables": json.dumps({"s": EMAIL})}, method="GET")
    assert response.json()["errors"][0]["message"] == "Internal server error."
    _flush()
    assert sentry_events, "the failure reached Sentry"
    dumped = json.dumps(sentry_events)
    assert EMAIL not in dumped and "canary.redact81%40" not in dumped
    assert {e["request"].get("query_string") for e in sentry_events if "request" in e} == {"[Filtered]"}


def test_the_apns_push_token_is_not_in_the_log(json_logs):
    import httpx

    from domains.wallet.passes.apns import HttpxApnsTransport, build_apns_push_request

    push_token = "ab" * 32
    transport = HttpxApnsTransport("unused", "unused")
    transport._client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    assert transport.send(build_apns_push_request(push_token, "pass.example.test")) == 200
    assert not [line for line in json_logs.lines if push_token in line]


def test_the_sendgrid_client_logs_neither_the_email_nor_the_key(json_logs, settings, monkeypatch):
    from django.core.mail import EmailMultiAlternatives
    from python_http_client import client as http_client

    from workers.email_backends import SendGridBackend

    class Accepted(io.BytesIO):
        def getcode(self):
            return 202

        def info(self):
            return {}

    sent = []

    def make_request(self, opener, request, timeout=None):
        sent.append(request)
        return Accepted(b"")

    settings.SENDGRID_API_KEY = "SG.redaction-test-key"
    monkeypatch.setattr(http_client.Client, "_make_request", make_request)
    message = EmailMultiAlternatives("Reset", "reset token RESET-TOKEN-redact81", "from@example.test", [EMAIL])
    assert SendGridBackend().send_messages([message]) == 1
    assert sent and b"RESET-TOKEN-redact81" in sent[0].data  # it was sent, with the token
    for secret in ("RESET-TOKEN-redact81", EMAIL, "SG.redaction-test-key"):
        assert not [line for line in json_logs.lines if secret in line], secret


def test_the_stripe_client_does_not_log_the_client_secret(json_logs, monkeypatch):
    import stripe

    from domains.payments.gateway import StripeGateway

    body = json.dumps({"id": "pi_redact", "object": "payment_intent", "amount": 1000, "currency": "eur",
                       "status": "requires_payment_method", "client_secret": "pi_redact_secret_CANARY",
                       "metadata": {}, "latest_charge": None})

    def request(self, method, url, headers, post_data=None, *args, **kwargs):
        return body, 200, {"Request-Id": "req_1"}

    monkeypatch.setattr(stripe.RequestsClient, "request", request)
    intent = StripeGateway("sk_test_redaction").create_payment_intent(
        amount=1000, currency="eur", idempotency_key="k1", metadata={"order_id": "o1"}
    )
    assert intent.client_secret == "pi_redact_secret_CANARY"
    assert not [line for line in json_logs.lines if "pi_redact_secret_CANARY" in line or "sk_test_redaction" in line]


def test_a_clients_own_introspection_name_is_not_a_metrics_label(gql, db):
    gql.execute("query { __redact81made_up }")
    text = gql.post_raw(b"", method="GET", path="/api/metrics/").text
    assert "graphql_requests_total" in text
    assert "redact81" not in text
