"""Sales fixtures: a festival with ticket types, a fake gateway for inventory tests, a real
localstripe (session) sending signed webhooks to a live test server, and helpers."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest

from domains.payments.gateway import PaymentGatewayUnavailable, PaymentIntentInfo
from domains.payments.webhooks import sign_webhook_payload

WEBHOOK_SECRET = "whsec_sales_tests"
ORDER_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"]

CREATE = """
mutation($lines: [CheckoutLineInput!]!) {
  createCheckout(lines: $lines) {
    clientSecret paymentIntentId
    order { id number status expiresAt total { amount currency } }
    errors { code message field }
  }
}"""

CONFIRM = """
mutation($id: UUID!) {
  confirmCheckout(orderId: $id) {
    paymentStatus
    order { id status tickets { id status } }
    errors { code message field }
  }
}"""


@pytest.fixture
def festival(db):
    from domains.events.models import Festival

    return Festival.objects.create(
        slug="testfest",
        name="Test Fest",
        starts_on=dt.date(2030, 7, 1),
        ends_on=dt.date(2030, 7, 3),
        venue_name="The Field",
        status=Festival.Status.ON_SALE,
        currency="EUR",
        is_current=True,
    )


@pytest.fixture
def make_type(festival):
    from domains.tickets.models import TicketType

    counter = {"n": 0}

    def make(**kw):
        counter["n"] += 1
        defaults = dict(
            festival=festival,
            name=f"Type {counter['n']}",
            tier_rank=10,
            price_amount=5000,
            currency="EUR",
            capacity=100,
            per_order_limit=10,
        )
        defaults.update(kw)
        return TicketType.objects.create(**defaults)

    return make


class FakeGateway:
    """In-memory Stripe for inventory and idempotency tests: one PaymentIntent per key."""

    def __init__(self):
        self.intents: dict[str, PaymentIntentInfo] = {}
        self.by_key: dict[str, str] = {}
        self.lock = threading.Lock()
        self.fail_creates = 0
        self.create_calls = 0

    def create_payment_intent(self, *, amount, currency, idempotency_key, metadata, payment_method=None, confirm=False):
        with self.lock:
            self.create_calls += 1
            if self.fail_creates:
                self.fail_creates -= 1
                # Applied at "Stripe", answer lost: the retry must find the same one.
                self._create(amount, currency, idempotency_key, metadata)
                raise PaymentGatewayUnavailable("gateway_unavailable", "timeout")
            return self._create(amount, currency, idempotency_key, metadata)

    def _create(self, amount, currency, key, metadata):
        if key in self.by_key:
            return self.intents[self.by_key[key]]
        pi_id = f"pi_fake_{uuid.uuid4().hex[:16]}"
        info = PaymentIntentInfo(
            id=pi_id,
            status="requires_payment_method",
            amount=amount,
            currency=currency.lower(),
            client_secret=f"{pi_id}_secret_x",
            metadata={**{k: str(v) for k, v in metadata.items()}, "idempotency_key": key},
        )
        self.intents[pi_id] = info
        self.by_key[key] = pi_id
        return info

    def retrieve_payment_intent(self, pi_id):
        return self.intents[pi_id]

    def set_status(self, pi_id, status):
        from dataclasses import replace

        self.intents[pi_id] = replace(self.intents[pi_id], status=status, latest_charge="ch_fake" if status == "succeeded" else None)
        return self.intents[pi_id]


@pytest.fixture
def fake_gateway(monkeypatch):
    gw = FakeGateway()
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gw)
    return gw


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


def event_body(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def pi_object(info: PaymentIntentInfo, status: str | None = None, amount: int | None = None, **extra) -> dict:
    return {
        "id": info.id,
        "object": "payment_intent",
        "status": status or info.status,
        "amount": info.amount if amount is None else amount,
        "currency": info.currency,
        "metadata": info.metadata,
        "latest_charge": "ch_fake",
        **extra,
    }


def post_webhook(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, header: str | None = None):
    """POST a (signed) event to the webhook through the ASGI app; returns the httpx response."""
    from tests.support.graphql import GraphQLClient

    ts = int(time.time()) if timestamp is None else timestamp
    sig = header if header is not None else sign_webhook_payload(body, secret, ts)
    headers = {"Stripe-Signature": sig} if sig else {}
    return GraphQLClient().post_raw(body, path="/api/payments/webhook/stripe/", headers=headers)


# --------------------------------------------------------------------------- localstripe


@pytest.fixture(scope="session")
def localstripe_server():
    from domains.payments.localstripe_server import LocalStripe

    with LocalStripe() as server:
        yield server


@pytest.fixture
def localstripe(localstripe_server, live_server, settings):
    """Point the app at localstripe and register our webhook on the live test server."""
    settings.STRIPE_API_BASE = localstripe_server.api_base
    settings.STRIPE_SECRET_KEY = "sk_test_sales"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    localstripe_server.register_webhook(
        "sales-tests", f"{live_server.url}/api/payments/webhook/stripe/", WEBHOOK_SECRET, ORDER_EVENTS
    )
    from domains.orders.gateway import _gateway

    _gateway.cache_clear()
    yield localstripe_server
    _gateway.cache_clear()


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
