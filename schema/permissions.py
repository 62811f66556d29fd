"""Declarative permissions. Every root field declares one of `public()` or `requires(...)`;
tests/schema/test_permission_walk.py fails for a field that declares neither."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from domains.accounts.models import Role
from schema.context import get_viewer


class IsAuthenticated(BasePermission):
    # Missing, expired, revoked and forged tokens all get this answer; a client refreshes.
    message = "Authentication required."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs) -> bool:
        return get_viewer(info) is not None


class HasRole(BasePermission):
    message = "You do not have permission to do this."
    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, *roles: str):
        self.roles = frozenset(roles)

    def has_permission(self, source: Any, info: Info, **kwargs) -> bool:
        viewer = get_viewer(info)
        return viewer is not None and viewer.user.role in self.roles


class Public(FieldExtension):
    """Marks a field as deliberately open to anonymous callers."""

    def resolve(self, next_, source, info, **kwargs):
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info, **kwargs):
        return await next_(source, info, **kwargs)


STAFF_ROLES = (Role.STAFF, Role.ADMIN)


def public() -> list[FieldExtension]:
    return [Public()]


def authenticated() -> list[FieldExtension]:
    return [PermissionExtension(permissions=[IsAuthenticated()], use_directives=False)]


def requires(*roles: str) -> list[FieldExtension]:
    """Only viewers holding one of `roles` (admin always passes staff checks by listing it)."""
    return [PermissionExtension(permissions=[IsAuthenticated(), HasRole(*roles)], use_directives=False)]


def staff_only() -> list[FieldExtension]:
    return requires(*STAFF_ROLES)


def admin_only() -> list[FieldExtension]:
    return requires(Role.ADMIN)
