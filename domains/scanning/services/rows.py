"""The rows of an admission, read and written with fixed SQL instead of ORM querysets.

A scan is a handful of tiny statements; building each one through the ORM (query compilation,
select_related bookkeeping) cost more CPU than PostgreSQL spent running it (docs/PERFORMANCE.md).
The reads here are plain SQL on PostgreSQL (the ORM elsewhere, e.g. SQLite in development);
the writes are domains/common/fixed_sql.py's, on the scan's cursor, so they behave like
`Model.save()` on every database.

The returned objects are ordinary model instances holding the columns a scan needs (the others
are deferred and load on access like any deferred field).
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from domains.accounts.models import User
from domains.common import fixed_sql
from domains.events.models import Festival
from domains.scanning.models import Gate, ScanLog, TicketEntryState, TicketTypeEntryRule
from domains.scanning.rules import DEFAULT_RULE, Rule
from domains.tickets.models import Ticket, TicketType

_DB = "default"
log = logging.getLogger(__name__)

_ALLOWED_GATES = TicketTypeEntryRule.allowed_gates.through._meta.db_table
# The ticket type's entry rule comes with the ticket (no rule row: the default rule), so a scan
# needs no cache look-up for it and always sees the rule as committed.
_TICKET_COLUMNS_SQL = (
    "t.id, t.public_id, t.status, t.secret_version, t.ticket_type_id, t.holder_id,"
    " tt.name, tt.valid_on, tt.festival_id, f.timezone, u.full_name, r.mode, r.allow_exit,"
    f" ARRAY(SELECT ag.gate_id FROM {_ALLOWED_GATES} ag WHERE ag.tickettypeentryrule_id = r.id)"
)
_TICKET_COLUMNS = 14
_TICKET_JOINS_SQL = (
    f" FROM {Ticket._meta.db_table} t"
    f" JOIN {TicketType._meta.db_table} tt ON tt.id = t.ticket_type_id"
    f" JOIN {Festival._meta.db_table} f ON f.id = tt.festival_id"
    f" JOIN {User._meta.db_table} u ON u.id = t.holder_id"
    f" LEFT JOIN {TicketTypeEntryRule._meta.db_table} r ON r.ticket_type_id = tt.id"
)
_TICKET_SQL = f"SELECT {_TICKET_COLUMNS_SQL}{_TICKET_JOINS_SQL} WHERE t.public_id = %s"
# The ticket row is locked by a statement without joins, and read with its relations by the
# next one, once the lock is held (domains/tickets/locking.py): a locking query that waited for
# a writer re-checks its joins against the old versions of the joined rows, so a scan waiting
# for a transfer accept (holder_id changed) or an upgrade (ticket_type_id changed) found no
# ticket at all and answered INVALID "unknown ticket" instead of VOIDED.
_LOCK_TICKET_SQL = f"SELECT t.id FROM {Ticket._meta.db_table} t WHERE t.public_id = %s FOR UPDATE"

_STATE_COLUMNS = (
    "ticket_id", "first_admitted_at", "first_gate_id", "day", "day_first_admitted_at", "day_first_gate_id",
    "inside", "admissions", "days_admitted", "last_scan_at", "updated_at",
)
_STATE_COLUMNS_SQL = (
    "s.ticket_id, s.first_admitted_at, s.first_gate_id, s.day, s.day_first_admitted_at, s.day_first_gate_id,"
    " s.inside, s.admissions, s.days_admitted, s.last_scan_at, s.updated_at, g1.name, g2.name"
)
_STATE_GATES_SQL = (
    f" LEFT JOIN {Gate._meta.db_table} g1 ON g1.id = s.first_gate_id"
    f" LEFT JOIN {Gate._meta.db_table} g2 ON g2.id = s.day_first_gate_id"
)
_STATE_SQL = f"SELECT {_STATE_COLUMNS_SQL} FROM {TicketEntryState._meta.db_table} s{_STATE_GATES_SQL} WHERE s.ticket_id = %s"
# The ticket, its relations and its entry state in one statement (a locked scan, after the
# lock; a checked scan, without one), with the row versions (`xmin`: the transaction that wrote
# the version read) of the ticket and its entry state that `record_if_unchanged` compares.
_TICKET_AND_STATE_SQL = (
    f"SELECT {_TICKET_COLUMNS_SQL}, {_STATE_COLUMNS_SQL}, t.xmin::text, s.xmin::text{_TICKET_JOINS_SQL}"
    f" LEFT JOIN {TicketEntryState._meta.db_table} s ON s.ticket_id = t.id{_STATE_GATES_SQL}"
    " WHERE t.public_id = %s"
)


def _cursor():
    """On PostgreSQL a server-side-binding cursor: the parameters travel apart from the SQL, so
    psycopg does not quote them into the text (Django's own cursors bind client-side), and
    PostgreSQL prepares a statement once a connection has run it DB_PREPARE_THRESHOLD times
    (festival/config_check.py `prepare_threshold`: by default only with Django's own pool).
    Elsewhere Django's cursor. Either way wrapped like Django's (query logging, errors as Django's
    exceptions)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def raw_reads() -> bool:
    """Plain-SQL reads run on PostgreSQL (types come back as Python values, FOR UPDATE OF)."""
    return connection.vendor == "postgresql"


class ScanTransaction:
    """The transaction of one scan (`scan_transaction`): `on_commit(fn)` runs fn once it has
    committed, never if it rolls back."""

    def __init__(self, own: bool):
        self._own = own  # BEGIN and COMMIT are ours (else Django's atomic block's)
        self._after: list = []

    def on_commit(self, fn) -> None:
        if self._own:
            self._after.append(fn)
        else:
            transaction.on_commit(fn)

    def _committed(self) -> None:
        for fn in self._after:
            fn()


def current_transaction() -> ScanTransaction:
    """The atomic() block already open, for a caller that writes a scan's rows inside its own
    transaction (supervisors' manual admissions and restores): no savepoint, no pipeline."""
    if not connection.in_atomic_block:
        raise RuntimeError("current_transaction() needs an open atomic() block")
    return ScanTransaction(own=False)


@contextmanager
def scan_transaction():
    """One scan's statements as one transaction, in as few round trips as the database allows.

    On PostgreSQL, when no transaction is open, BEGIN and COMMIT are sent by us in psycopg
    pipeline mode on the (autocommit) connection: BEGIN travels with the lock and state reads,
    COMMIT with the writes, so a scan takes 2 round trips. Under Django's `atomic()` it took 4:
    psycopg waits for the answer to the BEGIN it sends itself before anything else, and the
    COMMIT can only follow the pipeline's end. Any error, from PostgreSQL (a repeated nonce's
    unique violation arrives with the COMMIT's round trip) or from Python, rolls the whole
    transaction back and propagates as Django's exception; nothing of the block is kept.

    Inside an open transaction (an outer `atomic()`, test cases) and on other databases it is
    `atomic()` with the same pipelining for the statements in between. No Django transaction
    API may be used inside the block: use the yielded `ScanTransaction.on_commit`."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(), _pipeline():
            yield current_transaction()
        return
    connection.ensure_connection()
    conn = connection.connection
    if not conn.autocommit:  # Django keeps it on outside atomic(); never guess otherwise
        raise RuntimeError("scan_transaction() needs the connection in autocommit mode")
    tx = ScanTransaction(own=True)
    try:
        with connection.wrap_database_errors, conn.pipeline():
            conn.execute("BEGIN")
            yield tx
            conn.execute("COMMIT")
    except BaseException:
        _roll_back(conn)
        raise
    tx._committed()


def _roll_back(conn) -> None:
    """After a failed scan transaction: end it if the server still has it open. Never raises
    (the scan's own error is the one to report); a connection that cannot roll back is marked
    for Django, which discards it at the end of the request."""
    if conn.closed or conn.broken:
        return
    try:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        log.warning("scan transaction: ROLLBACK failed", exc_info=True)
        connection.errors_occurred = True  # Django checks the connection before reusing it


@contextmanager
def _pipeline():
    """On PostgreSQL, statements sent in this block share round trips (psycopg pipeline mode):
    a result is waited for only when it is fetched, and writes whose results nobody reads go
    together. Errors arrive as Django's exceptions."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def ticket_row(public_id: uuid.UUID, *, lock: bool) -> Ticket | None:
    """The ticket with its type, festival and holder (name); locked until the transaction ends
    when `lock` (locked first, then read: see _LOCK_TICKET_SQL)."""
    with _cursor() as lock_cur, _cursor() as cur:
        if lock:
            lock_cur.execute(_LOCK_TICKET_SQL, [public_id])
        cur.execute(_TICKET_SQL, [public_id])
        return _ticket(cur.fetchone())


def ticket_and_state(public_id: uuid.UUID, *, lock: bool) -> tuple[Ticket | None, TicketEntryState | None]:
    """The ticket (locked when `lock`) and its entry state: the lock first, then one read of
    both, whose snapshot is taken once the lock is held (see _LOCK_TICKET_SQL and commit.py);
    in a `scan_transaction()` one round trip."""
    with _cursor() as lock_cur, _cursor() as cur:
        if lock:
            lock_cur.execute(_LOCK_TICKET_SQL, [public_id])
        cur.execute(_TICKET_AND_STATE_SQL, [public_id])
        ticket, state, _seen = _ticket_and_state(cur.fetchone())
    return ticket, state


@dataclass(frozen=True)
class Seen:
    """The versions of a ticket row and its entry state (None: no state yet) a scan was decided on."""

    ticket_id: int
    ticket_version: str
    state_version: str | None


def ticket_and_state_seen(public_id: uuid.UUID) -> tuple[Ticket | None, TicketEntryState | None, Seen | None]:
    """The ticket and its entry state as `ticket_and_state` reads them, without a lock and
    outside any transaction of ours, with the versions of both rows for `record_if_unchanged`."""
    with _cursor() as cur:
        cur.execute(_TICKET_AND_STATE_SQL, [public_id])
        return _ticket_and_state(cur.fetchone())


def _ticket_and_state(row) -> tuple[Ticket | None, TicketEntryState | None, Seen | None]:
    if row is None:
        return None, None, None
    ticket = _ticket(row[:_TICKET_COLUMNS])
    state_columns = row[_TICKET_COLUMNS:-2]
    state = _state(state_columns) if state_columns[0] is not None else None
    return ticket, state, Seen(ticket.pk, row[-2], row[-1])


def _ticket(row) -> Ticket | None:
    if row is None:
        return None
    tid, public_id, status, version, type_id, holder_id, type_name, valid_on, festival_id, tz, full_name, mode, allow_exit, gates = row
    ticket = Ticket.from_db(_DB, ("id", "public_id", "ticket_type_id", "holder_id", "status", "secret_version"),
                            (tid, public_id, type_id, holder_id, status, version))
    ticket_type = TicketType.from_db(_DB, ("id", "festival_id", "name", "valid_on"), (type_id, festival_id, type_name, valid_on))
    ticket_type._state.fields_cache["festival"] = Festival.from_db(_DB, ("id", "timezone"), (festival_id, tz))
    ticket._state.fields_cache["ticket_type"] = ticket_type
    ticket._state.fields_cache["holder"] = User.from_db(_DB, ("id", "full_name"), (holder_id, full_name))
    ticket._scan_rule = DEFAULT_RULE if mode is None else Rule(mode, allow_exit, frozenset(gates))
    return ticket


def rule_read_with(ticket: Ticket) -> Rule | None:
    """The entry rule read in the same statement as `ticket` (None: not read that way)."""
    return getattr(ticket, "_scan_rule", None)


def state_row(ticket_id: int) -> TicketEntryState | None:
    """The ticket's entry state with the names of its first gates, or None before any admission."""
    with _cursor() as cur:
        cur.execute(_STATE_SQL, [ticket_id])
        return _state(cur.fetchone())


def _state(row) -> TicketEntryState | None:
    if row is None:
        return None
    values = list(row[:11])
    if isinstance(values[8], str):  # jsonb comes back as text (Django's JSONField decodes it)
        values[8] = json.loads(values[8])
    state = TicketEntryState.from_db(_DB, _STATE_COLUMNS, values)
    first_name, day_first_name = row[11], row[12]
    cache = state._state.fields_cache
    cache["first_gate"] = Gate.from_db(_DB, ("id", "name"), (state.first_gate_id, first_name)) if state.first_gate_id else None
    cache["day_first_gate"] = (
        Gate.from_db(_DB, ("id", "name"), (state.day_first_gate_id, day_first_name)) if state.day_first_gate_id else None
    )
    return state


def insert(obj, *, want_pk: bool = True) -> None:
    """INSERT one new instance on the scan's cursor (fixed_sql.insert: like
    `save(force_insert=True)` without signals, none are connected to these models).
    `want_pk=False` leaves an auto primary key unread (None): in a `scan_transaction()` nothing
    then waits for the insert's answer before the commit."""
    fixed_sql.insert(obj, want_pk=want_pk, cursor=_cursor)


def update(obj) -> None:
    """UPDATE every column of an existing instance (the caller holds its row lock)."""
    fixed_sql.update(obj, cursor=_cursor)


# `scanning_record_scan` (migration scanning 0002) takes the entry state's and the log row's
# columns by name; the log row's ticket is the ticket.
_RECORD_STATE = tuple(f.attname for f in TicketEntryState._meta.concrete_fields if not f.primary_key)
_RECORD_LOG = tuple(f.attname for f in ScanLog._meta.concrete_fields if f.attname not in ("id", "ticket_id"))
_RECORD_SQL = "SELECT scanning_record_scan({})".format(
    ", ".join(
        [f"{name} => %s" for name in ("p_ticket", "p_ticket_version", "p_state_version", "p_state_write")]
        + [f"s_{name} => %s" for name in _RECORD_STATE]
        + [f"l_{name} => %s" for name in _RECORD_LOG]
    )
)
_NO_STATE = (None,) * len(_RECORD_STATE)
_DAYS_ADMITTED = _RECORD_STATE.index("days_admitted")


def checked_writes() -> bool:
    """Scans are written by `record_if_unchanged` (PostgreSQL, migration scanning 0002)."""
    return connection.vendor == "postgresql"


def record_if_unchanged(seen: Seen, *, state: TicketEntryState | None, write: str, log_row: ScanLog) -> bool:
    """Write a scan decided on the rows `seen`: its entry state (`write`: "insert", "update" or
    "" for none) and its log row, in one statement, only if the ticket row and its entry state
    are still those versions once the ticket's row lock is held. False: nothing was written
    (something changed the ticket or its state since it was read; decide again on a new read).

    Inside an open transaction it joins it behind a savepoint (a repeated nonce's unique
    violation must not abort the caller's transaction); otherwise it is a transaction of its own."""
    if write:
        state.updated_at = timezone.now()  # auto_now, as save() would set it
        values = [getattr(state, name) for name in _RECORD_STATE]
        values[_DAYS_ADMITTED] = Jsonb(state.days_admitted)
    else:
        values = _NO_STATE
    params = [seen.ticket_id, seen.ticket_version, seen.state_version, write, *values,
              *(getattr(log_row, name) for name in _RECORD_LOG)]
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), _cursor() as cur:
        cur.execute(_RECORD_SQL, params)
        done = cur.fetchone()[0]
    if done:
        log_row._state.adding = False
        log_row._state.db = connection.alias
        log_row.ticket_id = seen.ticket_id
    return done
