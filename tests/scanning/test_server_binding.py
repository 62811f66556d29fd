"""The gate scan's statements bind their parameters server-side on PostgreSQL
(domains/scanning/services/rows.py), so they can be prepared: by default once a connection
has run them 5 times when Django's own pool holds the connections
(festival/config_check.py `prepare_threshold`), never with the threshold off."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from domains.tickets.qr import qr_encode
from festival.config_check import prepare_threshold

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _prepared_scan_statements() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%scanning_ticketentrystate%"])
        return [row[0] for row in cur.fetchall()]


@pytest.fixture
def threshold():
    """Set this connection's threshold for one test; the pooled connection gets its own back."""
    connection.ensure_connection()
    configured = connection.connection.prepare_threshold

    def set_to(value):
        connection.connection.prepare_threshold = value

    yield set_to
    connection.connection.prepare_threshold = configured


def _scans(env, n: int) -> None:
    for _ in range(n):
        assert env.scan(qr_encode(env.ticket()))["result"]["verdict"] == "ADMITTED"


def test_the_connection_gets_the_configured_threshold():
    options = settings.DATABASES["default"]["OPTIONS"]
    connection.ensure_connection()
    assert connection.connection.prepare_threshold == options.get("prepare_threshold")
    assert options.get("prepare_threshold") == prepare_threshold(pooled="pool" in options)


def test_with_the_default_threshold_the_scan_statements_are_prepared_with_placeholders(env, threshold):
    threshold(5)
    _scans(env, 4)
    assert _prepared_scan_statements() == []  # not yet: 4 runs on this connection
    _scans(env, 2)
    prepared = _prepared_scan_statements()
    # Server-side binding: the statement text holds $n placeholders, not the scanned values.
    assert prepared and all("$1" in statement for statement in prepared)


def test_with_the_threshold_off_nothing_is_prepared(env, threshold):
    threshold(None)
    _scans(env, 6)
    assert _prepared_scan_statements() == []
