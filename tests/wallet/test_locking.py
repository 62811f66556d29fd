"""Creating a pass locks the ticket's row only: a lock that also took the ticket type's (or the
festival's) row would stall every checkout of that type while a pass is being built."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.wallet.conftest import create_apple, create_google

pytestmark = [pytest.mark.postgres]


@pytest.mark.parametrize("create", [create_apple, create_google])
def test_pass_creation_locks_the_ticket_row_alone(create, holder_client, ticket):
    with CaptureQueriesContext(connection) as ctx:
        assert create(holder_client, ticket)["errors"] == []
    locking = [q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"] and '"tickets_ticket"' in q["sql"]]
    assert locking, "the ticket is locked while its pass is made"
    for sql in locking:
        assert "JOIN" not in sql or "FOR UPDATE OF" in sql, sql
