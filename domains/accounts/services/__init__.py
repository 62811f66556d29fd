"""Account services: every write about users, sessions and passwords."""

from domains.accounts.services.authentication import (
    authenticate_access_token,
    session_login,
    session_logout,
    session_refresh,
)
from domains.accounts.services.passwords import (
    password_change,
    password_reset,
    password_reset_request,
    password_set_by_staff,
)
from domains.accounts.services.profile import user_set_role, user_update_profile
from domains.accounts.services.registration import user_register, user_verify_email

__all__ = [
    "authenticate_access_token",
    "password_change",
    "password_reset",
    "password_reset_request",
    "password_set_by_staff",
    "session_login",
    "session_logout",
    "session_refresh",
    "user_register",
    "user_set_role",
    "user_update_profile",
    "user_verify_email",
]
