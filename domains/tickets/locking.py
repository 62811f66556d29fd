"""Locking reads of tickets, in one place.

Why the row is locked by a query without joins, and its relations loaded afterwards: under
READ COMMITTED, a `SELECT ... FOR UPDATE` that waited for a concurrent writer re-checks its
WHERE and join conditions against the *new* version of the locked row but the *old* versions
of the joined rows. When the writer changed a joined column (a transfer changing `holder_id`,
an upgrade changing `ticket_type_id`), the join no longer matches and the query returns no
row at all: "no such ticket" for a ticket that exists (seen as a crash of an upgrade payment
racing a transfer accept, tests/lifecycle/test_upgrade_races.py). Filters on the ticket's own
columns are fine (and wanted: `holder=user` must stop matching once the ticket changed hands).
"""

from __future__ import annotations

from domains.tickets.models import Ticket


def ticket_lock(**filters) -> Ticket | None:
    """Lock the ticket matching `filters` (its own columns only) until the transaction ends and
    return it with its type, festival and holder loaded; None when no ticket matches."""
    pk = Ticket.objects.select_for_update().filter(**filters).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return Ticket.objects.select_related("ticket_type__festival", "holder").get(pk=pk)
