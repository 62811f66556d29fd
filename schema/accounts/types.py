from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from domains.accounts.models import Role as RoleModel
from domains.accounts.models import User
from schema.errors import Error

Role = strawberry.enum(Enum("Role", {r.name: r.value for r in RoleModel}), description="What a user may do.")


@strawberry.type(name="User")
class UserType:
    id: uuid.UUID
    email: str
    full_name: str
    phone: str
    role: Role
    email_verified: bool
    date_joined: datetime

    @classmethod
    def from_model(cls, user: User) -> UserType:
        return cls(
            id=user.public_id,
            email=user.email,
            full_name=user.full_name,
            phone=user.phone,
            role=Role(user.role),
            email_verified=user.email_verified_at is not None,
            date_joined=user.date_joined,
        )


@strawberry.type
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_expires_in: int | None = strawberry.field(default=None, description="Seconds.")
    user: UserType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class OkPayload:
    ok: bool = False
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: UserType | None = None
    errors: list[Error] = strawberry.field(default_factory=list)
