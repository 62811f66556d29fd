from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.orders import selectors, services
from schema.context import require_viewer
from schema.errors import payload_errors
from schema.orders.types import CheckoutLineInput, ConfirmCheckoutPayload, CreateCheckoutPayload, OrderGql
from schema.permissions import authenticated
from schema.ratelimits import rate_limited, viewer_account


def _order(user, order) -> OrderGql:
    return OrderGql.from_model(selectors.order_get_for_buyer(user, order.public_id))


@strawberry.type
class OrderMutation:
    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Hold the tickets (15 minutes by default), create the order and its Stripe PaymentIntent; "
        "pay with the returned client secret, then call confirmCheckout.",
    )
    @payload_errors(CreateCheckoutPayload)
    @rate_limited("checkout", account=viewer_account)
    def create_checkout(self, info: Info, lines: list[CheckoutLineInput]) -> CreateCheckoutPayload:
        user = require_viewer(info).user
        result = services.checkout_create(
            buyer=user, lines=[services.CheckoutLine(ticket_type_id=x.ticket_type_id, quantity=x.quantity) for x in lines]
        )
        return CreateCheckoutPayload(
            order=_order(user, result.order), client_secret=result.client_secret, payment_intent_id=result.payment_intent_id
        )

    @strawberry_django.mutation(
        extensions=authenticated(), description="Ask Stripe how the payment stands and issue the tickets when it succeeded."
    )
    @payload_errors(ConfirmCheckoutPayload)
    def confirm_checkout(self, info: Info, order_id: uuid.UUID) -> ConfirmCheckoutPayload:
        user = require_viewer(info).user
        result = services.checkout_confirm(buyer=user, order_public_id=order_id)
        return ConfirmCheckoutPayload(order=_order(user, result.order), payment_status=result.payment_status)
