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


def _selects(info: Info, name: str) -> bool:
    """Whether the operation selects `name` on this field's payload (fragments included)."""
    from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

    def walk(selections) -> bool:
        for s in selections:
            if isinstance(s, SelectedField) and s.name == name:
                return True
            if isinstance(s, (FragmentSpread, InlineFragment)) and walk(s.selections):
                return True
        return False

    return any(walk(field.selections) for field in info.selected_fields)


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
            # The full order costs 7 queries: only when the client asked for it (the rush's
            # checkout page asks for the client secret alone).
            order=_order(user, result.order) if _selects(info, "order") else None,
            client_secret=result.client_secret, payment_intent_id=result.payment_intent_id,
        )

    @strawberry_django.mutation(
        extensions=authenticated(), description="Ask Stripe how the payment stands and issue the tickets when it succeeded."
    )
    @payload_errors(ConfirmCheckoutPayload)
    def confirm_checkout(self, info: Info, order_id: uuid.UUID) -> ConfirmCheckoutPayload:
        user = require_viewer(info).user
        result = services.checkout_confirm(buyer=user, order_public_id=order_id)
        return ConfirmCheckoutPayload(order=_order(user, result.order), payment_status=result.payment_status)
