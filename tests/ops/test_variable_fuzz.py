"""Issue 8 item 4, the other half: every root field called with typed *variables* holding edge
values, against the demo festival. Schemathesis (test_fuzz.py) writes literal arguments that
GraphQL validation mostly turns away; values that pass validation and reach our code are where a
client could make it fail: the ends of Int, dates at 0001-01-01 and 9999-12-31 (one day more
overflows), offsets of +14:00, long and odd strings, IDs that exist and IDs that do not.

Every answer must be a non-5xx, must hold no masked error (an exception our code did not
expect), must not leak, and must come back quickly. As admin, so the resolvers really run.

    FUZZ_EXAMPLES=200 pytest tests/ops/test_variable_fuzz.py    # hunt longer, new examples each run
"""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)
from hypothesis import given
from hypothesis import strategies as st

from schema.schema import schema as strawberry_schema
from tests.ops.test_fuzz import FUZZ, _check
from tests.support.schema_types import type_text

GRAPHQL = strawberry_schema._schema


def _root_fields():
    for root in (GRAPHQL.query_type, GRAPHQL.mutation_type):
        for name, field in root.fields.items():
            if field.args:  # without arguments there is nothing to fuzz
                yield f"{root.name}.{name}", root, name, field


ROOT_FIELDS = list(_root_fields())



def _named(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def document(root, name: str, field) -> str:
    """`mutation($a: T!, ...) { name(a: $a) { __typename } }`: every argument a variable."""
    operation = "mutation" if root is GRAPHQL.mutation_type else "query"
    variables = ", ".join(f"${a}: {type_text(arg.type)}" for a, arg in field.args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in field.args)
    selection = " { __typename }" if isinstance(_named(field.type), (GraphQLObjectType, GraphQLUnionType)) else ""
    return f"{operation}({variables}) {{ {name}({arguments}){selection} }}"


EDGE_INTS = [0, 1, -1, 2, 100, 101, 2**31 - 1, -(2**31)]
EDGE_DATES = ["0001-01-01", "9999-12-31", "2026-02-29", "2024-02-29", "2026-13-01", "", "today", "2026-06-20"]
EDGE_DATETIMES = [
    "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+00:00", "2026-06-20T12:00:00", "2026-06-20T12:00:00Z",
    "2026-06-20T25:00:00+00:00", "2026-06-20", "", "not a date",
]
ODD_STRINGS = ["", " ", "a" * 5000, "\u202eright-to-left", "😀" * 300, "Robert'); DROP TABLE tickets_ticket;--", "%s%s%n", "../../etc/passwd"]


# Argument names ending in "Id" -> the model whose public ids they name (lower-cased class name).
ID_MODELS = {"event": "festival", "totickettype": "tickettype", "vendor": "vendorprofile", "device": "scannerdevice", "scan": "scanlog"}


def strategies(pool: dict) -> dict:
    """Per named scalar: values that pass GraphQL's own coercion some of the time and are odd."""
    garbage_ids = st.uuids().map(str) | st.sampled_from(["", "0", "-1", "x" * 300])
    text = st.sampled_from(pool["strings"] or ["demo"]) | st.sampled_from(ODD_STRINGS) | st.text(max_size=60)
    return {
        "Int": st.sampled_from(EDGE_INTS) | st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "Float": st.sampled_from([0.0, -0.0, 1e308, -1e308, 0.1, 5e-324]) | st.floats(allow_nan=False, allow_infinity=False),
        "String": text,
        "Boolean": st.booleans(),
        "ID": st.sampled_from(pool["ids"]) | garbage_ids,
        "UUID": st.sampled_from(pool["ids"]) | garbage_ids,
        "Date": st.sampled_from(EDGE_DATES) | st.dates().map(lambda d: d.isoformat()),
        "DateTime": st.sampled_from(EDGE_DATETIMES) | st.datetimes().map(lambda d: d.isoformat()),
        "JSON": st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
            max_leaves=8,
        ),
        "_garbage_ids": garbage_ids,
        "_ids_by_model": pool["ids_by_model"],
    }


