"""SendGrid's servers cannot run here: we check the exact HTTP request the SDK would send."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.mail import EmailMultiAlternatives

from workers.email_backends import SendGridBackend


class _Response:
    status = 202

    def getcode(self):
        return 202

    def read(self):
        return b""

    def info(self):
        return {}


@pytest.fixture
def captured(monkeypatch):
    requests = []

    def fake_open(opener, request, timeout=None):
        requests.append(request)
        return _Response()

    monkeypatch.setattr("urllib.request.OpenerDirector.open", fake_open)
    return requests


def test_sendgrid_request_is_the_v3_mail_send_call(settings, captured):
    settings.SENDGRID_API_KEY = "SG.test-key"
    message = EmailMultiAlternatives(
        "Your tickets", "Hello", "tickets@festival.example", ["buyer@example.test"]
    )
    message.extra_headers["X-Festival-Email-Key"] = "order-confirmation:abc"
    message.attach("tickets.pdf", b"%PDF-1.4 test", "application/pdf")

    assert SendGridBackend().send_messages([message]) == 1

    assert len(captured) == 1
    request = captured[0]
    assert request.get_method() == "POST"
    assert request.full_url == "https://api.sendgrid.com/v3/mail/send"
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["authorization"] == "Bearer SG.test-key"
    assert headers["content-type"] == "application/json"
    body = json.loads(request.data)
    assert body["personalizations"] == [{"to": [{"email": "buyer@example.test"}]}]
    assert body["from"] == {"email": "tickets@festival.example"}
    assert body["subject"] == "Your tickets"
    assert body["content"] == [{"type": "text/plain", "value": "Hello"}]
    assert body["headers"] == {"X-Festival-Email-Key": "order-confirmation:abc"}
    [attachment] = body["attachments"]
    assert attachment["filename"] == "tickets.pdf"
    assert attachment["type"] == "application/pdf"
    assert base64.b64decode(attachment["content"]) == b"%PDF-1.4 test"


def test_sendgrid_error_is_raised_so_the_job_retries(settings, monkeypatch):
    settings.SENDGRID_API_KEY = "SG.test-key"
    import urllib.error

    def refuse(opener, request, timeout=None):
        raise urllib.error.HTTPError(request.full_url, 503, "unavailable", {}, None)

    monkeypatch.setattr("urllib.request.OpenerDirector.open", refuse)
    message = EmailMultiAlternatives("s", "b", "tickets@festival.example", ["buyer@example.test"])
    from python_http_client.exceptions import ServiceUnavailableError

    # The client turns the 503 into its own error; the worker's retry sees it propagate.
    with pytest.raises(ServiceUnavailableError):
        SendGridBackend().send_messages([message])


def test_production_uses_sendgrid_when_the_key_is_set(monkeypatch):
    import subprocess
    import sys

    code = (
        "import os; os.environ['SENDGRID_API_KEY']='SG.x';"
        "import festival.settings as s; print(s.EMAIL_BACKEND)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "workers.email_backends.SendGridBackend"
