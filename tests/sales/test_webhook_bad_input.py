"""The Stripe webhook under hostile input: an absurd signature timestamp, a body nested too deep
to parse, or text PostgreSQL cannot store is a 400 like any other refused webhook, never a 500,
and nothing is stored."""

from __future__ import annotations

import json
import time

import pytest

from domains.orders.models import WebhookEvent
from domains.payments import webhooks
from domains.payments.webhooks import InvalidWebhook, sign_webhook_payload, verify_webhook

from .conftest import WEBHOOK_SECRET, post_webhook

BODY = b'{"id": "evt_x", "type": "payment_intent.succeeded", "data": {"object": {}}}'


def refused(response) -> None:
    assert response.status_code == 400
    assert response.json() == {"error": "invalid webhook"}
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "timestamp",
    [
        "9" * 5000,  # past int()'s 4300-digit limit: used to raise ValueError (a 500)
        "9" * 4300,
        "1" * 40,
        "0" * 5000 + "1",  # all those digits, yet a small number: still not a timestamp Stripe sends
        "\u0661\u0667" + "\u0660" * 8,  # Arabic-Indic digits: str.isdigit() says yes
    ],
    ids=["5000-nines", "4300-nines", "40-digits", "leading-zeros", "non-ascii-digits"],
)
def test_absurd_timestamp_is_an_invalid_signature(webhook_secret, timestamp):
    # As UTF-8 bytes: httpx only encodes str header values as ASCII.
    refused(post_webhook(BODY, header=f"t={timestamp},v1=x".encode()))


@pytest.mark.parametrize("timestamp", ["9" * 5000, "1" * 13, "0" * 5000 + "1", "\u00b2", "\u0661" * 10, ""])
def test_absurd_timestamp_reason_is_a_malformed_header(timestamp):
    with pytest.raises(InvalidWebhook) as info:
        verify_webhook(BODY, f"t={timestamp},v1=x", WEBHOOK_SECRET)
    assert info.value.reason == webhooks.MALFORMED_SIGNATURE_HEADER


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [1000, 20_000])  # 20_000: still under the 256 KiB body limit
def test_correctly_signed_body_nested_too_deep_is_refused(webhook_secret, depth):
    body = b"[" * depth + b"]" * depth
    refused(post_webhook(body))  # signed with the endpoint's secret at the current time

    nested_object = b'{"a":' * depth + b"1" + b"}" * depth
    refused(post_webhook(nested_object))


def test_deep_body_reason_is_an_invalid_payload():
    body = b"[" * 1000 + b"]" * 1000
    now = int(time.time())
    with pytest.raises(InvalidWebhook) as info:
        verify_webhook(body, sign_webhook_payload(body, WEBHOOK_SECRET, now), WEBHOOK_SECRET, now=now)
    assert info.value.reason == webhooks.INVALID_PAYLOAD


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event",
    [
        {"id": "evt_\u0000", "type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": "evt_1", "type": "charge.refunded", "data": {"object": {"metadata": {"note": "a\u0000b"}}}},
        {"id": "evt_\ud800", "type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": "evt_1", "type": "charge.refunded", "data": {"object": {"\udfff": 1}}},
    ],
    ids=["nul-in-id", "nul-deep-inside", "lone-surrogate-in-id", "lone-surrogate-in-a-key"],
)
def test_correctly_signed_event_with_text_postgres_cannot_store_is_refused(webhook_secret, event):
    """The event is kept as jsonb: a NUL or an unpaired surrogate in it made the insert fail (a 500)."""
    refused(post_webhook(json.dumps(event).encode()))
    with pytest.raises(InvalidWebhook) as info:
        body = json.dumps(event).encode()
        now = int(time.time())
        verify_webhook(body, sign_webhook_payload(body, WEBHOOK_SECRET, now), WEBHOOK_SECRET, now=now)
    assert info.value.reason == webhooks.UNSTORABLE_TEXT
