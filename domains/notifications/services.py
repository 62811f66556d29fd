"""Email: enqueue once per key inside the caller's transaction, deliver at most once per key."""

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
        from workers.emails import send_email

        transaction.on_commit(lambda: send_email.send(email.pk))
    return email


def email_deliver(*, outbound_email_id: int) -> bool:
    """Send the email unless it was sent already; True when this call sent it.

    The row stays locked while the message goes out, so two deliveries of the same job
    cannot both send; a failure rolls back and the job's retry sends it later.
    """
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if email is None or email.status == OutboundEmail.Status.SENT:
            return False
        email.attempts += 1
        context = {**email.context, "frontend_url": settings.FRONTEND_URL}
        subject = " ".join(render_text(f"emails/{email.template}_subject.txt", context).split())  # one line
        body = render_text(f"emails/{email.template}.txt", context)
        message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [email.to_email])
        message.extra_headers["X-Festival-Email-Key"] = email.key
        for spec in email.attachments:
            for filename, content, mimetype in ATTACHMENT_BUILDERS[spec["kind"]](spec["id"]):
                message.attach(filename, content, mimetype)
        message.send(fail_silently=False)
        email.status = OutboundEmail.Status.SENT
        email.sent_at = now()
        if email.sensitive:
            email.context = {}
        email.save(update_fields=["status", "sent_at", "attempts", "context"])
    log.info("email sent", extra={"template": email.template})
    return True
