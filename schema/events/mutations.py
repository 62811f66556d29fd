from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.events import selectors, services
from schema.context import client_ip
from schema.errors import payload_errors
from schema.events.types import ContactFormInput, ContactFormPayload
from schema.permissions import public
from schema.ratelimits import email_argument, rate_limited


@strawberry.type
class EventMutation:
    @strawberry_django.mutation(extensions=public(), description="Send a message to the organisers (rate limited).")
    @payload_errors(ContactFormPayload)
    @rate_limited("contact", account=email_argument())
    def submit_contact_form(self, info: Info, input: ContactFormInput) -> ContactFormPayload:
        services.contact_form_submit(
            festival=selectors.festival_get(),
            name=input.name,
            email=input.email,
            subject=input.subject,
            message=input.message,
            client_ip=client_ip(info),
        )
        return ContactFormPayload(ok=True)
