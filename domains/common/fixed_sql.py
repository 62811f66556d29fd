"""Hot reads as fixed SQL: what `Model.objects.select_related(...).filter(<field>__in=...)`
returns, without compiling that query on every call.

The ORM's compiler costs more CPU than PostgreSQL spends running a small query (an on-sale
rush runs the same few look-ups thousands of times a minute: the buyer's session, the ticket
type, the order to lock; docs/PERFORMANCE.md). The SQL here is built once per query shape and
database vendor from the models' own metadata, the values go through the converters the ORM
would apply, and the objects are built with `Model.from_db`: the caller gets the instances
the ORM would have given it (tests/sales/test_fixed_sql.py compares them field by field).

Only what these look-ups need: non-null foreign keys followed from the main model (inner
joins, as select_related does for them), one field compared with a list of values, and
optionally `FOR UPDATE` of the main row only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.db import connection


@dataclass(frozen=True)
class _Part:
    model: type
    path: tuple[str, ...]  # the foreign keys followed from the main model ("" for itself)
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
def _plan(model, related: tuple[str, ...], by: str, count: int, lock: bool, vendor: str) -> _Plan:
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
        sql += " FOR UPDATE OF t0" if joins and connection.features.has_select_for_update_of else " FOR UPDATE"
    return _Plan(sql, tuple(parts), tuple(converters), field)


def fetch(model, *, by: str, values: list, related: tuple[str, ...] = (), lock: bool = False) -> list:
    """The `model` instances whose `by` field is one of `values`, each with the objects of
    `related` (select_related's spelling: "festival", "ticket_type__festival") already loaded;
    `lock`: their rows (not the related ones) locked until the transaction ends. Unordered."""
    if not values:
        return []
    plan = _plan(model, related, by, len(values), lock, connection.vendor)
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
