"""Fixtures: one real localstripe per session, and a local HTTP server receiving its webhooks.

Runs without Django: ``python -m pytest tests/payments_gateway -p no:django -q``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so `domains.payments` imports however pytest is invoked
    sys.path.insert(0, str(ROOT))

from domains.payments.gateway import StripeGateway  # noqa: E402
from domains.payments.localstripe_server import LocalStripe  # noqa: E402

SECRET_KEY = "sk_test_festival_gateway_tests"
WEBHOOK_SECRET = "whsec_festival_gateway_tests"
ORDER_EVENTS = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
]


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    """http.server on 127.0.0.1 recording every POST; tests wait for the one they expect."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                delivery = Delivery(self.path, dict(self.headers.items()), body, time.time())
                with receiver._changed:
                    receiver.deliveries.append(delivery)
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # keep test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for delivery in self.deliveries:
                    if predicate(delivery):
                        return delivery
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching webhook within {timeout}s")
                self._changed.wait(remaining)

    def matching(self, predicate: Callable[[Delivery], bool]) -> list[Delivery]:
        with self._changed:
            return [d for d in self.deliveries if predicate(d)]


def event_for(path: str, event_type: str, object_id: str) -> Callable[[Delivery], bool]:
    def predicate(delivery: Delivery) -> bool:
        if delivery.path != path:
            return False
        event = delivery.event
        return event.get("type") == event_type and event["data"]["object"].get("id") == object_id

    return predicate


@pytest.fixture(scope="session")
def webhook_receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def localstripe(webhook_receiver):
    with LocalStripe() as server:
        # "orders" is what the app registers (only the events it handles); "all" shows what
        # else localstripe sends.
        server.register_webhook("orders", webhook_receiver.url("/orders"), WEBHOOK_SECRET, ORDER_EVENTS)
        server.register_webhook("all", webhook_receiver.url("/all"), WEBHOOK_SECRET, None)
        yield server


@pytest.fixture
def gateway(localstripe) -> StripeGateway:
    return StripeGateway(SECRET_KEY, api_base=localstripe.api_base, timeout=5)


@pytest.fixture
def emulating_gateway(localstripe) -> StripeGateway:
    return StripeGateway(SECRET_KEY, api_base=localstripe.api_base, timeout=5, emulate_idempotency=True)


def card_payment_method(gateway: StripeGateway, number: str) -> str:
    """A PaymentMethod for a test card number (localstripe accepts raw numbers)."""
    pm = gateway.client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    return pm.id
