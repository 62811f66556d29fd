"""Abuse limits (issue 8, item 5): per-address and per-account limits on register, password
reset, contact form, checkout and login answer RATE_LIMITED with retryAfter and an HTTP
Retry-After header; the query cost limit refuses an expensive document before any SQL."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from graphql import parse

from schema.cost import document_cost, expanded_field_count
from schema.schema import schema

REGISTER = "mutation($e: String!) { register(email: $e, password: \"a-long-enough-pass-99\") { ok errors { code retryAfter } } }"
RESET = "mutation($e: String!) { requestPasswordReset(email: $e) { ok errors { code retryAfter } } }"
LOGIN = "mutation($e: String!) { login(email: $e, password: \"wrong-password-123\") { accessToken errors { code retryAfter } } }"
CONTACT = """mutation($e: String!) { submitContactForm(input: {name: "Ana", email: $e, subject: "Hi", message: "Hello"})
  { ok errors { code retryAfter } } }"""
CHECKOUT = """mutation($t: UUID!) { createCheckout(lines: [{ticketTypeId: $t, quantity: 1}]) { clientSecret errors { code retryAfter } } }"""


def codes(response, field):
    return [e["code"] for e in response.payload(field)["errors"]]


def assert_limited(response, field):
    errors = response.payload(field)["errors"]
    assert [e["code"] for e in errors] == ["RATE_LIMITED"], errors
    retry = errors[0]["retryAfter"]
    assert isinstance(retry, int) and retry >= 1
    assert response.headers["retry-after"] == str(retry)


@pytest.fixture
def limits(settings):
    settings.RATE_LIMITS = {
        "register": {"ip": (4, 3600), "account": (2, 3600)},
        "password_reset": {"ip": (4, 3600), "account": (2, 3600)},
        "contact": {"account": (2, 3600)},
        "checkout": {"ip": (4, 60), "account": (2, 60)},
        "login": {"ip": (3, 60)},
    }
    settings.CONTACT_FORM_PER_HOUR = 100
    return settings.RATE_LIMITS


def test_register_is_limited_per_account_then_per_address(gql, db, limits):
    for _ in range(2):
        assert codes(gql.execute(REGISTER, {"e": "same@example.test"}), "register") == []
    assert_limited(gql.execute(REGISTER, {"e": "same@example.test"}), "register")
    # another address is still welcome, until the client address has spent its allowance (4)
    assert codes(gql.execute(REGISTER, {"e": "other@example.test"}), "register") == []
    assert_limited(gql.execute(REGISTER, {"e": "third@example.test"}), "register")
    gql.client_ip = "10.0.0.9"
    assert codes(gql.execute(REGISTER, {"e": "fourth@example.test"}), "register") == []


def test_a_refused_register_creates_nothing(gql, db, limits):
    from domains.accounts.models import User

    for n in range(4):
        gql.execute(REGISTER, {"e": f"p{n}@example.test"})
    before = User.objects.count()
    assert_limited(gql.execute(REGISTER, {"e": "late@example.test"}), "register")
    assert User.objects.count() == before


def test_password_reset_requests_are_limited(gql, make_user, limits):
    make_user(email="ana@example.test")
    for _ in range(2):
        assert codes(gql.execute(RESET, {"e": "ana@example.test"}), "requestPasswordReset") == []
    assert_limited(gql.execute(RESET, {"e": "ana@example.test"}), "requestPasswordReset")
    # the same for an address without an account: the limit reveals nothing about accounts
    gql.client_ip = "10.0.0.2"
    for _ in range(2):
        assert codes(gql.execute(RESET, {"e": "nobody@example.test"}), "requestPasswordReset") == []
    assert_limited(gql.execute(RESET, {"e": "nobody@example.test"}), "requestPasswordReset")


def test_the_contact_form_is_limited_per_sender(gql, db, limits):
    for _ in range(2):
        assert codes(gql.execute(CONTACT, {"e": "fan@example.test"}), "submitContactForm") == []
    assert_limited(gql.execute(CONTACT, {"e": "FAN@example.test "}), "submitContactForm")
    assert codes(gql.execute(CONTACT, {"e": "other@example.test"}), "submitContactForm") == []


def test_the_existing_contact_form_limit_per_address_sets_the_header_too(gql, db, settings):
    settings.CONTACT_FORM_PER_HOUR = 1
    assert codes(gql.execute(CONTACT, {"e": "a@example.test"}), "submitContactForm") == []
    assert_limited(gql.execute(CONTACT, {"e": "b@example.test"}), "submitContactForm")


def test_checkout_creation_is_limited_per_account_and_per_address(as_user, limits):
    ana = as_user("attendee")
    for _ in range(2):
        assert codes(ana.execute(CHECKOUT, {"t": str(uuid.uuid4())}), "createCheckout") == ["TICKET_TYPE_NOT_FOUND"]
    assert_limited(ana.execute(CHECKOUT, {"t": str(uuid.uuid4())}), "createCheckout")
    bob = as_user("attendee")  # same address, another account: the address allows 4 in all
    assert codes(bob.execute(CHECKOUT, {"t": str(uuid.uuid4())}), "createCheckout") == ["TICKET_TYPE_NOT_FOUND"]
    assert_limited(bob.execute(CHECKOUT, {"t": str(uuid.uuid4())}), "createCheckout")


def test_login_is_limited_per_address_across_accounts(gql, db, limits):
    for n in range(3):
        assert "RATE_LIMITED" not in codes(gql.execute(LOGIN, {"e": f"u{n}@example.test"}), "login")
    assert_limited(gql.execute(LOGIN, {"e": "u9@example.test"}), "login")


def test_the_address_is_the_trusted_proxy_hop(gql, db, limits, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    for n in range(3):
        gql.execute(LOGIN, {"e": f"u{n}@example.test"}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert_limited(gql.execute(LOGIN, {"e": "x@example.test"}, headers={"X-Forwarded-For": "203.0.113.7"}), "login")
    other = gql.execute(LOGIN, {"e": "x@example.test"}, headers={"X-Forwarded-For": "203.0.113.8"})
    assert "RATE_LIMITED" not in codes(other, "login")


def test_a_limit_can_be_switched_off(gql, db, settings):
    settings.RATE_LIMITS = {"register": {"ip": None, "account": None}}
    for _ in range(8):
        assert codes(gql.execute(REGISTER, {"e": "same@example.test"}), "register") == []


def test_limit_keys_hold_no_addresses_or_emails(gql, db, limits):
    from django.core.cache import cache

    gql.execute(REGISTER, {"e": "keyed@example.test"})
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        keys = [k.decode() for k in cache._cache.get_client(None).scan_iter(match=f"{cache.key_prefix}:*")]
    else:
        keys = list(getattr(cache, "_cache", {}).keys())
    assert keys and not any("keyed" in k or "127.0.0.1" in k for k in keys)


def test_rate_settings_parse_and_refuse_nonsense(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from festival.settings import _rate

    monkeypatch.setenv("RATE_LIMIT_X", "7/30")
    assert _rate("RATE_LIMIT_X", "1/1") == (7, 30)
    monkeypatch.setenv("RATE_LIMIT_X", "off")
    assert _rate("RATE_LIMIT_X", "1/1") is None
    monkeypatch.setenv("RATE_LIMIT_X", "lots")
    with pytest.raises(ImproperlyConfigured):
        _rate("RATE_LIMIT_X", "1/1")


# --- query cost -------------------------------------------------------------------

EXPENSIVE = "{ " + " ".join(
    f"o{n}: myOrders {{ edges {{ node {{ lines {{ quantity ticketType {{ name }} }} tickets {{ id holderName ticketType {{ name available }} }} }} }} }}"
    for n in range(6)
) + " }"


def cost(document: str) -> int:
    return sum(
        document_cost(
            schema._schema,
            parse(document),
            default_list=django_settings.GRAPHQL_COST_DEFAULT_LIST,
            max_page=django_settings.GRAPHQL_MAX_PAGE_SIZE,
        ).values()
    )


def test_an_expensive_nested_query_is_refused_before_any_sql(as_user, django_assert_num_queries):
    ana = as_user("attendee")
    assert cost(EXPENSIVE) > django_settings.GRAPHQL_MAX_COST
    with django_assert_num_queries(0):
        response = ana.execute(EXPENSIVE)
    assert response.status_code == 200 and response.data is None
    assert "too expensive" in response.errors[0]["message"]


def test_page_size_arguments_set_the_multiplier(db):
    small = cost("{ vendors(first: 2) { edges { node { id businessName } } } }")
    large = cost("{ vendors(first: 100) { edges { node { id businessName } } } }")
    variable = cost("query($n: Int) { vendors(first: $n) { edges { node { id businessName } } } }")
    assert small < large == variable
    assert cost("{ vendors(first: 100000) { edges { node { id } } } }") == cost("{ vendors(first: 100) { edges { node { id } } } }")


def test_a_lowered_cost_limit_refuses_and_the_limit_at_the_cost_runs(gql, db, settings):
    document = "{ ticketTypes { id name } }"
    settings.GRAPHQL_MAX_COST = cost(document)
    assert not gql.execute(document).errors
    settings.GRAPHQL_MAX_COST = cost(document) - 1
    assert "too expensive" in gql.execute(document).errors[0]["message"]


def _client_documents() -> list[str]:
    """The documents our own clients send: the scanner app's, the load scripts' and every test of the suite's areas."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for path in [root / "locustfile.py", *(root / "bench").glob("*.py")]:
        for match in re.finditer(r'"""(.*?)"""|"((?:query|mutation|subscription)[^"\n]*)"', path.read_text(), re.S):
            text = match.group(1) or match.group(2) or ""
            if re.match(r"\s*(query|mutation|subscription|\{)", text):
                try:
                    parse(text)
                except Exception:
                    continue
                found.append(text)
    from schema.scanning.documents import SCANNER_DOCUMENTS

    return found + list(SCANNER_DOCUMENTS)


