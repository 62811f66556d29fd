"""Error mapping: which failures are retryable, and that neither we nor the SDK retry silently."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domains.payments.gateway import (
    PaymentDeclined,
    PaymentGatewayError,
    PaymentGatewayUnavailable,
    StripeGateway,
)
from domains.payments.localstripe_server import free_port

from .conftest import SECRET_KEY


class StubStripe:
    """Answers every request with one configured status and error body; counts requests."""

    def __init__(self):
        self.status = 500
        self.error = {"type": "api_error", "message": "boom"}
        self.headers = {}
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                stub.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"error": stub.error}).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in stub.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = StubStripe()
    yield server
    server.close()


def call(gateway):
    return gateway.create_payment_intent(amount=100, currency="eur", idempotency_key="k1", metadata={})


@pytest.mark.parametrize("status", [500, 502, 503, 409, 429])
def test_retryable_statuses_become_unavailable_and_are_sent_once(stub, status):
    stub.status = status
    gateway = StripeGateway(SECRET_KEY, api_base=stub.api_base, timeout=2)
    with pytest.raises(PaymentGatewayUnavailable) as info:
        call(gateway)
    assert info.value.retryable and info.value.http_status == status
    assert stub.requests == 1  # max_network_retries=0: the SDK did not retry


@pytest.mark.parametrize(
    "status,error,code",
    [
        (400, {"type": "invalid_request_error", "code": "parameter_missing", "message": "x"}, "parameter_missing"),
        (400, {"type": "idempotency_error", "message": "key reused"}, "idempotency_error"),
        (401, {"type": "invalid_request_error", "message": "bad key"}, "AuthenticationError"),
        (403, {"type": "invalid_request_error", "message": "no"}, "PermissionError"),
        (404, {"type": "invalid_request_error", "code": "resource_missing", "message": "x"}, "resource_missing"),
    ],
)
def test_other_client_errors_are_not_retryable(stub, status, error, code):
    stub.status, stub.error = status, error
    gateway = StripeGateway(SECRET_KEY, api_base=stub.api_base, timeout=2)
    with pytest.raises(PaymentGatewayError) as info:
        call(gateway)
    assert type(info.value) is PaymentGatewayError
    assert not info.value.retryable
    assert info.value.code == code and info.value.http_status == status


def test_stripe_should_retry_header_wins(stub):
    stub.status, stub.headers = 500, {"Stripe-Should-Retry": "false"}
    gateway = StripeGateway(SECRET_KEY, api_base=stub.api_base, timeout=2)
    with pytest.raises(PaymentGatewayError) as info:
        call(gateway)
    assert not info.value.retryable


def test_card_error_carries_stripe_details(stub):
    stub.status = 402
    stub.error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "charge": "ch_1",
        "payment_intent": {"id": "pi_1", "object": "payment_intent"},
    }
    gateway = StripeGateway(SECRET_KEY, api_base=stub.api_base, timeout=2)
    with pytest.raises(PaymentDeclined) as info:
        call(gateway)
    declined = info.value
    assert (declined.code, declined.decline_code) == ("card_declined", "insufficient_funds")
    assert (declined.payment_intent_id, declined.charge_id) == ("pi_1", "ch_1")
    assert declined.message == "Your card has insufficient funds."


def test_connection_refused_is_unavailable_quickly():
    gateway = StripeGateway(SECRET_KEY, api_base=f"http://127.0.0.1:{free_port()}", timeout=2)
    started = time.monotonic()
    with pytest.raises(PaymentGatewayUnavailable) as info:
        call(gateway)
    assert time.monotonic() - started < 2
    assert info.value.retryable and info.value.http_status is None


def test_a_server_that_never_answers_times_out_within_the_bound():
    # The kernel completes the TCP handshake from the backlog; nobody ever reads or answers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        gateway = StripeGateway(SECRET_KEY, api_base=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(PaymentGatewayUnavailable):
            gateway.retrieve_payment_intent("pi_x")
        assert time.monotonic() - started < 3


def test_gateway_does_not_touch_stripe_globals(stub):
    import stripe

    before = (stripe.api_key, stripe.api_base, stripe.max_network_retries)
    StripeGateway(SECRET_KEY, api_base=stub.api_base, timeout=2)
    assert (stripe.api_key, stripe.api_base, stripe.max_network_retries) == before


@pytest.mark.parametrize("kwargs", [{"secret_key": ""}, {"timeout": 0}])
def test_constructor_validates(kwargs):
    params = {"secret_key": SECRET_KEY, "timeout": 1, **kwargs}
    with pytest.raises(ValueError):
        StripeGateway(params.pop("secret_key"), **params)


def test_from_settings_reads_django_settings_lazily(monkeypatch):
    import sys
    import types

    fake_conf = types.ModuleType("django.conf")
    fake_conf.settings = types.SimpleNamespace(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_API_BASE="http://127.0.0.1:1")
    monkeypatch.setitem(sys.modules, "django.conf", fake_conf)
    gateway = StripeGateway.from_settings()
    assert gateway.api_base == "http://127.0.0.1:1"
    assert gateway.emulate_idempotency is True  # localstripe ignores Idempotency-Key
    assert gateway.timeout == 10.0

    fake_conf.settings = types.SimpleNamespace(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_TIMEOUT_SECONDS=3)
    real = StripeGateway.from_settings()
    assert (real.api_base, real.emulate_idempotency, real.timeout) == (None, False, 3.0)


def test_the_proxy_variables_are_honoured_as_read_at_start(stub, monkeypatch):
    """The session reads HTTP(S)_PROXY / NO_PROXY once, when the gateway is built (not per
    request): a deployment that reaches Stripe through a proxy still does."""
    stub.status = 500
    api_base = "http://stripe.invalid:4242"  # resolvable only by the proxy
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", stub.api_base)
    through_proxy = StripeGateway(SECRET_KEY, api_base=api_base, timeout=2)
    monkeypatch.setenv("NO_PROXY", "stripe.invalid")
    bypassing = StripeGateway(SECRET_KEY, api_base=api_base, timeout=2)
    monkeypatch.delenv("HTTP_PROXY")  # later changes are not read per request
    monkeypatch.delenv("NO_PROXY")

    with pytest.raises(PaymentGatewayUnavailable) as info:
        call(through_proxy)
    assert info.value.http_status == 500 and stub.requests == 1  # the proxy (our stub) answered
    with pytest.raises(PaymentGatewayUnavailable) as info:
        call(bypassing)
    assert info.value.http_status is None and stub.requests == 1  # straight to an unknown host
