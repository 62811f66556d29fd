"""Demo gates for a festival, so that a newcomer can register a scanner device and scan a
demo ticket at once (`registerScannerDevice` as staff@festival.example). Idempotent: keyed by
name."""

from __future__ import annotations

from domains.events.models import Festival
from domains.scanning.models import Gate

DEMO_GATES = ("Main gate", "North gate")


def seed_gates(festival: Festival) -> None:
    for name in DEMO_GATES:
        Gate.objects.get_or_create(festival=festival, name=name)
