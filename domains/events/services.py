"""Writes about festival configuration that the public can trigger."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from domains.accounts.services.validation import check_email, check_text
from domains.common import ratelimit
from domains.common.errors import CommonErrorCode, DomainError
from domains.events.models import ContactMessage, Festival
from domains.events.selectors import organiser_email
from domains.notifications.services import email_enqueue


def contact_form_submit(
    *, festival: Festival | None, name: str, email: str, subject: str, message: str, client_ip: str
) -> ContactMessage:
    """Store a contact message and email it to the organisers.

    Rate limited per client address (CONTACT_FORM_PER_HOUR); every field is required and
    bounded so the form cannot be used to store or relay large payloads.
    """
    name, email, subject, message = (v.strip() for v in (name, email, subject, message))
    for value, field, limit in ((name, "name", 150), (subject, "subject", 200), (message, "message", 5000)):
        if not value:
            raise DomainError(CommonErrorCode.INVALID_INPUT, "This field is required.", field)
        check_text(value, field=field, max_length=limit)
    check_email(email)
    ratelimit.enforce(f"contact:{client_ip}", limit=settings.CONTACT_FORM_PER_HOUR, window=3600)
    with transaction.atomic():
        contact = ContactMessage.objects.create(
            festival=festival, name=name, email=email, subject=subject, message=message
        )
        email_enqueue(
            key=f"contact:{contact.public_id}",
            to_email=organiser_email(festival),
            template="contact_message",
            context={"contact_id": str(contact.public_id), "name": name, "email": email, "subject": subject, "message": message},
        )
    return contact
