"""Email backends: var/outbox/ files (development, tests) and SendGrid (production)."""

from __future__ import annotations

import base64
import logging
import sys
import uuid

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

log = logging.getLogger(__name__)


class OutboxBackend(BaseEmailBackend):
    """Writes each message as an .eml file under EMAIL_OUTBOX_DIR and a line to the console."""

    def send_messages(self, email_messages):
        outbox = settings.EMAIL_OUTBOX_DIR
        outbox.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            path = outbox / f"{uuid.uuid4().hex}.eml"
            path.write_bytes(message.message().as_bytes())
            if not settings.TESTING:
                sys.stdout.write(f"[email] {message.subject!r} -> {path}\n")
        return len(email_messages)


def sendgrid_request_body(message) -> dict:
    """The JSON body of SendGrid's v3 mail/send call for one Django email message."""
    body = {
        "personalizations": [{"to": [{"email": addr} for addr in message.to]}],
        "from": {"email": message.from_email},
        "subject": message.subject,
        "content": [{"type": "text/plain", "value": message.body}],
        "headers": {k: v for k, v in message.extra_headers.items()},
    }
    for content, mimetype in getattr(message, "alternatives", []):
        body["content"].append({"type": mimetype, "value": content})
    attachments = []
    for filename, content, mimetype in message.attachments:
        raw = content if isinstance(content, bytes) else content.encode()
        attachments.append(
            {"content": base64.b64encode(raw).decode(), "filename": filename, "type": mimetype, "disposition": "attachment"}
        )
    if attachments:
        body["attachments"] = attachments
    return body


class SendGridBackend(BaseEmailBackend):
    """Sends through SendGrid's v3 API with the official SDK. Errors propagate so that the
    job is retried (fail_silently is never honoured: a lost email must not look sent)."""

    def __init__(self, fail_silently=False, client=None, **kwargs):
        super().__init__(fail_silently=False, **kwargs)
        self._client = client

    def client(self):
        if self._client is None:
            from sendgrid import SendGridAPIClient

            self._client = SendGridAPIClient(api_key=settings.SENDGRID_API_KEY)
        return self._client

    def send_messages(self, email_messages):
        for message in email_messages:
            response = self.client().client.mail.send.post(request_body=sendgrid_request_body(message))
            if response.status_code >= 300:
                raise RuntimeError(f"SendGrid answered {response.status_code}")
        return len(email_messages)
