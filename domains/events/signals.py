"""Drop the cached public reads (domains/common/readcache.py) when a festival changes."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from domains.common import readcache
from domains.events.models import Festival


def _festival_changed(sender, instance: Festival, **kwargs) -> None:
    # Which festival is "current", and its fields; the catalogue embeds the festival too.
    readcache.changed("festivals", f"catalogue:{instance.pk}")


def connect() -> None:
    post_save.connect(_festival_changed, sender=Festival, dispatch_uid="readcache-festival-save")
    post_delete.connect(_festival_changed, sender=Festival, dispatch_uid="readcache-festival-delete")
