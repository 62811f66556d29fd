"""What a test's PostgreSQL connection sends and receives, from libpq's protocol trace: how
many round trips a piece of work takes, and whether the connection is left idle."""

from __future__ import annotations

import itertools
import tempfile

from django.db import connection
from psycopg.pq import Trace, TransactionStatus


def idle() -> bool:
    """No transaction open on the connection (everything committed or rolled back)."""
    return connection.connection.info.transaction_status == TransactionStatus.IDLE


def messages(run) -> list[tuple[str, str]]:
    """(direction, message) for what this connection sends (F) and receives (B) while `run()`
    runs."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        try:
            run()
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = trace.read().splitlines()
    return [(line.split()[0], line.split()[2]) for line in lines if line[:1] in ("F", "B")]


def round_trips(sent_and_received: list[tuple[str, str]]) -> int:
    """PostgreSQL answers only after a Sync, a Flush or a simple Query, so every turn from
    what the client sent to what the server answered is one round trip."""
    return sum(1 for prev, cur in itertools.pairwise(sent_and_received) if prev[0] == "F" and cur[0] == "B")


def sent(sent_and_received) -> str:
    return " ".join(m for d, m in sent_and_received if d == "F")
