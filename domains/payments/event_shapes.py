"""The shape a Stripe event must have before any handler reads it.

A correct signature says who sent a body, not that its fields have the types the handlers read:
a ``data`` that is a list, an ``amount`` of ``"12"`` or ``10**30``, an id of 5,000 characters or
a ``last_payment_error`` that is a string each ended in a 500 (AttributeError, TypeError,
DataError), and Stripe then retried the same body for three days. Stripe never sends those
shapes, so such an event is refused like an unreadable body (400, nothing stored, the reason and
the offending path in the log), and the handlers can trust every field they read.

Only what the handlers read is checked, and nothing more is required than they need: the events
Stripe sends keep their other fields, and the types we do not handle only need an id, a type and
a ``data.object``. Limits follow Stripe's documentation (metadata: 50 keys of up to 40
characters, values of up to 500) and our columns (ids up to 255 characters, amounts in a
PostgreSQL integer, currencies of 3 letters).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from domains.payments.webhooks import InvalidWebhook

UNEXPECTED_SHAPE = "unexpected_shape"

MAX_AMOUNT = 2**31 - 1  # our amount columns are PostgreSQL integers
MAX_LIST_ITEMS = 100  # Stripe embeds at most 100 refunds in a charge's first page
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z: a Unix time a datetime can hold
# Stripe ids are ASCII letters, digits and underscores (pi_3N..., evt_1...); printable ASCII
# without spaces is allowed here so a test or another Stripe-compatible server's ids pass.
_STRIPE_ID = re.compile(r"[\x21-\x7e]{1,255}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")

Check = Callable[[Any, str], None]


class EventShapeError(InvalidWebhook):
    """A field of a verified event is not of the shape its handler reads; ``path`` names it
    (``data.object.amount``) for the log, never its value."""

    def __init__(self, path: str):
        super().__init__(UNEXPECTED_SHAPE)
        self.path = path


def _require(ok: bool, path: str) -> None:
    if not ok:
        raise EventShapeError(path)


def stripe_id(value: Any, path: str) -> None:
    _require(isinstance(value, str) and _STRIPE_ID.fullmatch(value) is not None, path)


def amount(value: Any, path: str) -> None:
    # bool is an int to Python; True is no amount.
    _require(type(value) is int and 0 <= value <= MAX_AMOUNT, path)


def timestamp(value: Any, path: str) -> None:
    """A Unix time in seconds (Stripe's `created`, `due_by`) that converts to a datetime."""
    _require(type(value) is int and 0 <= value <= MAX_TIMESTAMP, path)


def currency(value: Any, path: str) -> None:
    _require(isinstance(value, str) and _CURRENCY.fullmatch(value) is not None, path)


def text(max_length: int) -> Check:
    def check(value: Any, path: str) -> None:
        _require(isinstance(value, str) and len(value) <= max_length, path)

    return check


def metadata(value: Any, path: str) -> None:
    _require(isinstance(value, dict) and len(value) <= 50, path)
    for key, item in value.items():
        _require(len(key) <= 40 and isinstance(item, str) and len(item) <= 500, f"{path}.{key[:40]}")


def expandable_id(value: Any, path: str) -> None:
    """An expandable field: the id, or the object with its id (localstripe expands)."""
    if isinstance(value, dict):
        stripe_id(value.get("id"), f"{path}.id")
    else:
        stripe_id(value, path)


def expanded_id(value: Any) -> str | None:
    """The id an expandable field names (checked by `expandable_id` / `expandable`), whether
    Stripe sent the id or the expanded object; None when the field is absent."""
    return value.get("id") if isinstance(value, dict) else value


def expanded_object(value: Any) -> dict:
    """The object an expandable field holds when Stripe expanded it; {} when it sent only the
    id (or nothing)."""
    return value if isinstance(value, dict) else {}


def expandable(object_shape: Check) -> Check:
    """An expandable field: the id, or the object of `object_shape` (when it is expanded)."""

    def check(value: Any, path: str) -> None:
        if isinstance(value, dict):
            object_shape(value, path)
        else:
            stripe_id(value, path)

    return check


def list_of(item: Check) -> Check:
    def check(value: Any, path: str) -> None:
        _require(isinstance(value, list) and len(value) <= MAX_LIST_ITEMS, path)
        for index, element in enumerate(value):
            item(element, f"{path}.{index}")

    return check


def shape(required: dict[str, Check] | None = None, optional: dict[str, Check] | None = None) -> Check:
    """An object with ``required`` keys and ``optional`` ones (absent or null: Stripe sends null
    for an optional field it has no value for). Other keys are not looked at."""

    def check(value: Any, path: str) -> None:
        _require(isinstance(value, dict), path or "event")
        for key, field in (required or {}).items():
            field(value.get(key), f"{path}.{key}" if path else key)
        for key, field in (optional or {}).items():
            if value.get(key) is not None:
                field(value[key], f"{path}.{key}" if path else key)

    return check


def any_object(value: Any, path: str) -> None:
    _require(isinstance(value, dict), path)


PAYMENT_ERROR = shape(optional={"code": text(255), "decline_code": text(255), "message": text(5000)})

PAYMENT_INTENT = shape(
    required={"id": stripe_id, "status": text(64), "amount": amount, "currency": currency},
    optional={
        "metadata": metadata,
        "client_secret": text(500),
        "latest_charge": expandable_id,
        "last_payment_error": PAYMENT_ERROR,
    },
)

REFUND = shape(
    required={"id": stripe_id, "amount": amount},
    optional={"currency": currency, "metadata": metadata, "reason": text(200)},
)

CHARGE = shape(
    required={"id": stripe_id},
    optional={
        "payment_intent": expandable_id,
        "amount_refunded": amount,
        "currency": currency,
        "metadata": metadata,
        "refunds": shape(optional={"data": list_of(REFUND)}),
    },
)

# A dispute's charge, when expanded: the dispatcher reads its PaymentIntent and metadata to
# find the order when the dispute itself names no PaymentIntent.
DISPUTED_CHARGE = shape(required={"id": stripe_id}, optional={"payment_intent": expandable_id, "metadata": metadata})

DISPUTE = shape(
    required={"id": stripe_id, "status": text(64), "amount": amount, "currency": currency},
    optional={
        "payment_intent": expandable_id,
        "charge": expandable(DISPUTED_CHARGE),
        "reason": text(100),
        "created": timestamp,
        "evidence_details": shape(optional={"due_by": timestamp}),
    },
)

EVENT = shape(required={"id": stripe_id, "type": text(100), "data": shape(required={"object": any_object})})

OBJECT_OF_TYPE: dict[str, Check] = {
    "payment_intent.succeeded": PAYMENT_INTENT,
    "payment_intent.payment_failed": PAYMENT_INTENT,
    "charge.refunded": CHARGE,
    "charge.dispute.created": DISPUTE,
    "charge.dispute.updated": DISPUTE,
    "charge.dispute.closed": DISPUTE,
    "charge.dispute.funds_withdrawn": DISPUTE,
    "charge.dispute.funds_reinstated": DISPUTE,
}


def check_event_shape(event: dict[str, Any]) -> None:
    """Raise EventShapeError unless ``event`` and, for the types we handle, its ``data.object``
    have the shape the handlers read."""
    EVENT(event, "")
    object_shape = OBJECT_OF_TYPE.get(event["type"])
    if object_shape is not None:
        object_shape(event["data"]["object"], "data.object")