def _scalar(t, scalars, name: str | None):
    """An ID named after a model (`deviceId`) is mostly one that exists, so the resolver gets past
    its look-up and the values around it reach deeper."""
    if t.name in ("ID", "UUID") and name and name.endswith("Id"):
        stem = name[:-2].lower()
        known = scalars["_ids_by_model"].get(ID_MODELS.get(stem, stem))
        if known:
            return st.sampled_from(known) | st.sampled_from(known) | scalars["_garbage_ids"]
    return scalars.get(t.name, scalars["String"])


def value_of(t, scalars: dict, depth: int = 0, name: str | None = None):
    """A strategy for one GraphQL input type: nulls where nullable, lists of 0-3 items, and
    input objects with their required fields and some of the others."""
    if isinstance(t, GraphQLNonNull):
        return _value_of_named_or_list(t.of_type, scalars, depth, name)
    return st.none() | _value_of_named_or_list(t, scalars, depth, name)


def _value_of_named_or_list(t, scalars, depth, name):
    if isinstance(t, GraphQLList):
        return st.lists(value_of(t.of_type, scalars, depth + 1, name), max_size=3 if depth < 2 else 0)
    if isinstance(t, GraphQLEnumType):
        return st.sampled_from([*list(t.values) * 4, "NOT_A_VALUE"])
    if isinstance(t, GraphQLScalarType):
        return _scalar(t, scalars, name)
    if isinstance(t, GraphQLInputObjectType):
        if depth > 3:
            return st.just({})
        required = {n for n, f in t.fields.items() if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined}
        return st.fixed_dictionaries(
            {n: value_of(f.type, scalars, depth + 1, n) for n, f in t.fields.items() if n in required},
            optional={n: value_of(f.type, scalars, depth + 1, n) for n, f in t.fields.items() if n not in required},
        )
    raise AssertionError(f"unexpected input type {t}")


@pytest.fixture
def demo_pool(db):
    """The demo festival, and the ids and slugs that exist in it."""
    from django.apps import apps

    from domains.accounts.models import User
    from domains.events.demo import DEMO_SLUG
    from domains.events.models import Festival
    from tests.scanning import factories

    call_command("seed_demo", verbosity=0)
    # A scanner device of the demo festival, so scan operations get past the device check.
    admin = User.objects.get(email="admin@festival.example")
    device, device_token = factories.device(factories.gate(Festival.objects.get(slug=DEMO_SLUG)), admin)
    ids, strings = [], ["demo", "staff@festival.example", "attendee@festival.example"]
    ids_by_model = {"scannerdevice": [str(device.public_id)]}
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        if "public_id" in names:
            found = [str(v) for v in model.objects.values_list("public_id", flat=True)[:3]]
            ids_by_model.setdefault(model.__name__.lower(), found)
            ids += found
        if "slug" in names:
            strings += [v for v in model.objects.values_list("slug", flat=True)[:3] if v]
    return {"ids": ids, "ids_by_model": ids_by_model, "strings": strings, "device_token": device_token, "admin": admin}


@pytest.mark.parametrize(("label", "root", "name", "field"), ROOT_FIELDS, ids=[r[0] for r in ROOT_FIELDS])
def test_root_field_with_edge_variables(label, root, name, field, demo_pool, token_for):
    from tests.support.graphql import GraphQLClient

    admin = GraphQLClient().authenticate(token_for(demo_pool["admin"]))
    scalars = strategies(demo_pool)
    query = document(root, name, field)
    variables = st.fixed_dictionaries({a: value_of(arg.type, scalars, name=a) for a, arg in field.args.items()})

    @FUZZ
    @given(values=variables)
    def run(values):
        body = json.dumps({"query": query, "variables": values})
        started = time.monotonic()
        response = admin.post_raw(body, headers={"X-Device-Token": demo_pool["device_token"]})
        _check(response.status_code, response.text, time.monotonic() - started, f"{label} {body[:300]!r}")

    run()


def test_the_documents_are_valid_and_every_field_with_arguments_is_covered():
    from graphql import parse, validate

    assert len(ROOT_FIELDS) > 50
    for _label, root, name, field in ROOT_FIELDS:
        assert validate(GRAPHQL, parse(document(root, name, field))) == [], name
