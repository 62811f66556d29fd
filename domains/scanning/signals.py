"""Drop cached scanning look-ups when their rows change, whoever changes them (services or the
admin): a ticket type's entry rule (services/commit.py `_rule_for`) and a scanner device's
authentication (services/devices.py `device_authenticate`)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from domains.common import readcache
from domains.scanning.models import Gate, ScannerDevice, TicketTypeEntryRule


def rule_changed(ticket_type_id: int) -> None:
    from domains.scanning.services.commit import rule_scope

    readcache.changed(rule_scope(ticket_type_id))


def _saved(sender, instance: TicketTypeEntryRule, **kwargs) -> None:
    rule_changed(instance.ticket_type_id)


def _gates_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_") and isinstance(instance, TicketTypeEntryRule):
        rule_changed(instance.ticket_type_id)


def _device_saved(sender, instance: ScannerDevice, created: bool = False, **kwargs) -> None:
    """Cached device authentication (services/devices.py) reloads after any change."""
    if created:
        return
    from domains.common import authcache
    from domains.scanning.services.devices import device_scope

    authcache.changed(device_scope(instance.public_id))


def _gate_saved(sender, instance: Gate, created: bool = False, **kwargs) -> None:
    if created:
        return
    from domains.common import authcache
    from domains.scanning.services.devices import device_scope

    ids = ScannerDevice.objects.filter(gate_id=instance.pk).values_list("public_id", flat=True)
    authcache.changed(*(device_scope(i) for i in ids))


def connect() -> None:
    post_save.connect(_device_saved, sender=ScannerDevice, dispatch_uid="authcache-device-save")
    post_delete.connect(_device_saved, sender=ScannerDevice, dispatch_uid="authcache-device-delete")
    post_save.connect(_gate_saved, sender=Gate, dispatch_uid="authcache-gate-save")
    post_save.connect(_saved, sender=TicketTypeEntryRule, dispatch_uid="readcache-entryrule-save")
    post_delete.connect(_saved, sender=TicketTypeEntryRule, dispatch_uid="readcache-entryrule-delete")
    m2m_changed.connect(_gates_changed, sender=TicketTypeEntryRule.allowed_gates.through, dispatch_uid="readcache-entryrule-gates")
