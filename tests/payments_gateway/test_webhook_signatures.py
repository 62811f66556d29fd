"""verify_webhook(): every way a forged or replayed webhook is refused, with its own reason."""

import json

import pytest
import stripe

from domains.payments import webhooks
from domains.payments.webhooks import InvalidWebhook, sign_webhook_payload, verify_webhook

SECRET = "whsec_unit"
NOW = 1_790_000_000
EVENT = {"id": "evt_1", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}
BODY = json.dumps(EVENT).encode()


def reason(payload, header, secret=SECRET, now=NOW, tolerance=300):
    with pytest.raises(InvalidWebhook) as info:
        verify_webhook(payload, header, secret, tolerance=tolerance, now=now)
    return info.value.reason


def test_valid_signature_returns_the_event():
    header = sign_webhook_payload(BODY, SECRET, NOW)
    assert verify_webhook(BODY, header, SECRET, now=NOW) == EVENT


def test_matches_stripe_sdk_scheme():
    header = sign_webhook_payload(BODY, SECRET, NOW)
    assert header.startswith(f"t={NOW},v1=")
    # The SDK (no future check, its own clock) agrees on the signature itself.
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header):
    assert reason(BODY, header) == webhooks.MISSING_SIGNATURE_HEADER


def test_wrong_secret():
    header = sign_webhook_payload(BODY, "whsec_someone_else", NOW)
    assert reason(BODY, header) == webhooks.SIGNATURE_MISMATCH


def test_body_changed():
    header = sign_webhook_payload(BODY, SECRET, NOW)
    tampered = BODY.replace(b"ch_1", b"ch_2")
    assert reason(tampered, header) == webhooks.SIGNATURE_MISMATCH


def test_timestamp_changed_without_resigning():
    header = sign_webhook_payload(BODY, SECRET, NOW).replace(f"t={NOW}", f"t={NOW + 1}")
    assert reason(BODY, header) == webhooks.SIGNATURE_MISMATCH


def test_old_timestamp():
    header = sign_webhook_payload(BODY, SECRET, NOW - 301)
    assert reason(BODY, header) == webhooks.TIMESTAMP_TOO_OLD


def test_future_timestamp():
    header = sign_webhook_payload(BODY, SECRET, NOW + 301)
    assert reason(BODY, header) == webhooks.TIMESTAMP_IN_FUTURE


def test_tolerance_edges_are_inclusive():
    for t in (NOW - 300, NOW + 300):
        assert verify_webhook(BODY, sign_webhook_payload(BODY, SECRET, t), SECRET, now=NOW)


def test_reasons_are_distinct():
    reasons = {
        reason(BODY, None),
        reason(BODY, sign_webhook_payload(BODY, "whsec_other", NOW)),
        reason(BODY, sign_webhook_payload(BODY, SECRET, NOW - 301)),
        reason(BODY, sign_webhook_payload(BODY, SECRET, NOW + 301)),
    }
    assert len(reasons) == 4


def test_any_of_several_v1_entries_may_match():
    good = sign_webhook_payload(BODY, SECRET, NOW).split("v1=")[1]
    header = f"t={NOW},v1={'0' * 64},v0=ignored,v1={good}"
    assert verify_webhook(BODY, header, SECRET, now=NOW) == EVENT


def test_only_v0_is_not_enough():
    header = f"t={NOW},v0=" + sign_webhook_payload(BODY, SECRET, NOW).split("v1=")[1]
    assert reason(BODY, header) == webhooks.NO_V1_SIGNATURE


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1=abc",
        "t=abc,v1=abc",
        "t=-5,v1=abc",
        "t=²,v1=abc",
        f"t={NOW},t={NOW},v1=abc",
    ],
)
def test_malformed_header(header):
    assert reason(BODY, header) == webhooks.MALFORMED_SIGNATURE_HEADER


def test_non_ascii_signature_is_a_mismatch_not_a_crash():
    assert reason(BODY, f"t={NOW},v1=é") == webhooks.SIGNATURE_MISMATCH


@pytest.mark.parametrize("secret", [None, ""])
def test_no_secret_configured_refuses_everything(secret):
    header = sign_webhook_payload(BODY, "", NOW)
    assert reason(BODY, header, secret=secret) == webhooks.SECRET_NOT_CONFIGURED


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_signed_but_not_a_json_object(payload):
    header = sign_webhook_payload(payload, SECRET, NOW)
    assert reason(payload, header) == webhooks.INVALID_PAYLOAD


def test_uses_the_clock_when_now_is_not_given():
    import time

    header = sign_webhook_payload(BODY, SECRET, int(time.time()))
    assert verify_webhook(BODY, header, SECRET) == EVENT
    stale = sign_webhook_payload(BODY, SECRET, int(time.time()) - 3600)
    with pytest.raises(InvalidWebhook):
        verify_webhook(BODY, stale, SECRET)
