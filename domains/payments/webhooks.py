"""Stripe webhook signatures: verify what arrives, sign what tests and dev tools send.

Stripe's scheme: header ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]``
where each ``v1`` is ``HMAC-SHA256(secret, f"{t}.{raw body}")``. Several ``v1`` entries appear
while a secret is being rolled; any one of them may match. Other schemes (``v0``) are ignored.

Why our own verifier rather than ``stripe.Webhook.construct_event``: the SDK rejects
timestamps older than the tolerance but accepts any timestamp in the future, so a captured
request signed with a far-future ``t`` would stay replayable forever. We reject both
directions (RELIABILITY: "300 s, and reject timestamps from the future").

Each refusal carries a stable ``reason`` (for logs and tests, never shown to the sender).
A wrong secret and a changed body are the same reason, ``signature_mismatch``: by design an
HMAC cannot tell them apart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from domains.common.text import has_unstorable_text

DEFAULT_TOLERANCE_SECONDS = 300
SIGNATURE_SCHEME = "v1"
# Unix seconds have 10 digits until the year 2286. A longer ``t`` is no time Stripe sends, and
# past 4300 digits int() itself raises ValueError (CPython's limit), which would be a 500.
MAX_TIMESTAMP_DIGITS = 12

# Stable reasons (InvalidWebhook.reason).
SECRET_NOT_CONFIGURED = "secret_not_configured"
MISSING_SIGNATURE_HEADER = "missing_signature_header"
MALFORMED_SIGNATURE_HEADER = "malformed_signature_header"
NO_V1_SIGNATURE = "no_v1_signature"
SIGNATURE_MISMATCH = "signature_mismatch"
TIMESTAMP_TOO_OLD = "timestamp_too_old"
TIMESTAMP_IN_FUTURE = "timestamp_in_future"
INVALID_PAYLOAD = "invalid_payload"
UNSTORABLE_TEXT = "unstorable_text"


class InvalidWebhook(Exception):
    """The request is not a genuine, fresh Stripe event: answer 400 and write nothing."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``b"<timestamp>." + payload`` keyed with the endpoint secret."""
    signed = str(int(timestamp)).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_webhook_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value Stripe would send for this body and time."""
    return f"t={int(timestamp)},{SIGNATURE_SCHEME}={compute_signature(payload, secret, timestamp)}"


def _is_timestamp(value: str) -> bool:
    """A plausible Unix time: ASCII digits only (``str.isdigit()`` also accepts '²' and '١',
    which int() then refuses or reads), at most ``MAX_TIMESTAMP_DIGITS`` of them."""
    return 0 < len(value) <= MAX_TIMESTAMP_DIGITS and value.isascii() and value.isdigit()


def _parse_header(sig_header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in sig_header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidWebhook(MALFORMED_SIGNATURE_HEADER)
        if name == "t":
            # A second t= would let a sender pick which one we check: refuse.
            if timestamp is not None or not _is_timestamp(value):
                raise InvalidWebhook(MALFORMED_SIGNATURE_HEADER)
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise InvalidWebhook(MALFORMED_SIGNATURE_HEADER)
    if not signatures:
        raise InvalidWebhook(NO_V1_SIGNATURE)
    return timestamp, signatures


def verify_webhook(
    payload: bytes,
    sig_header: str | None,
    secret: str | None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the event dict if ``payload`` is signed with ``secret`` and is fresh.

    Rules, checked in this order (the signature before the time, because ``t`` is only
    trustworthy once the signature covering it matched):

    1. a secret is configured, a header is present and well formed (one ``t``, a plausible Unix
       time), with at least one ``v1``;
    2. one ``v1`` equals our HMAC (constant-time comparison against every entry);
    3. ``now - tolerance <= t <= now + tolerance``;
    4. the body is a JSON object the parser can read (not nested past its recursion limit);
    5. no text in it that PostgreSQL cannot store (NUL, unpaired surrogates).
    """
    if not secret:
        raise InvalidWebhook(SECRET_NOT_CONFIGURED)
    if not sig_header:
        raise InvalidWebhook(MISSING_SIGNATURE_HEADER)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    timestamp, signatures = _parse_header(sig_header)

    expected = compute_signature(payload, secret, timestamp).encode("ascii")
    # Compare against every entry (no early exit) so timing says nothing about which matched;
    # as bytes, because compare_digest raises TypeError on non-ASCII str (a 500, not a 400).
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8"))
    if not matched:
        raise InvalidWebhook(SIGNATURE_MISMATCH)

    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise InvalidWebhook(TIMESTAMP_TOO_OLD)
    if timestamp > current + tolerance:
        raise InvalidWebhook(TIMESTAMP_IN_FUTURE)

    # RecursionError: a body nested ~1000 deep exhausts the parser's stack. A correct signature
    # only says who sent it; it is still a body we cannot read (400), not our failure (500).
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidWebhook(INVALID_PAYLOAD) from None
    if not isinstance(event, dict):
        raise InvalidWebhook(INVALID_PAYLOAD)
    if has_unstorable_text(event):
        raise InvalidWebhook(UNSTORABLE_TEXT)
    return event