# The largest documents the web and scanner clients send (a buyer's order list, the schedule).
MY_ORDERS = """{ myOrders(first: 20) { totalCount pageInfo { hasNextPage endCursor } edges { node { id number status invoiceUrl
  lines { quantity ticketType { name } } payments { status } refunds { amount { amount } } tickets { id ticketType { name } } } } } }"""
SCHEDULE = """query($slug: String, $day: Date) { schedule(festivalSlug: $slug, day: $day) { stages { name }
  days { date performances { artist startsAt stage { name } } } } }"""


def test_every_client_document_is_valid_against_the_schema():
    """A load script whose document no longer validates measures error answers, not the server."""
    from graphql import validate

    from schema.schema import schema

    documents = _client_documents()
    assert any(d.lstrip().startswith("subscription") for d in documents)  # the dashboard's
    invalid = {d[:60]: [e.message for e in validate(schema._schema, parse(d))] for d in documents}
    assert not {d: errors for d, errors in invalid.items() if errors}


def test_every_client_operation_is_within_the_cost_limit():
    documents = [*_client_documents(), MY_ORDERS, SCHEDULE]
    assert len(documents) >= 5
    over = {d[:60]: cost(d) for d in documents if cost(d) > django_settings.GRAPHQL_MAX_COST}
    assert not over


