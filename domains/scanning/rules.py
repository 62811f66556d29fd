"""The entry rules as a pure function: given what is known about a ticket, the verdict.

No database access here; `services/commit.py` gathers the facts (under the ticket's row lock
for commits, without it for `scan_validate`) and applies the consequence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from domains.scanning.models import Direction, TicketTypeEntryRule, Verdict


@dataclass(frozen=True)
class Rule:
    mode: str = TicketTypeEntryRule.Mode.SINGLE
    allow_exit: bool = False
    allowed_gate_ids: frozenset[int] = frozenset()


DEFAULT_RULE = Rule()


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    # For ALREADY_USED: the admission that used the ticket (today's for daily passes).
    first_used_at: dt.datetime | None = None
    first_used_gate_id: int | None = None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def festival_day(at: dt.datetime, timezone_name: str) -> dt.date:
    """The festival-local calendar day of an instant (a day pass is valid on its local day)."""
    return at.astimezone(_zone(timezone_name)).date()


def decide(*, ticket, version: int, state, rule: Rule, gate_id: int, direction: str, day: dt.date) -> Decision:
    """Checked in order: VOIDED (refunded, cancelled, or an older secret version), NOT_VALID_TODAY
    (a day pass on another festival day), WRONG_GATE, then the entry rule: a single-entry ticket
    gets in once; a daily pass once per festival day; with exits allowed, a holder who was
    scanned out may come back in. Exit scans answer EXITED, EXIT_NOT_ALLOWED or NOT_INSIDE."""
    if ticket.status != ticket.Status.VALID:
        return Decision(Verdict.VOIDED, ticket.status)
    if version < ticket.secret_version:
        return Decision(Verdict.VOIDED, "superseded")
    if version > ticket.secret_version:  # never issued: treat like a forgery
        return Decision(Verdict.INVALID, "unknown version")
    valid_on = ticket.ticket_type.valid_on
    if valid_on is not None and valid_on != day:
        return Decision(Verdict.NOT_VALID_TODAY)
    if rule.allowed_gate_ids and gate_id not in rule.allowed_gate_ids:
        return Decision(Verdict.WRONG_GATE)

    admitted = state is not None and state.admissions > 0
    inside = state is not None and state.inside
    if direction == Direction.EXIT:
        if not rule.allow_exit:
            return Decision(Verdict.EXIT_NOT_ALLOWED)
        if not inside:
            return Decision(Verdict.NOT_INSIDE)
        return Decision(Verdict.EXITED)

    if not admitted:
        return Decision(Verdict.ADMITTED)
    # Every day admitted counts, not only the latest: an offline scan of an earlier day uploaded
    # late must not reopen today (`state.day` is the latest day, days_admitted all of them).
    admitted_that_day = day == state.day or day.isoformat() in (state.days_admitted or ())
    if rule.mode == TicketTypeEntryRule.Mode.DAILY and not admitted_that_day:
        return Decision(Verdict.ADMITTED)
    if rule.allow_exit and not inside:
        return Decision(Verdict.ADMITTED, "re-entry")
    if rule.mode == TicketTypeEntryRule.Mode.DAILY:
        if day != state.day:  # an earlier day: when and where it was first used there is not kept
            return Decision(Verdict.ALREADY_USED)
        return Decision(Verdict.ALREADY_USED, "", state.day_first_admitted_at, state.day_first_gate_id)
    return Decision(Verdict.ALREADY_USED, "", state.first_admitted_at, state.first_gate_id)
