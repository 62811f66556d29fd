"""Drop the cached entry rule of a ticket type (services/commit.py `_rule_for`) when it changes,
whoever changes it (entry_rule_set or the admin)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from domains.common import readcache
from domains.scanning.models import TicketTypeEntryRule


def rule_changed(ticket_type_id: int) -> None:
    from domains.scanning.services.commit import rule_scope

    readcache.changed(rule_scope(ticket_type_id))


def _saved(sender, instance: TicketTypeEntryRule, **kwargs) -> None:
    rule_changed(instance.ticket_type_id)


def _gates_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_") and isinstance(instance, TicketTypeEntryRule):
        rule_changed(instance.ticket_type_id)


def connect() -> None:
    post_save.connect(_saved, sender=TicketTypeEntryRule, dispatch_uid="readcache-entryrule-save")
    post_delete.connect(_saved, sender=TicketTypeEntryRule, dispatch_uid="readcache-entryrule-delete")
    m2m_changed.connect(_gates_changed, sender=TicketTypeEntryRule.allowed_gates.through, dispatch_uid="readcache-entryrule-gates")
