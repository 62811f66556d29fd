"""Account mutations: parse, authorise, call one service, map the result."""

from __future__ import annotations

import strawberry
import strawberry_django
from django.conf import settings
from strawberry.types import Info

from domains.accounts import privacy, services
from domains.accounts.services.authentication import TokenPair
from schema.accounts.types import AuthPayload, OkPayload, UserPayload, UserType
from schema.context import client_ip, require_viewer, user_agent
from schema.errors import payload_errors
from schema.permissions import authenticated, public
from schema.ratelimits import email_argument, rate_limited


def _auth_payload(pair: TokenPair) -> AuthPayload:
    return AuthPayload(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_token_expires_in=int(settings.JWT_ACCESS_TTL.total_seconds()),
        user=UserType.from_model(pair.user),
    )


@strawberry.type
class AccountMutation:
    @strawberry_django.mutation(
        extensions=public(),
        description="Create an account and email a verification link. The answer is the same "
        "whether or not the address already has an account; then log in.",
    )
    @payload_errors(OkPayload)
    @rate_limited("register", account=email_argument())
    def register(self, info: Info, email: str, password: str, full_name: str = "") -> OkPayload:
        services.user_register(email=email, password=password, full_name=full_name)
        return OkPayload(ok=True)

    @strawberry_django.mutation(extensions=public(), description="Confirm an email address with the emailed token.")
    @payload_errors(UserPayload)
    def verify_email(self, info: Info, token: str) -> UserPayload:
        return UserPayload(user=UserType.from_model(services.user_verify_email(token=token)))

    @strawberry_django.mutation(extensions=public(), description="Email + password -> access and refresh token.")
    @payload_errors(AuthPayload)
    @rate_limited("login")
    def login(self, info: Info, email: str, password: str) -> AuthPayload:
        pair = services.session_login(
            email=email, password=password, client_ip=client_ip(info), user_agent=user_agent(info)
        )
        return _auth_payload(pair)

    @strawberry_django.mutation(
        extensions=public(),
        description="Spend a refresh token for a new pair. Replaying a spent one logs the whole session out.",
    )
    @payload_errors(AuthPayload)
    def refresh_token(self, info: Info, refresh_token: str) -> AuthPayload:
        return _auth_payload(services.session_refresh(refresh_token=refresh_token))

    @strawberry_django.mutation(extensions=authenticated(), description="End this session (all its tokens).")
    @payload_errors(OkPayload)
    def logout(self, info: Info) -> OkPayload:
        services.session_logout(session_id=require_viewer(info).session.id)
        return OkPayload(ok=True)

    @strawberry_django.mutation(extensions=authenticated())
    @payload_errors(UserPayload)
    def update_me(self, info: Info, full_name: str | None = None, phone: str | None = None) -> UserPayload:
        user = services.user_update_profile(user=require_viewer(info).user, full_name=full_name, phone=phone)
        return UserPayload(user=UserType.from_model(user))

    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Change the password. Every session ends; the answer carries a new token pair.",
    )
    @payload_errors(AuthPayload)
    def change_password(self, info: Info, current_password: str, new_password: str) -> AuthPayload:
        pair = services.password_change(
            user=require_viewer(info).user,
            current_password=current_password,
            new_password=new_password,
            client_ip=client_ip(info),
            user_agent=user_agent(info),
        )
        return _auth_payload(pair)

    @strawberry_django.mutation(
        extensions=public(), description="Email a reset link if the address has an account. Always answers ok."
    )
    @payload_errors(OkPayload)
    @rate_limited("password_reset", account=email_argument())
    def request_password_reset(self, info: Info, email: str) -> OkPayload:
        services.password_reset_request(email=email)
        return OkPayload(ok=True)

    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Erase your account: your profile, sessions and contact details go; orders and invoices stay "
        "(the invoice keeps your name, as tax law requires). Needs your password. Signs you out everywhere.",
    )
    @payload_errors(OkPayload)
    def erase_me(self, info: Info, password: str) -> OkPayload:
        privacy.user_erase(user=require_viewer(info).user, password=password, client_ip=client_ip(info))
        return OkPayload(ok=True)

    @strawberry_django.mutation(extensions=public(), description="Set a new password with an emailed reset token.")
    @payload_errors(OkPayload)
    def reset_password(self, info: Info, token: str, new_password: str) -> OkPayload:
        services.password_reset(token=token, new_password=new_password)
        return OkPayload(ok=True)