def _fan_out(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels fields from a few hundred characters."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


def test_a_fragment_fan_out_is_refused_before_validation_walks_it(gql, db, django_assert_num_queries):
    document = _fan_out(16)  # 65,536 fields, 700 characters; 22 levels held a process for 48 s
    assert expanded_field_count(parse(document)) == 2**16
    with django_assert_num_queries(0):
        response = gql.execute(document)
    assert response.data is None
    assert [e["message"] for e in response.errors] == [
        f"The query is too large: 65536 fields once its fragments are expanded; the maximum is {django_settings.GRAPHQL_MAX_FIELDS}."
    ]


def test_fragments_within_the_field_limit_run(gql, db, settings):
    settings.GRAPHQL_MAX_FIELDS = 2**4
    assert gql.execute(_fan_out(4)).data == {"__typename": "Query"}
    assert "too large" in gql.execute(_fan_out(5)).errors[0]["message"]


def test_a_fragment_cycle_is_reported_by_validation_not_counted_forever(gql, db):
    response = gql.execute("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }")
    assert "Cannot spread fragment" in response.errors[0]["message"]


def test_every_client_document_and_graphiqls_introspection_is_within_the_field_limit():
    from graphql import get_introspection_query

    documents = [*_client_documents(), MY_ORDERS, SCHEDULE, get_introspection_query(descriptions=True)]
    assert max(expanded_field_count(parse(d)) for d in documents) * 5 < django_settings.GRAPHQL_MAX_FIELDS


def test_an_oversized_body_is_a_413_json_answer(gql, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = gql.post_raw(json.dumps({"query": "{ festival { name } }", "variables": {"x": "y" * 2000}}))
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
