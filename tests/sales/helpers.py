from __future__ import annotations

from domains.orders import services
from domains.orders.models import Order


def checkout(user, ticket_type, quantity=1) -> Order:
    result = services.checkout_create(buyer=user, lines=[services.CheckoutLine(ticket_type.public_id, quantity)])
    return result.order
