"""Correctly signed events of shapes Stripe never sends: every field the handlers read, replaced
by a value of another type or an absurd size, or left out. The signature only says who sent the
body; what is in it is still input. Each answer is a 200 (stored, perhaps flagged for staff) or
a 400 (refused, nothing stored), never a 500."""

from __future__ import annotations

import copy
import json
import time

import pytest
from django.db import transaction
from django.test import Client

from domains.orders.models import WebhookEvent
from domains.payments.webhooks import sign_webhook_payload
from domains.tickets.models import Ticket

from .conftest import WEBHOOK_SECRET, pi_object
from .helpers import checkout

ODD_VALUES = {
    "null": None,
    "list": [1],
    "object": {"a": 1},
    "zero": 0,
    "negative": -1,
    "true": True,
    "float": 1.5,
    "huge-int": 10**30,
    "empty": "",
    "long-text": "x" * 5000,
    "number-text": "12",
    "not-a-uuid": "not-a-uuid",
}
MISSING = object()


def leaf_paths(value, prefix=()):
    """Every path into nested dicts and lists of ``value``, containers included."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from leaf_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from leaf_paths(child, (*prefix, index))


def mutated(event: dict, path: tuple, value) -> dict:
    copied = copy.deepcopy(event)
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


def post(client: Client, event: dict):
    body = json.dumps(event).encode()
    signature = sign_webhook_payload(body, WEBHOOK_SECRET, int(time.time()))
    return client.post(
        "/api/payments/webhook/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def events_of(order, info, tickets) -> dict[str, dict]:
    def event(event_type, obj):
        return {"id": "evt_shape", "object": "event", "type": event_type, "created": 1, "data": {"object": obj}}

    failure = {"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined."}
    refund = {
        "id": "re_shape",
        "amount": info.amount,
        "currency": info.currency,
        "reason": "requested_by_customer",
        "metadata": {"ticket_ids": ",".join(str(t.public_id) for t in tickets)},
    }
    charge = {
        "id": "ch_shape",
        "object": "charge",
        "payment_intent": info.id,
        "amount": info.amount,
        "amount_refunded": info.amount,
        "currency": info.currency,
        "metadata": {"order_id": str(order.public_id)},
        "refunds": {"object": "list", "data": [refund]},
    }
    dispute = {
        "id": "dp_shape",
        "object": "dispute",
        "amount": info.amount,
        "currency": info.currency,
        "charge": "ch_shape",
        "payment_intent": info.id,
        "reason": "fraudulent",
        "status": "needs_response",
        "created": 1_700_000_000,
        "evidence_details": {"due_by": 1_900_000_000, "has_evidence": False},
        "metadata": {},
    }
    expanded_charge = {"id": "ch_shape", "object": "charge", "payment_intent": info.id, "metadata": {"order_id": str(order.public_id)}}
    return {
        "dispute_created": event("charge.dispute.created", dispute),
        "dispute_lost": event("charge.dispute.closed", dict(dispute, status="lost")),
        "dispute_charge": event("charge.dispute.updated", dict(dispute, payment_intent=None, charge=expanded_charge)),
        "succeeded": event("payment_intent.succeeded", pi_object(info)),
        "failed": event(
            "payment_intent.payment_failed",
            pi_object(info, status="requires_payment_method", last_payment_error=failure),
        ),
        "refunded": event("charge.refunded", charge),
        "upgrade": event(
            "payment_intent.succeeded", dict(pi_object(info), metadata={"upgrade_id": str(order.public_id)})
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["succeeded", "failed", "refunded", "upgrade", "dispute_created", "dispute_lost", "dispute_charge"])
def test_every_field_of_another_shape_is_a_200_or_a_400_never_a_500(
    kind, make_user, make_type, fake_gateway, webhook_secret
):
    tt = make_type(capacity=10, price_amount=2500)
    order = checkout(make_user(), tt, 2)
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    if kind in ("refunded", "dispute_lost"):  # a refund or a lost dispute applies to tickets that exist
        client = Client()
        assert post(client, events_of(order, info, [])["succeeded"] | {"id": "evt_paid"}).status_code == 200
    tickets = list(Ticket.objects.filter(order_line__order=order))
    event = events_of(order, info, tickets)[kind]

    client = Client(raise_request_exception=False)
    with transaction.atomic():
        sid = transaction.savepoint()
        assert post(client, event).status_code == 200  # the unmutated event is applied
        transaction.savepoint_rollback(sid)

    failures = []
    for path in leaf_paths(event):
        for name, value in [*ODD_VALUES.items(), ("missing", MISSING)]:
            with transaction.atomic():
                sid = transaction.savepoint()
                stored_before = WebhookEvent.objects.count()
                response = post(client, mutated(event, path, value))
                if response.status_code == 400:
                    if WebhookEvent.objects.count() != stored_before:
                        failures.append((path, name, "400 but stored"))
                elif response.status_code != 200:
                    failures.append((path, name, response.status_code))
                transaction.savepoint_rollback(sid)
    assert failures == []


@pytest.mark.django_db
def test_a_refused_shape_is_logged_by_path_without_its_value(
    make_user, make_type, fake_gateway, webhook_secret, caplog
):
    tt = make_type(capacity=10, price_amount=2500)
    order = checkout(make_user(), tt, 1)
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    event = events_of(order, info, [])["succeeded"]
    event["data"]["object"]["amount"] = "2500 secret-looking-value"

    with caplog.at_level("WARNING", logger="schema.orders.rest"):
        response = post(Client(), event)

    assert response.status_code == 400 and response.json() == {"error": "invalid webhook"}
    assert WebhookEvent.objects.count() == 0
    order.refresh_from_db()
    assert order.status == "pending"
    [record] = [r for r in caplog.records if r.getMessage() == "stripe webhook refused"]
    assert (record.reason, record.path) == ("unexpected_shape", "data.object.amount")
    assert "secret-looking-value" not in caplog.text


@pytest.mark.django_db
def test_refund_naming_tickets_by_something_else_than_their_ids_voids_none_of_them(
    make_user, make_type, fake_gateway, webhook_secret
):
    tt = make_type(capacity=10, price_amount=2500)
    order = checkout(make_user(), tt, 2)
    info = fake_gateway.set_status(order.payment_intent_id, "succeeded")
    client = Client()
    assert post(client, events_of(order, info, [])["succeeded"] | {"id": "evt_paid"}).status_code == 200
    event = events_of(order, info, [])["refunded"]
    refund = event["data"]["object"]["refunds"]["data"][0]
    refund["amount"] = 2500  # half the order
    refund["metadata"]["ticket_ids"] = "12,not-a-uuid"
    event["data"]["object"]["amount_refunded"] = 2500

    assert post(client, event).status_code == 200

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("partially_refunded", 2500)
    assert Ticket.objects.filter(order_line__order=order, status="valid").count() == 2
