"""Small ORM factories for scanning tests (tickets are created directly, not through checkout)."""

from __future__ import annotations

import datetime as dt
import itertools

from domains.events.models import Festival
from domains.scanning.models import TicketTypeEntryRule
from domains.scanning.services import gate_create, scanner_device_register
from domains.tickets.models import Ticket, TicketType

_seq = itertools.count(1)


def festival(**kw) -> Festival:
    n = next(_seq)
    defaults = dict(
        slug=f"fest-{n}", name=f"Fest {n}", starts_on=dt.date(2026, 7, 3), ends_on=dt.date(2026, 7, 5),
        timezone="Europe/Berlin", venue_name="Field", status=Festival.Status.LIVE,
    )
    defaults.update(kw)
    return Festival.objects.create(**defaults)


def ticket_type(fest, *, name=None, valid_on=None, mode=None, allow_exit=False, gates=(), capacity=10_000) -> TicketType:
    tt = TicketType.objects.create(
        festival=fest, name=name or f"Type {next(_seq)}", price_amount=5000, currency="EUR", capacity=capacity, valid_on=valid_on
    )
    if mode or allow_exit or gates:
        rule = TicketTypeEntryRule.objects.create(ticket_type=tt, mode=mode or TicketTypeEntryRule.Mode.SINGLE, allow_exit=allow_exit)
        rule.allowed_gates.set(gates)
    return tt


def ticket(tt, holder, **kw) -> Ticket:
    return Ticket.objects.create(ticket_type=tt, holder=holder, **kw)


def gate(fest, name=None):
    return gate_create(festival=fest, name=name or f"Gate {next(_seq)}")


def device(gate_, staff):
    """(device, token)"""
    registered = scanner_device_register(gate_id=gate_.public_id, name=f"phone {next(_seq)}", registered_by=staff)
    return registered.device, registered.token
