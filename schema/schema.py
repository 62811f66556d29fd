"""The one schema, merged from one package per area.

To add an area: append its Query / Mutation / Subscription classes below.
"""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.accounts.mutations import AccountMutation
from schema.accounts.queries import AccountQuery
from schema.events.mutations import EventMutation
from schema.events.queries import EventQuery
from schema.extensions import schema_extensions

QUERIES: tuple[type, ...] = (EventQuery, AccountQuery)
MUTATIONS: tuple[type, ...] = (EventMutation, AccountMutation)
SUBSCRIPTIONS: tuple[type, ...] = ()


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=schema_extensions(),
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
