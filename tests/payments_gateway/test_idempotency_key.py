"""idempotency_key(): deterministic, injective in practice, never longer than 255."""

import uuid

import pytest

from domains.payments.gateway import MAX_IDEMPOTENCY_KEY_LENGTH, idempotency_key


def test_short_key_is_readable_and_deterministic():
    order = uuid.UUID("12345678-1234-5678-1234-567812345678")
    key = idempotency_key("checkout", order)
    assert key == "checkout:12345678-1234-5678-1234-567812345678"
    assert idempotency_key("checkout", order) == key
    assert idempotency_key("refund", order, 3) == "refund:12345678-1234-5678-1234-567812345678:3"


def test_separator_inside_a_part_does_not_collide():
    assert idempotency_key("a:b", "c") != idempotency_key("a", "b:c")


def test_long_key_is_hashed_to_at_most_255_and_stays_distinct():
    long_a = idempotency_key("refund", "x" * 300)
    long_b = idempotency_key("refund", "x" * 299 + "y")
    assert len(long_a) <= MAX_IDEMPOTENCY_KEY_LENGTH
    assert len(long_b) <= MAX_IDEMPOTENCY_KEY_LENGTH
    assert long_a != long_b
    assert long_a == idempotency_key("refund", "x" * 300)
    assert long_a.startswith("refund:xxx")
    assert ":sha256:" in long_a


def test_exactly_255_is_kept_verbatim():
    part = "k" * (MAX_IDEMPOTENCY_KEY_LENGTH - len("p:"))
    assert idempotency_key("p", part) == "p:" + part


@pytest.mark.parametrize("parts", [(), ("checkout", "")])
def test_empty_parts_are_refused(parts):
    with pytest.raises(ValueError):
        idempotency_key(*parts)
