from __future__ import annotations

import strawberry
import strawberry_django
from strawberry.types import Info

from schema.accounts.types import UserType
from schema.context import require_viewer
from schema.permissions import authenticated


@strawberry.type
class AccountQuery:
    @strawberry_django.field(extensions=authenticated(), description="The signed-in user.")
    def me(self, info: Info) -> UserType:
        return UserType.from_model(require_viewer(info).user)
