"""Cached authentication look-ups (services/authentication.py) reload once a user or a session
row changes, whoever saves it (services, the admin, a management command)."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from domains.accounts.models import AuthSession, User


def _user_saved(sender, instance: User, created: bool = False, **kwargs) -> None:
    if created:  # nothing can have cached a user that did not exist
        return
    from domains.accounts.services.authentication import user_auth_changed

    user_auth_changed(instance)


def _session_saved(sender, instance: AuthSession, created: bool = False, **kwargs) -> None:
    if created:  # nothing can have cached a session that did not exist
        return
    from domains.accounts.services.authentication import session_scope
    from domains.common import authcache

    authcache.changed(session_scope(instance.pk))


def connect() -> None:
    post_save.connect(_user_saved, sender=User, dispatch_uid="authcache-user-save")
    post_delete.connect(_user_saved, sender=User, dispatch_uid="authcache-user-delete")
    post_save.connect(_session_saved, sender=AuthSession, dispatch_uid="authcache-session-save")
    post_delete.connect(_session_saved, sender=AuthSession, dispatch_uid="authcache-session-delete")
