"""The gate scan's statements bind their parameters server-side on PostgreSQL
(domains/scanning/services/rows.py), so they can be prepared: off by default (Django's
choice, safe behind poolers), on with DB_PREPARE_THRESHOLD (here set on the connection)."""

from __future__ import annotations

import pytest
from django.db import connection

from domains.tickets.qr import qr_encode

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _prepared_scan_statements() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%scanning_ticketentrystate%"])
        return [row[0] for row in cur.fetchall()]


def test_scan_statements_are_not_prepared_by_default(env):
    for _ in range(6):
        assert env.scan(qr_encode(env.ticket()))["result"]["verdict"] == "ADMITTED"
    assert connection.connection.prepare_threshold is None
    assert _prepared_scan_statements() == []


def test_with_a_threshold_the_scan_statements_are_prepared_with_placeholders(env):
    connection.ensure_connection()
    connection.connection.prepare_threshold = 1
    try:
        for _ in range(3):
            assert env.scan(qr_encode(env.ticket()))["result"]["verdict"] == "ADMITTED"
        prepared = _prepared_scan_statements()
    finally:
        connection.connection.prepare_threshold = None
    # Server-side binding: the statement text holds $n placeholders, not the scanned values.
    assert prepared and all("$1" in statement for statement in prepared)
