from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.scalars import JSON
from strawberry.types import Info

from domains.accounts.privacy import user_export
from schema.accounts.types import UserType
from schema.context import require_viewer
from schema.permissions import authenticated


@strawberry.type
class AccountQuery:
    @strawberry_django.field(extensions=authenticated(), description="The signed-in user.")
    def me(self, info: Info) -> UserType:
        return UserType.from_model(require_viewer(info).user)

    @strawberry_django.field(
        extensions=authenticated(),
        description="Everything we hold about the signed-in person (profile, orders, tickets, sessions, emails, transfers), as JSON.",
    )
    def export_my_data(self, info: Info) -> JSON:
        return user_export(user=require_viewer(info).user)
