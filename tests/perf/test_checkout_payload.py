"""createCheckout loads the full order only when the client selects it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

SECRET_ONLY = """mutation($lines: [CheckoutLineInput!]!) { createCheckout(lines: $lines) { clientSecret errors { code } } }"""
WITH_ORDER = """mutation($lines: [CheckoutLineInput!]!) { createCheckout(lines: $lines) {
  clientSecret ... on CreateCheckoutPayload { order { number status } } errors { code } } }"""


@pytest.mark.django_db
def test_order_is_loaded_only_when_selected(as_user, make_type, fake_gateway):
    tt = make_type(capacity=10)
    client = as_user("attendee")
    variables = {"lines": [{"ticketTypeId": str(tt.public_id), "quantity": 1}]}
    with CaptureQueriesContext(connection) as lean:
        lean_result = client.execute(SECRET_ONLY, variables)
    assert lean_result.data["createCheckout"]["clientSecret"] and not lean_result.data["createCheckout"]["errors"]
    with CaptureQueriesContext(connection) as full:
        full_result = client.execute(WITH_ORDER, variables)
    assert full_result.data["createCheckout"]["order"]["status"] == "PENDING"
    assert len(lean) < len(full)
