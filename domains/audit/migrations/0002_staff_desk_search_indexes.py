"""Indexes for the staff order desk (domains/orders/staff_selectors.py), on PostgreSQL.

They live here, not in the accounts/orders apps, so that the staff desk owns them: trigram
GIN indexes for case-insensitive substring search of buyers' email and name (Django's
`icontains` is `UPPER(col::text) LIKE UPPER('%x%')`, so the indexed expression is the same),
and (created_at, public_id) for the desk's sort and keyset pagination. SQLite: nothing.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    ("accounts_user_email_upper_trgm", "accounts_user USING gin (UPPER(email::text) gin_trgm_ops)"),
    ("accounts_user_name_upper_trgm", "accounts_user USING gin (UPPER(full_name::text) gin_trgm_ops)"),
    ("orders_order_created_public", "orders_order (created_at, public_id)"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("accounts", "0001_initial"),
        ("orders", "0002_initial"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop),
    ]
