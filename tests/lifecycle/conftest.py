"""Lifecycle fixtures. The festival, ticket types, fake gateway, localstripe and webhook
helpers are the sales area's (tests/sales/conftest.py), imported so both suites use one setup."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest

from domains.payments.gateway import PaymentGatewayError, RefundInfo
from tests.sales.conftest import (  # noqa: F401  (fixtures)
    FakeGateway,
    event_body,
    festival,
    localstripe,
    localstripe_server,
    make_type,
    pi_object,
    post_webhook,
    wait_until,
    webhook_secret,
)


class LifecycleGateway(FakeGateway):
    """The sales fake plus refunds (one per idempotency key, like Stripe)."""

    def __init__(self):
        super().__init__()
        self.refunds: dict[str, RefundInfo] = {}
        self.refund_calls = 0
        self.refund_lock = threading.Lock()

    def create_refund(self, *, payment_intent, amount, idempotency_key, metadata=None):
        with self.refund_lock:
            self.refund_calls += 1
            if idempotency_key in self.refunds:
                if self.refunds[idempotency_key].amount != amount:  # as Stripe: a key is one request
                    raise PaymentGatewayError("idempotency_error", "idempotency key reused with different parameters")
                return self.refunds[idempotency_key]
            info = RefundInfo(
                id=f"re_fake_{uuid.uuid4().hex[:16]}",
                status="succeeded",
                amount=amount,
                currency=self.intents[payment_intent].currency,
                payment_intent=payment_intent,
                charge="ch_fake",
                metadata={**{k: str(v) for k, v in (metadata or {}).items()}, "idempotency_key": idempotency_key},
            )
            self.refunds[idempotency_key] = info
            return info

    def succeed(self, pi_id):
        self.intents[pi_id] = replace(self.intents[pi_id], status="succeeded", latest_charge="ch_fake")
        return self.intents[pi_id]


@pytest.fixture
def gateway(monkeypatch):
    gw = LifecycleGateway()
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gw)
    return gw


@pytest.fixture
def paid_order(gateway):
    """A paid order of `quantity` tickets of `ticket_type` for `user` (checkout + fulfilment)."""
    from domains.orders import services

    def make(user, ticket_type, quantity=1):
        result = services.checkout_create(buyer=user, lines=[services.CheckoutLine(ticket_type.public_id, quantity)])
        info = gateway.succeed(result.order.payment_intent_id)
        services.order_fulfil(order_id=result.order.pk, payment=info, source="test")
        result.order.refresh_from_db()
        return result.order

    return make


@pytest.fixture
def gate(festival):  # noqa: F811 - pytest passes the `festival` fixture imported above
    from domains.scanning.services import gate_create

    return gate_create(festival=festival, name="Main")


@pytest.fixture
def verdict_of(gate):
    """The scanner's answer to a QR payload now (scanValidate's domain function)."""
    from domains.scanning.services import scan_validate

    def verdict(code: str) -> str:
        return str(scan_validate(code=code, gate=gate).verdict)

    return verdict


def admit(ticket, gate):
    """Scan a ticket in (commit at the gate)."""
    from domains.scanning.services import scan_commit
    from domains.tickets.qr import qr_encode

    ticket.refresh_from_db()
    return scan_commit(code=qr_encode(ticket), gate=gate, device=None, staff_user=None, throttled=False)
