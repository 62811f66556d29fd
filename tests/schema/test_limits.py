"""Items 1-3: depth, alias, token and directive limits refuse a document before any resolver
runs; batches are refused. Through the real endpoint, with the default limits where the
foundation's schema is deep enough, and with a lowered limit where it is not."""

from __future__ import annotations

import json

import pytest
import strawberry
from django.conf import settings

from schema.extensions import schema_extensions

# schedule(1) > days(2) > performances(3) > stage(4) > name: the deepest path of the foundation.
DEEP_4 = "{ schedule { days { performances { stage { name } } } } }"
DEEP_4_FRAGMENTS = """
query { schedule { ...Days } }
fragment Days on Schedule { days { ...Perf } }
fragment Perf on ScheduleDay { performances { stage { ...StageName } } }
fragment StageName on Stage { name }
"""


def messages(response) -> list[str]:
    return [e["message"] for e in response.errors or []]


def test_the_defaults_are_the_documented_ones():
    assert (settings.GRAPHQL_MAX_DEPTH, settings.GRAPHQL_MAX_ALIASES, settings.GRAPHQL_MAX_TOKENS, settings.GRAPHQL_MAX_DIRECTIVES) == (6, 15, 1000, 50)


@pytest.mark.parametrize("document", [DEEP_4, DEEP_4_FRAGMENTS], ids=["inline", "fragments"])
def test_depth_at_the_limit_runs_and_one_more_is_refused_before_any_query(gql, festival, settings, django_assert_num_queries, document):
    settings.GRAPHQL_MAX_DEPTH = 4
    response = gql.execute(document)
    assert response.errors is None, response.errors
    assert response.data["schedule"]["days"][0]["performances"][0]["stage"]["name"] == "Main"

    settings.GRAPHQL_MAX_DEPTH = 3
    with django_assert_num_queries(0):
        refused = gql.execute(document)
    assert refused.status_code == 200 and refused.data is None
    assert any("exceeds maximum operation depth of 3" in m for m in messages(refused)), refused.errors


# A self-referencing type shows the default (6) exactly: the foundation's schema is not that deep.
@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> Node:
        CALLS.append("child")
        return Node()

    name: str = "n"


@strawberry.type
class NodeQuery:
    @strawberry.field
    def node(self) -> Node:
        CALLS.append("node")
        return Node()


CALLS: list[str] = []


def nested(depth: int) -> str:
    return "{ node " + "{ child " * (depth - 1) + "{ name }" + " }" * (depth - 1) + " }"


def test_default_depth_six_runs_and_seven_is_refused_before_any_resolver(db):
    schema = strawberry.Schema(query=NodeQuery, extensions=schema_extensions())
    CALLS.clear()
    assert schema.execute_sync(nested(6)).errors is None
    assert CALLS, "depth 6 runs"
    CALLS.clear()
    result = schema.execute_sync(nested(7))
    assert result.data is None and "exceeds maximum operation depth of 6" in result.errors[0].message
    assert CALLS == [], "refused before any resolver"
    # through fragments too
    fragments = "query { node { ...A } } fragment A on Node { child { child { ...B } } } fragment B on Node { child { child { child { child { name } } } } }"
    result = schema.execute_sync(fragments)
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message and CALLS == []


def aliased(n: int) -> str:
    return "{ " + " ".join(f"a{i}: festival {{ name }}" for i in range(n)) + " }"


def test_fifteen_aliases_run_and_sixteen_are_refused_before_any_query(gql, festival, django_assert_num_queries):
    response = gql.execute(aliased(15))
    assert response.errors is None and response.data["a14"] == {"name": "Sunwave"}
    with django_assert_num_queries(0):
        refused = gql.execute(aliased(16))
    assert refused.data is None
    assert any("16 aliases found. Allowed: 15" in m for m in messages(refused)), refused.errors


def test_fifty_aliased_logins_are_refused_before_any_check(gql, db, django_assert_num_queries):
    logins = " ".join(f'l{i}: login(email: "a@example.test", password: "guess-{i}") {{ accessToken }}' for i in range(50))
    with django_assert_num_queries(0):
        refused = gql.execute(f"mutation {{ {logins} }}")
    assert refused.data is None and any("aliases found" in m for m in messages(refused))


def tokens(n: int) -> str:
    """A document of n tokens as graphql-core counts them (the end-of-document token included)."""
    return "{ festival { " + " ".join(["name"] * (n - 5)) + " } }"


def test_a_document_over_the_token_limit_is_refused_before_any_query(gql, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        refused = gql.execute(tokens(1001))
    assert refused.data is None
    assert messages(refused) == ["Syntax Error: Document contains more than 1000 tokens. Parsing aborted."]
    at_limit = gql.execute(tokens(1000))
    assert not any("tokens" in m for m in messages(at_limit)), "1000 tokens pass the token limit"


def test_token_limit_runs_at_and_refuses_over_a_lowered_limit(gql, festival, settings):
    settings.GRAPHQL_MAX_TOKENS = 30
    assert gql.execute(tokens(30)).data == {"festival": {"name": "Sunwave"}}
    assert "more than 30 tokens" in messages(gql.execute(tokens(31)))[0]


def directives(n: int) -> str:
    return "{ festival { " + " ".join(f"n{i}: name @include(if: true)" for i in range(n)) + " } }"


def test_fifty_directives_run_and_fifty_one_are_refused_before_any_query(gql, festival, settings, django_assert_num_queries):
    settings.GRAPHQL_MAX_ALIASES = 100  # isolate the directive limit
    response = gql.execute(directives(50))
    assert response.errors is None and response.data["festival"]["n49"] == "Sunwave"
    with django_assert_num_queries(0):
        refused = gql.execute(directives(51))
    assert refused.data is None
    assert messages(refused) == ["'51' directives exceed the maximum of 50."]


def test_a_batch_of_operations_is_refused(gql, db, django_assert_num_queries):
    body = json.dumps([{"query": "{ festival { name } }"}, {"query": "{ sponsors { name } }"}])
    with django_assert_num_queries(0):
        response = gql.post_raw(body)
    assert response.status_code == 400
    batch_of_one = gql.post_raw(json.dumps([{"query": "{ festival { name } }"}]))
    assert batch_of_one.status_code == 400


def test_validation_results_are_cached_across_requests(gql, festival):
    from strawberry.extensions.validation_cache import _get_validate_cache

    cache = _get_validate_cache(512)
    document = "{ festival { name slug } sponsors { name } }"
    gql.execute(document)
    before = cache.cache_info()
    for _ in range(3):
        assert gql.execute(document).errors is None
    after = cache.cache_info()
    assert after.hits - before.hits == 3 and after.misses == before.misses
