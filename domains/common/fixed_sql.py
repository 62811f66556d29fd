"""Hot reads and writes as fixed SQL: what `Model.objects.select_related(...).filter(<field>__in=...)`
returns, and what `save()` writes, without compiling a query on every call.

The ORM's compiler costs more CPU than PostgreSQL spends running a small query (an on-sale
rush runs the same few look-ups thousands of times a minute: the buyer's session, the ticket
type, the order to lock; docs/PERFORMANCE.md). The SQL here is built once per query shape and
database vendor from the models' own metadata, the values go through the converters the ORM
would apply, and the objects are built with `Model.from_db`: the caller gets the instances
the ORM would have given it (tests/sales/test_fixed_sql.py compares them field by field).

Reads (`fetch`): only what these look-ups need: non-null foreign keys followed from the main
model (inner joins, as select_related does for them), one field compared with a list of
values, and optionally `FOR UPDATE` (or `FOR NO KEY UPDATE`) of the main row only.

Writes (`insert`, `update`): the SQL is built once per model (and column set); each value is
prepared by its field (`pre_save`, so auto_now is set, then `get_db_prep_save`), as `save()`
does. No signals are sent: use them only for models with no save receivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, models
from django.db.models import AutoField, BigAutoField
from django.db.transaction import TransactionManagementError


@dataclass(frozen=True)
class _Part:
    model: type
    path: tuple[str, ...]  # the foreign keys followed from the main model (empty for itself)
    attnames: tuple[str, ...]
    start: int
    stop: int


@dataclass(frozen=True)
class _Plan:
    sql: str
    parts: tuple[_Part, ...]
    converters: tuple
    field: object  # the field compared with the values


@lru_cache(maxsize=64)
def _plan(model, related: tuple[str, ...], by: str, count: int, lock: bool, no_key: bool, vendor: str) -> _Plan:
    qn = connection.ops.quote_name
    tables = [(model, (), "t0")]
    joins = []
    for i, dotted in enumerate(related, 1):
        path = tuple(dotted.split("__"))
        parent_model, parent_alias = next((m, a) for m, p, a in tables if p == path[:-1])
        fk = parent_model._meta.get_field(path[-1])
        if not fk.many_to_one or fk.null:
            raise ValueError(f"{dotted}: only non-null foreign keys can be followed")
        target, alias = fk.related_model, f"t{i}"
        joins.append(
            f" INNER JOIN {qn(target._meta.db_table)} {alias}"
            f" ON {alias}.{qn(fk.target_field.column)} = {parent_alias}.{qn(fk.column)}"
        )
        tables.append((target, path, alias))
    columns, converters, parts = [], [], []
    for m, path, alias in tables:
        fields = m._meta.concrete_fields
        start = len(columns)
        for f in fields:
            columns.append(f"{alias}.{qn(f.column)}")
            col = f.get_col(m._meta.db_table)
            converters.append((col, tuple(connection.ops.get_db_converters(col) + f.get_db_converters(connection))))
        parts.append(_Part(m, path, tuple(f.attname for f in fields), start, len(columns)))
    field = model._meta.get_field(by)
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(model._meta.db_table)} t0{''.join(joins)}"
        f" WHERE t0.{qn(field.column)} IN ({', '.join(['%s'] * count)})"
    )
    if lock and connection.features.has_select_for_update:
        # As select_for_update(no_key=True): where the database has no such lock, FOR UPDATE.
        strength = " FOR NO KEY UPDATE" if no_key and connection.features.has_select_for_no_key_update else " FOR UPDATE"
        sql += strength + (" OF t0" if joins and connection.features.has_select_for_update_of else "")
    return _Plan(sql, tuple(parts), tuple(converters), field)


def fetch(model, *, by: str, values: list, related: tuple[str, ...] = (), lock: bool = False, no_key: bool = False) -> list:
    """The `model` instances whose `by` field is one of `values`, each with the objects of
    `related` (select_related's spelling: "festival", "ticket_type__festival") already loaded;
    `lock`: their rows (not the related ones) locked until the transaction ends. `no_key`
    (with `lock`): `FOR NO KEY UPDATE`, as `select_for_update(no_key=True)`: the rows cannot be
    changed by others, but rows referring to them can still be inserted (their foreign key
    check takes `FOR KEY SHARE`, which `FOR UPDATE` would block). Unordered."""
    if lock and connection.features.has_select_for_update and connection.get_autocommit():
        # As select_for_update(): a lock released at once by autocommit protects nothing.
        raise TransactionManagementError("fetch(lock=True) needs an open transaction (atomic()).")
    if not values:
        return []
    plan = _plan(model, related, by, len(values), lock, no_key, connection.vendor)
    params = [plan.field.get_db_prep_value(v, connection) for v in values]
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        rows = cursor.fetchall()
    return [_build(plan, row) for row in rows]


def _build(plan: _Plan, row):
    values = list(row)
    for i, (col, fns) in enumerate(plan.converters):
        for fn in fns:
            values[i] = fn(values[i], col, connection)
    built: dict[tuple[str, ...], object] = {}
    for part in plan.parts:
        obj = part.model.from_db(connection.alias, part.attnames, values[part.start:part.stop])
        built[part.path] = obj
        if part.path:
            built[part.path[:-1]]._state.fields_cache[part.path[-1]] = obj
    return built[()]


# Field types whose Python value PostgreSQL's driver takes as it is (their get_db_prep_save is
# the identity there); preparing each value through the field cost a third of an insert's CPU.
_PLAIN = (
    models.AutoField, models.BigAutoField, models.BooleanField, models.CharField, models.DateField,
    models.IntegerField, models.PositiveIntegerField, models.UUIDField, models.ForeignKey,
)


def _preparers(fields, vendor: str) -> tuple:
    """Per field: None (take the attribute as it is) or the field (pre_save + get_db_prep_save)."""
    out = []
    for f in fields:
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        plain = vendor == "postgresql" and isinstance(f, _PLAIN) and not auto  # DateTimeField is a DateField
        out.append(None if plain else f)
    return tuple(out)


def _params(obj, fields, preparers, add: bool) -> list:
    return [
        getattr(obj, f.attname) if p is None else p.get_db_prep_save(p.pre_save(obj, add), connection)
        for f, p in zip(fields, preparers, strict=True)
    ]


@lru_cache(maxsize=32)
def _insert_plan(model, vendor: str, want_pk: bool, ignore_conflicts: bool):
    meta = model._meta
    auto_pk = isinstance(meta.pk, (AutoField, BigAutoField))
    fields = [f for f in meta.concrete_fields if not (auto_pk and f.primary_key)]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    returning = auto_pk and want_pk and connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {qn(meta.pk.column)}"
    return sql, fields, _preparers(fields, vendor), auto_pk, returning


@lru_cache(maxsize=32)
def _update_plan(model, names: tuple[str, ...] | None, vendor: str):
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key] if names is None else [meta.get_field(n) for n in names]
    qn = connection.ops.quote_name
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} WHERE {qn(meta.pk.column)} = %s"
    return sql, fields, _preparers(fields, vendor)


def insert(obj, *, want_pk: bool = True, ignore_conflicts: bool = False, cursor=None) -> None:
    """INSERT one new instance, like `save(force_insert=True)` without signals.

    `want_pk=False` leaves an auto primary key unread (None); `ignore_conflicts`: a row that
    would break a unique constraint is not written and raises nothing (`bulk_create`'s
    ignore_conflicts; the primary key stays None then). `cursor`: a callable giving the cursor
    to run on (default: the connection's)."""
    sql, fields, preparers, auto_pk, returning = _insert_plan(type(obj), connection.vendor, want_pk, ignore_conflicts)
    params = _params(obj, fields, preparers, True)
    with (cursor or connection.cursor)() as cur:
        cur.execute(sql, params)
        if auto_pk and want_pk:
            row = cur.fetchone() if returning else None
            obj.pk = row[0] if row else (None if returning else cur.lastrowid)
    obj._state.adding = False
    obj._state.db = connection.alias


def update(obj, names: tuple[str, ...] | None = None, *, cursor=None) -> None:
    """UPDATE an existing instance's row: every column, or only `names` (`save(update_fields=names)`:
    an auto_now field among them is set now). The caller holds the row lock."""
    sql, fields, preparers = _update_plan(type(obj), tuple(names) if names is not None else None, connection.vendor)
    params = _params(obj, fields, preparers, False)
    params.append(type(obj)._meta.pk.get_db_prep_save(obj.pk, connection))
    with (cursor or connection.cursor)() as cur:
        cur.execute(sql, params)
