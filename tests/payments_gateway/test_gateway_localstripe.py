"""StripeGateway end to end against a real localstripe, webhooks included."""

import time
import uuid

import pytest

from domains.payments.gateway import (
    IDEMPOTENCY_METADATA_KEY,
    PaymentDeclined,
    PaymentGatewayError,
    idempotency_key,
)
from domains.payments.webhooks import InvalidWebhook, verify_webhook

from .conftest import ORDER_EVENTS, WEBHOOK_SECRET, card_payment_method, event_for

VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"


def new_key(kind="checkout"):
    return idempotency_key(kind, uuid.uuid4())


def create(gateway, **overrides):
    params = dict(
        amount=4500,
        currency="EUR",
        idempotency_key=new_key(),
        metadata={"order_id": str(uuid.uuid4())},
    )
    params.update(overrides)
    return gateway.create_payment_intent(**params)


def test_create_then_confirm_succeeds_and_a_signed_webhook_follows(gateway, webhook_receiver):
    pi = create(gateway, payment_method="pm_card_visa")
    assert pi.status == "requires_confirmation"
    assert pi.id.startswith("pi_") and pi.client_secret.startswith(pi.id + "_secret_")
    assert pi.amount == 4500 and pi.currency == "eur"
    assert pi.metadata["order_id"] and pi.metadata[IDEMPOTENCY_METADATA_KEY]

    confirmed_at = time.time()
    confirmed = gateway.confirm_payment_intent(pi.id)
    assert confirmed.status == "succeeded"
    assert confirmed.latest_charge and confirmed.latest_charge.startswith("ch_")
    assert gateway.retrieve_payment_intent(pi.id).status == "succeeded"

    delivery = webhook_receiver.wait_for(event_for("/orders", "payment_intent.succeeded", pi.id))
    # localstripe waits about one second before sending.
    assert 0.5 < delivery.received_at - confirmed_at < 10
    event = verify_webhook(delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["status"] == "succeeded"
    assert event["data"]["object"]["metadata"] == pi.metadata
    # Signed with the event's creation second, i.e. already about a second old on arrival.
    assert delivery.headers["Stripe-Signature"].startswith(f"t={event['created']},v1=")


def test_confirm_true_with_a_created_card_payment_method(gateway, webhook_receiver):
    pm = card_payment_method(gateway, VISA)
    pi = create(gateway, payment_method=pm, confirm=True)
    assert pi.status == "succeeded"
    delivery = webhook_receiver.wait_for(event_for("/orders", "payment_intent.succeeded", pi.id))
    verify_webhook(delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET)
    with pytest.raises(InvalidWebhook):
        verify_webhook(delivery.body, delivery.headers["Stripe-Signature"], "whsec_wrong")


def test_declined_card_raises_payment_declined_and_payment_failed_follows(gateway, webhook_receiver):
    pm = card_payment_method(gateway, DECLINED_ON_CHARGE)
    pi = create(gateway, payment_method=pm)
    with pytest.raises(PaymentDeclined) as info:
        gateway.confirm_payment_intent(pi.id)
    declined = info.value
    assert declined.code == "card_declined"
    assert declined.message == "Your card was declined."
    assert declined.payment_intent_id == pi.id
    assert declined.charge_id and declined.charge_id.startswith("ch_")
    assert not declined.retryable

    assert gateway.retrieve_payment_intent(pi.id).status == "requires_payment_method"
    delivery = webhook_receiver.wait_for(event_for("/orders", "payment_intent.payment_failed", pi.id))
    event = verify_webhook(delivery.body, delivery.headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert event["data"]["object"]["last_payment_error"]["code"] == "card_declined"


def test_declined_with_confirm_true_still_creates_the_payment_intent(gateway):
    key = new_key()
    with pytest.raises(PaymentDeclined) as info:
        create(gateway, idempotency_key=key, payment_method="pm_card_chargeCustomerFail", confirm=True)
    # localstripe's 402 names the charge but not the PaymentIntent (real Stripe names both):
    # the reason to create first, store the id, then confirm.
    assert info.value.payment_intent_id is None
    found = gateway.find_payment_intent(idempotency_key=key)
    assert found is not None and found.status == "requires_payment_method"


def test_card_0002_is_not_declined_by_localstripe_when_charged(gateway):
    # Real Stripe declines 4000000000000002; localstripe only declines it when attached to a
    # customer. Tests of the decline path must use 4000000000000341.
    pi = create(gateway, payment_method="pm_card_visa_chargeDeclined", confirm=True)
    assert pi.status == "succeeded"


def test_confirm_twice_returns_the_confirmed_state(gateway):
    pi = create(gateway, payment_method="pm_card_visa")
    first = gateway.confirm_payment_intent(pi.id)
    second = gateway.confirm_payment_intent(pi.id)
    assert first.status == second.status == "succeeded"
    assert first.latest_charge == second.latest_charge


def test_confirm_without_payment_method_is_a_gateway_error(gateway):
    pi = create(gateway)
    assert pi.status == "requires_payment_method"
    with pytest.raises(PaymentGatewayError) as info:
        gateway.confirm_payment_intent(pi.id)
    assert not info.value.retryable and info.value.http_status == 400


def test_cancel_is_idempotent(gateway):
    pi = create(gateway, payment_method="pm_card_visa")
    assert gateway.cancel_payment_intent(pi.id).status == "canceled"
    assert gateway.cancel_payment_intent(pi.id).status == "canceled"


def test_cancel_after_success_is_refused(gateway):
    pi = create(gateway, payment_method="pm_card_visa", confirm=True)
    with pytest.raises(PaymentGatewayError):
        gateway.cancel_payment_intent(pi.id)


def test_unknown_payment_intent(gateway):
    with pytest.raises(PaymentGatewayError) as info:
        gateway.retrieve_payment_intent("pi_doesnotexist")
    assert info.value.http_status == 404 and not info.value.retryable


def test_full_and_partial_refunds(gateway, webhook_receiver):
    pi = create(gateway, payment_method="pm_card_visa", confirm=True)
    partial = gateway.create_refund(
        payment_intent=pi.id,
        amount=1000,
        idempotency_key=new_key("refund"),
        metadata={"ticket_id": "t1"},
    )
    assert (partial.status, partial.amount, partial.currency) == ("succeeded", 1000, "eur")
    assert partial.payment_intent == pi.id
    assert partial.charge == gateway.retrieve_payment_intent(pi.id).latest_charge
    assert partial.metadata["ticket_id"] == "t1"

    rest = gateway.create_refund(payment_intent=pi.id, amount=None, idempotency_key=new_key("refund"))
    # localstripe refunds the full charge amount when amount is omitted, even after a partial.
    assert rest.status == "succeeded" and rest.amount == 4500

    # localstripe sends no charge.refunded event (the orders tests sign their own).
    time.sleep(2.5)
    assert not webhook_receiver.matching(lambda d: d.event.get("type", "").startswith("charge.refund"))


def test_refund_of_a_declined_payment_is_refused(gateway):
    pi = create(gateway, payment_method="pm_card_chargeCustomerFail")
    with pytest.raises(PaymentDeclined):
        gateway.confirm_payment_intent(pi.id)
    with pytest.raises(PaymentGatewayError) as info:
        gateway.create_refund(payment_intent=pi.id, amount=None, idempotency_key=new_key("refund"))
    assert info.value.http_status == 400


# ------------------------------------------------------------------- idempotency keys


def test_localstripe_ignores_the_idempotency_key_header(gateway):
    """Documented localstripe behaviour: the same key twice makes TWO PaymentIntents."""
    key = new_key()
    first = create(gateway, idempotency_key=key)
    second = create(gateway, idempotency_key=key)
    assert first.id != second.id


def test_emulated_idempotency_returns_the_same_payment_intent(emulating_gateway):
    key = new_key()
    first = create(emulating_gateway, idempotency_key=key)
    # e.g. the first answer was lost to a timeout and the checkout retries.
    second = create(emulating_gateway, idempotency_key=key)
    assert second == first
    assert emulating_gateway.find_payment_intent(idempotency_key=key) == first


def test_emulated_idempotency_replays_a_decline(emulating_gateway):
    key = new_key()
    pm = "pm_card_chargeCustomerFail"
    with pytest.raises(PaymentDeclined) as first:
        create(emulating_gateway, idempotency_key=key, payment_method=pm, confirm=True)
    with pytest.raises(PaymentDeclined) as second:
        create(emulating_gateway, idempotency_key=key, payment_method=pm, confirm=True)
    found = emulating_gateway.find_payment_intent(idempotency_key=key)
    assert first.value.payment_intent_id is None  # localstripe's 402 does not name it
    assert second.value.payment_intent_id == found.id  # the replay does
    assert second.value.code == "card_declined"
    same_key = [
        pi
        for pi in emulating_gateway.client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get(IDEMPOTENCY_METADATA_KEY) == key
    ]
    assert len(same_key) == 1


def test_emulated_idempotency_refuses_other_parameters(emulating_gateway):
    key = new_key()
    create(emulating_gateway, idempotency_key=key)
    with pytest.raises(PaymentGatewayError) as info:
        create(emulating_gateway, idempotency_key=key, amount=9999)
    assert info.value.code == "idempotency_error"


def test_emulated_idempotency_returns_the_same_refund(emulating_gateway):
    pi = create(emulating_gateway, payment_method="pm_card_visa", confirm=True)
    key = new_key("refund")
    first = emulating_gateway.create_refund(payment_intent=pi.id, amount=500, idempotency_key=key)
    second = emulating_gateway.create_refund(payment_intent=pi.id, amount=500, idempotency_key=key)
    assert first == second


def test_find_payment_intent_unknown_key(gateway):
    assert gateway.find_payment_intent(idempotency_key=new_key()) is None


def test_find_payment_intent_pages_through_the_list(gateway):
    # More than one page (100) of PaymentIntents before the one we look for.
    for _ in range(105):
        create(gateway)
    key = new_key()
    target = create(gateway, idempotency_key=key)
    assert gateway.find_payment_intent(idempotency_key=key) == target


# ------------------------------------------------------------------- argument rules


@pytest.mark.parametrize("amount", [0, -1, 10.5, True, "100"])
def test_amount_must_be_positive_minor_units(gateway, amount):
    with pytest.raises(ValueError):
        create(gateway, amount=amount)


@pytest.mark.parametrize("currency", ["eu", "euro", "12€", ""])
def test_currency_must_be_an_iso_code(gateway, currency):
    with pytest.raises(ValueError):
        create(gateway, currency=currency)


def test_idempotency_metadata_key_is_reserved(gateway):
    with pytest.raises(ValueError):
        create(gateway, metadata={IDEMPOTENCY_METADATA_KEY: "something else"})


def test_idempotency_key_length_is_enforced(gateway):
    with pytest.raises(ValueError):
        create(gateway, idempotency_key="k" * 256)


def test_filtered_endpoint_only_receives_subscribed_events(gateway, webhook_receiver):
    pi = create(gateway, payment_method="pm_card_visa", confirm=True)
    webhook_receiver.wait_for(event_for("/all", "payment_intent.succeeded", pi.id))
    webhook_receiver.wait_for(event_for("/orders", "payment_intent.succeeded", pi.id))
    orders_types = {d.event["type"] for d in webhook_receiver.matching(lambda d: d.path == "/orders")}
    assert orders_types <= set(ORDER_EVENTS)


def test_3ds_card_stops_in_requires_action(gateway):
    pm = card_payment_method(gateway, "4000002500003155")
    pi = create(gateway, payment_method=pm, confirm=True)
    assert pi.status == "requires_action"
