"""LocalStripe: start, configure, reset and stop a real localstripe subprocess."""

import socket
import uuid

import pytest

from domains.payments.gateway import PaymentGatewayError, StripeGateway, idempotency_key
from domains.payments.localstripe_server import LocalStripe, LocalStripeError, free_port

from .conftest import SECRET_KEY, WEBHOOK_SECRET, event_for


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_reset_forgets_objects_but_keeps_webhooks(webhook_receiver):
    with LocalStripe() as server:
        server.register_webhook(
            "reset-test",
            webhook_receiver.url("/reset-test"),
            WEBHOOK_SECRET,
            ["payment_intent.succeeded"],
        )
        gateway = StripeGateway(SECRET_KEY, api_base=server.api_base, timeout=5)
        before = gateway.create_payment_intent(
            amount=100,
            currency="eur",
            idempotency_key=idempotency_key("t", uuid.uuid4()),
            metadata={},
        )
        server.reset()
        with pytest.raises(PaymentGatewayError) as info:
            gateway.retrieve_payment_intent(before.id)
        assert info.value.http_status == 404

        after = gateway.create_payment_intent(
            amount=100,
            currency="eur",
            idempotency_key=idempotency_key("t", uuid.uuid4()),
            metadata={},
            payment_method="pm_card_visa",
            confirm=True,
        )
        webhook_receiver.wait_for(event_for("/reset-test", "payment_intent.succeeded", after.id))
        # Only the subscribed event type reached the filtered endpoint.
        types = {d.event["type"] for d in webhook_receiver.matching(lambda d: d.path == "/reset-test")}
        assert types == {"payment_intent.succeeded"}
    assert server.process is None


def test_register_webhook_refuses_a_bad_url():
    with LocalStripe() as server:
        with pytest.raises(LocalStripeError, match="400"):
            server.register_webhook("bad", "ftp://example.invalid/", WEBHOOK_SECRET)


def test_start_failure_reports_localstripe_output():
    # Occupy a port on the wildcard address so localstripe's bind fails.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::", 0))
        sock.listen(1)
        server = LocalStripe(port=sock.getsockname()[1], startup_timeout=10)
        with pytest.raises(LocalStripeError, match="exited with code") as info:
            server.start()
        assert "Address already in use" in str(info.value)
        assert server.process is None


def test_missing_executable_is_a_clear_error(tmp_path):
    with pytest.raises(LocalStripeError, match="not found"):
        LocalStripe(executable=tmp_path / "nope").start()


def test_stop_is_idempotent_and_api_base_needs_a_started_server():
    server = LocalStripe().start()
    assert server.api_base.startswith("http://127.0.0.1:")
    server.stop()
    server.stop()
    fresh = LocalStripe()
    with pytest.raises(LocalStripeError):
        _ = fresh.api_base
