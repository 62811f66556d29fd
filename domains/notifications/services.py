"""Email: enqueue once per key inside the caller's transaction, deliver once per key.

Neither SMTP nor SendGrid's mail/send takes an idempotency key, so the OutboundEmail row is
the only record of whether a message went out; `email_deliver` states how far that goes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Engine

from domains.common.clock import now
from domains.notifications.models import OutboundEmail

log = logging.getLogger(__name__)

# kind -> builder(object_id) -> list of (filename, content bytes, mimetype).
# Areas register builders (ticket PDFs, invoices) in their AppConfig.ready().
ATTACHMENT_BUILDERS: dict[str, Callable[[str], list[tuple[str, bytes, str]]]] = {}


@lru_cache(maxsize=1)
def _text_templates() -> Engine:
    """The project's templates without HTML autoescaping: these emails are text/plain, and
    escaping would turn "O'Brien" into "O&#x27;Brien"."""
    return Engine(dirs=[str(d) for d in settings.TEMPLATES[0]["DIRS"]], app_dirs=True, autoescape=False)


def render_text(template_name: str, context: dict) -> str:
    return _text_templates().render_to_string(template_name, context)


def register_attachment_builder(kind: str, builder: Callable[[str], list[tuple[str, bytes, str]]]) -> None:
    ATTACHMENT_BUILDERS[kind] = builder


def email_enqueue(
    *,
    key: str,
    to_email: str,
    template: str,
    context: dict,
    attachments: list[dict] | None = None,
    sensitive: bool = False,
) -> OutboundEmail:
    """Record the email under `key` and send it after the surrounding transaction commits.

    The same key twice is one email: the second call returns the first row and enqueues
    nothing. A rolled-back transaction sends nothing (the job is enqueued on commit).
    """
    email, created = OutboundEmail.objects.get_or_create(
        key=key,
        defaults={
            "to_email": to_email,
            "template": template,
            "context": context,
            "attachments": attachments or [],
            "sensitive": sensitive,
        },
    )
    if created:
        transaction.on_commit(lambda: _send_now(email.pk))
    return email


def _send_now(outbound_email_id: int) -> None:
    """Enqueue the delivery job. The broker (Redis) being down must not fail the request that
    already committed: the row stays pending and `email_resend_pending` enqueues it later."""
    from workers.emails import send_email

    try:
        send_email.send(outbound_email_id)
    except Exception as exc:
        log.warning("email job not enqueued (broker unavailable: %s); it stays pending", type(exc).__name__)


def email_resend_pending(*, older_than_seconds: int = 120, limit: int = 1000) -> int:
    """Enqueue again every email still pending `older_than_seconds` after it was recorded
    (its job was never enqueued, or was lost). Delivery is idempotent per row, so a row whose
    first job is merely slow is sent once all the same. Returns how many were enqueued."""
    from datetime import timedelta

    from workers.emails import send_email

    cutoff = now() - timedelta(seconds=older_than_seconds)
    ids = list(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        send_email.send(pk)
    if ids:
        log.info("pending emails enqueued again", extra={"count": len(ids)})
    return len(ids)


def email_deliver(*, outbound_email_id: int) -> bool:
    """Send the email unless it was sent already; True when this call sent it.

    Rule: one message per row, however often its job is delivered or retried.
    * The row stays locked while the message goes out, so two deliveries of the same job
      cannot both send.
    * The row is marked sent *before* the message is handed to the backend, in that same
      transaction: a failure to record it (a database error) happens before anything left,
      and a failure to send (provider down, worker killed) rolls the mark back, so the job's
      retry or redelivery sends it (nothing lost).
    * Only the COMMIT follows the hand-over. Losing the database in that instant is the one
      way to a second copy: the retry finds the row pending and sends again. No idempotency
      key exists to close it, and a rare duplicate is better than a lost ticket email.
    """
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if email is None or email.status != OutboundEmail.Status.PENDING:  # sent, or dropped
            return False
        context = {**email.context, "frontend_url": settings.FRONTEND_URL}
        subject = " ".join(render_text(f"emails/{email.template}_subject.txt", context).split())  # one line
        body = render_text(f"emails/{email.template}.txt", context)
        message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [email.to_email])
        message.extra_headers["X-Festival-Email-Key"] = email.key
        for spec in email.attachments:
            for filename, content, mimetype in ATTACHMENT_BUILDERS[spec["kind"]](spec["id"]):
                message.attach(filename, content, mimetype)
        # Recorded first (see the rule): marked sent after the hand-over, a database error
        # between the two rolled the mark back and the retry sent the message a second time.
        email.attempts += 1
        email.status = OutboundEmail.Status.SENT
        email.sent_at = now()
        if email.sensitive:
            email.context = {}  # the message is built: the secret is no longer needed
        email.save(update_fields=["status", "sent_at", "attempts", "context"])
        message.send(fail_silently=False)
    log.info("email sent", extra={"template": email.template})
    return True
