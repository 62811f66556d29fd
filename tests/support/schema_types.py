"""Helpers for tests that walk the GraphQL schema."""

from __future__ import annotations

from graphql import GraphQLList, GraphQLNonNull


def type_text(t) -> str:
    """A graphql-core type as written in a document (`[ID!]!`), for variable definitions."""
    if isinstance(t, GraphQLNonNull):
        return f"{type_text(t.of_type)}!"
    if isinstance(t, GraphQLList):
        return f"[{type_text(t.of_type)}]"
    return t.name
