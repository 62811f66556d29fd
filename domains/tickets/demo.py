"""Demo ticket types for the demo festival (called by `manage.py seed_demo`). Idempotent."""

from __future__ import annotations

import datetime as dt

from domains.tickets.models import TicketType


def seed_ticket_types(festival) -> list[TicketType]:
    currency = festival.currency or "USD"
    specs = [
        # name, tier rank, price (minor units), capacity, per-order limit, valid_on offset (None: full pass), description
        ("Day Ticket - Friday", 10, 6_900, 3_000, 8, 0, "Entry on the first day."),
        ("Day Ticket - Saturday", 10, 7_900, 3_000, 8, 1, "Entry on the second day."),
        ("Day Ticket - Sunday", 10, 6_900, 3_000, 8, 2, "Entry on the last day."),
        ("Weekend Pass", 20, 17_900, 5_000, 8, None, "All three days."),
        ("VIP Weekend Pass", 30, 34_900, 400, 4, None, "All three days, VIP area, fast-lane entry."),
    ]
    out = []
    for sort, (name, rank, price, capacity, limit, day, desc) in enumerate(specs):
        valid_on = festival.starts_on + dt.timedelta(days=day) if day is not None else None
        if valid_on is not None and valid_on > festival.ends_on:
            continue
        tt, _ = TicketType.objects.update_or_create(
            festival=festival,
            name=name,
            defaults={
                "description": desc,
                "tier_rank": rank,
                "price_amount": price,
                "currency": currency,
                "capacity": capacity,
                "per_order_limit": limit,
                "valid_on": valid_on,
                "is_active": True,
                "sort_order": sort,
            },
        )
        out.append(tt)
    return out
