"""Input found by an audit to make a masked error or an HTTP 500: each gets a clear, typed answer
now and changes nothing. (Fragment fan-outs: tests/ops/test_abuse_limits.py; long email
addresses: tests/lifecycle; the Stripe webhook and PassKit: their own tests.)"""

from __future__ import annotations

import base64
import json

import pytest

from domains.common.signing import b64url
from schema.extensions import UNSTORABLE_VARIABLES
from schema.persisted import document_hash
from schema.scanning.documents import SCAN_COMMIT
from tests.scanning import factories

DEEP = "[" * 1000 + "]" * 1000
FESTIVAL_BY_SLUG = "query($s: String) { festival(slug: $s) { name } }"
SUBSCRIPTION = "subscription { scanStatsUpdated { admittedTickets } }"


def test_json_nested_deeper_than_the_parser_goes_is_a_400(gql, db):
    response = gql.post_raw(DEEP)
    assert response.status_code == 400
    assert "Unable to parse request body as JSON" in response.text
    as_get = gql.post_raw({"query": "{ __typename }", "variables": DEEP}, method="GET")
    assert as_get.status_code == 400


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\x00"], ids=["high", "low", "nul"])
def test_text_postgresql_cannot_store_is_refused_in_variables(gql, db, text):
    for document, variables in [
        (FESTIVAL_BY_SLUG, {"s": text}),
        ("mutation($e: String!) { login(email: $e, password: \"x\") { accessToken } }", {"e": text}),
        (FESTIVAL_BY_SLUG, {"s": "ok", text: "as a key"}),
    ]:
        response = gql.execute(document, variables)
        assert [e["message"] for e in response.errors] == [UNSTORABLE_VARIABLES], response.body


def test_the_scanner_apps_prevalidated_documents_refuse_them_too(as_user):
    staff = as_user("staff")
    response = staff.execute(SCAN_COMMIT, {"code": "x", "deviceId": "1", "nonce": "\ud800"})
    assert [e["message"] for e in response.errors] == [UNSTORABLE_VARIABLES]


def test_a_persisted_query_hash_must_be_a_sha256(gql, db):
    for sha in ["\ud800", "ABC", "0" * 63, "g" * 64]:
        body = json.dumps({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}})
        response = gql.post_raw(body)
        assert response.status_code == 400, sha
        assert "sha256Hash must be 64 lowercase hexadecimal characters" in response.text
    # A document that no UTF-8 can encode does not match any hash.
    body = json.dumps({"query": "{ __typename }\ud800", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}})
    response = gql.post_raw(body)
    assert response.status_code == 400 and "provided sha does not match query" in response.text
    # The well-formed path still works.
    known = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(SCAN_COMMIT)}}, "variables": {"code": "x", "deviceId": "1"}}
    assert gql.post_raw(json.dumps(known)).json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_subscription_over_http_is_a_400_naming_the_websocket(as_user):
    staff = as_user("staff")
    for response in (
        staff.post_raw(json.dumps({"query": SUBSCRIPTION})),
        staff.post_raw({"query": SUBSCRIPTION}, method="GET"),
        staff.post_raw(json.dumps({"query": f"query Q {{ __typename }} {SUBSCRIPTION.replace('subscription', 'subscription S')}", "operationName": "S"})),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["errors"] == [
            {"message": "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql/.", "extensions": {"code": "BAD_REQUEST"}}
        ]
    # A query mentioning the word is not one.
    assert staff.execute('query { festival(slug: "subscription") { name } }').status_code == 200


def test_a_cursor_holding_null_or_nul_is_invalid(as_user):
    client = as_user()
    for cursor in [b64url(b"[null,null]"), b64url(json.dumps(["2026-01-01T00:00:00+00:00", "a\u0000b"]).encode())]:
        response = client.execute("query($a: String) { myOrders(first: 5, after: $a) { totalCount } }", {"a": cursor})
        assert [(e["message"], e["extensions"]["code"]) for e in response.errors] == [("Invalid cursor.", "INVALID_INPUT")]


def test_a_scanner_sync_cursor_out_of_range_or_without_offset_is_a_bad_cursor(as_user):
    staff = as_user("staff")
    event = str(factories.festival().public_id)
    query = "query($s: String, $e: ID) { scannerSync(since: $s, eventId: $e) { cursor } }"
    for stamp in ["0001-01-01T00:00:00+00:00", "2026-07-03T10:00:00"]:
        since = base64.urlsafe_b64encode(f"sync:{stamp}".encode()).decode()
        response = staff.execute(query, {"s": since, "e": event})
        assert [(e["message"], e["extensions"]["code"]) for e in response.errors] == [("Bad cursor.", "INVALID_INPUT")], stamp
    cursor = staff.execute(query, {"e": event}).data["scannerSync"]["cursor"]
    assert staff.execute(query, {"s": cursor, "e": event}).data["scannerSync"]["cursor"]
