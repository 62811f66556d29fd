"""Item 7: every root field declares its permission, and the declaration holds at run time.

The walk fails for a root field of Query, Mutation or Subscription that has neither `public()`
nor a PermissionExtension (schema/permissions.py). The matrix then calls every non-public
Query and Mutation field through /graphql/ with a document generated from the field's
arguments: anonymously it must answer UNAUTHENTICATED, and for role-restricted fields a
signed-in user without the role must get FORBIDDEN. A new field needs no table entry here.
"""

from __future__ import annotations

import uuid

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from graphql.pyutils import Undefined
from strawberry.permission import PermissionExtension

from domains.accounts.models import Role
from schema.permissions import HasRole, IsAuthenticated, Public
from schema.schema import schema as festival_schema

ROOTS = ("Query", "Mutation", "Subscription")


def root_fields():
    """(root type name, GraphQL field name, strawberry field) for every root field."""
    out = []
    for root in ROOTS:
        definition = festival_schema.get_type_by_name(root)
        if definition is None:
            continue
        for field in definition.fields:
            name = festival_schema.config.name_converter.get_graphql_name(field)
            out.append((root, name, field))
    return out


def permission_of(field):
    extensions = list(field.extensions or [])
    public = any(isinstance(e, Public) for e in extensions)
    guards = [e for e in extensions if isinstance(e, PermissionExtension)]
    return public, guards


def required_roles(guards) -> frozenset[str] | None:
    roles = None
    for guard in guards:
        for permission in guard.permissions:
            if isinstance(permission, HasRole):
                roles = permission.roles if roles is None else roles & permission.roles
    return roles


ALL_FIELDS = root_fields()
GUARDED = [(root, name, field) for root, name, field in ALL_FIELDS if not permission_of(field)[0]]


def test_the_walk_sees_the_foundation_fields():
    names = {(root, name) for root, name, _ in ALL_FIELDS}
    assert {("Query", "festival"), ("Query", "me"), ("Mutation", "login"), ("Mutation", "changePassword")} <= names


@pytest.mark.parametrize(("root", "name", "field"), ALL_FIELDS, ids=[f"{r}.{n}" for r, n, _ in ALL_FIELDS])
def test_every_root_field_declares_its_permission(root, name, field):
    public, guards = permission_of(field)
    assert public or guards, (
        f"{root}.{name} declares no permission: add extensions=public(), authenticated(), staff_only(), "
        "admin_only() or requires(...) from schema/permissions.py"
    )
    assert not (public and guards), f"{root}.{name} is marked both public and guarded"
    for guard in guards:
        assert any(isinstance(p, IsAuthenticated) for p in guard.permissions), f"{root}.{name}: a guard without IsAuthenticated"
        assert not guard.fail_silently, f"{root}.{name}: a guard must refuse, not answer null"


# --- generating a minimal valid document for a field -------------------------------------------

SCALAR_SAMPLES = {
    "String": "x",
    "ID": str(uuid.UUID(int=1)),
    "UUID": str(uuid.UUID(int=1)),
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2027-07-09",
    "DateTime": "2027-07-09T12:00:00+00:00",
    "Time": "12:00:00",
    "Decimal": "1.00",
    "JSON": {},
    "GlobalID": "VHlwZToxMjM=",
}


def sample(type_):
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [sample(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields
        if getattr(type_, "is_one_of", False):
            key = next(iter(fields))
            return {key: sample(fields[key].type)}
        return {
            key: sample(f.type)
            for key, f in fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        }
    if isinstance(type_, GraphQLScalarType):
        return SCALAR_SAMPLES.get(type_.name, "x")
    raise AssertionError(f"cannot build a sample for {type_}")


def document_for(root: str, name: str) -> tuple[str, dict]:
    gql_schema = festival_schema._schema
    root_type = {"Query": gql_schema.query_type, "Mutation": gql_schema.mutation_type}[root]
    field = root_type.fields[name]
    definitions, arguments, variables = [], [], {}
    for arg_name, arg in field.args.items():
        if not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not Undefined:
            continue  # optional: leave out
        definitions.append(f"${arg_name}: {arg.type}")
        arguments.append(f"{arg_name}: ${arg_name}")
        variables[arg_name] = sample(arg.type)
    named = get_named_type(field.type)
    selection = " { __typename }" if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)) else ""
    head = f"{root.lower()} Probe" + (f"({', '.join(definitions)})" if definitions else "")
    call = name + (f"({', '.join(arguments)})" if arguments else "")
    return f"{head} {{ {call}{selection} }}", variables


HTTP_GUARDED = [(root, name, field) for root, name, field in GUARDED if root != "Subscription"]
ROLE_GUARDED = [
    (root, name, field) for root, name, field in HTTP_GUARDED if required_roles(permission_of(field)[1]) is not None
]


def test_generated_documents_are_valid():
    from graphql import parse, validate

    for root, name, _field in HTTP_GUARDED:
        document, _variables = document_for(root, name)
        assert validate(festival_schema._schema, parse(document)) == [], f"{root}.{name}: {document}"


@pytest.mark.parametrize(("root", "name", "field"), HTTP_GUARDED, ids=[f"{r}.{n}" for r, n, _ in HTTP_GUARDED])
def test_anonymous_callers_are_refused(gql, db, root, name, field):
    document, variables = document_for(root, name)
    response = gql.execute(document, variables)
    assert response.status_code == 200, response.body
    codes = [e.get("extensions", {}).get("code") for e in response.errors or []]
    assert codes == ["UNAUTHENTICATED"], f"{root}.{name} answered {response.body} to {document}"
    assert not (response.data or {}).get(name)


@pytest.mark.parametrize(("root", "name", "field"), ROLE_GUARDED, ids=[f"{r}.{n}" for r, n, _ in ROLE_GUARDED])
def test_users_without_the_role_are_refused(as_user, root, name, field):
    allowed = required_roles(permission_of(field)[1])
    document, variables = document_for(root, name)
    for role in [r for r in Role.values if r not in allowed]:
        response = as_user(role).execute(document, variables)
        codes = [e.get("extensions", {}).get("code") for e in response.errors or []]
        assert codes == ["FORBIDDEN"], f"{root}.{name} as {role} answered {response.body}"
        assert not (response.data or {}).get(name)


def test_staff_roles_include_admin():
    for _root, name, field in ROLE_GUARDED:
        roles = required_roles(permission_of(field)[1])
        if Role.STAFF in roles:
            assert Role.ADMIN in roles, f"{name}: staff may do it but admin may not"
