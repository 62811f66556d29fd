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
from schema.extensions import log_errors, schema_extensions
from schema.lifecycle.mutations import LifecycleMutation
from schema.lifecycle.queries import LifecycleQuery
from schema.orders.mutations import OrderMutation
from schema.orders.queries import OrderQuery
from schema.scalars import SCALARS
from schema.scanning.mutations import ScanningMutation
from schema.scanning.queries import ScanningQuery
from schema.scanning.subscriptions import ScanningSubscription
from schema.tickets.queries import TicketQuery
from schema.vendors.mutations import VendorMutation
from schema.vendors.queries import VendorQuery
from schema.wallet.mutations import WalletMutation
from schema.wallet.queries import WalletQuery

QUERIES: tuple[type, ...] = (EventQuery, AccountQuery, TicketQuery, OrderQuery, ScanningQuery, WalletQuery, VendorQuery, LifecycleQuery)
MUTATIONS: tuple[type, ...] = (EventMutation, AccountMutation, OrderMutation, ScanningMutation, WalletMutation, VendorMutation, LifecycleMutation)
SUBSCRIPTIONS: tuple[type, ...] = (ScanningSubscription,)


class FestivalSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # strawberry logs str(error) at ERROR, which quotes the client's document (inline
        # passwords included) and makes every refusal a Sentry event: schema/extensions.py.
        log_errors(errors)


def build_schema() -> strawberry.Schema:
    return FestivalSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=schema_extensions(),
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
    )


schema = build_schema()


def _register_client_documents() -> None:
    """Our own clients' hot documents: known persisted queries, executed pre-validated."""
    from schema import persisted, prevalidated
    from schema.scanning.documents import SCANNER_DOCUMENTS

    persisted.register(*SCANNER_DOCUMENTS)
    prevalidated.register(schema, *SCANNER_DOCUMENTS)


_register_client_documents()
