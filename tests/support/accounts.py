"""GraphQL documents for the account operations and small helpers shared by account tests."""

from __future__ import annotations

import re

ERR = "errors { code message field retryAfter }"
USER = "user { id email fullName phone role emailVerified }"
AUTH = f"accessToken refreshToken accessTokenExpiresIn {USER} {ERR}"

REGISTER = f"""mutation Register($email: String!, $password: String!, $fullName: String! = "") {{
  register(email: $email, password: $password, fullName: $fullName) {{ ok {ERR} }} }}"""
VERIFY_EMAIL = f"""mutation Verify($token: String!) {{ verifyEmail(token: $token) {{ {USER} {ERR} }} }}"""
LOGIN = f"""mutation Login($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ {AUTH} }} }}"""
REFRESH = f"""mutation Refresh($token: String!) {{ refreshToken(refreshToken: $token) {{ {AUTH} }} }}"""
LOGOUT = f"""mutation Logout {{ logout {{ ok {ERR} }} }}"""
ME = "query Me { me { id email fullName phone role emailVerified } }"
UPDATE_ME = f"""mutation UpdateMe($fullName: String, $phone: String) {{
  updateMe(fullName: $fullName, phone: $phone) {{ {USER} {ERR} }} }}"""
CHANGE_PASSWORD = f"""mutation ChangePassword($current: String!, $new: String!) {{
  changePassword(currentPassword: $current, newPassword: $new) {{ {AUTH} }} }}"""
REQUEST_RESET = f"""mutation RequestReset($email: String!) {{ requestPasswordReset(email: $email) {{ ok {ERR} }} }}"""
RESET_PASSWORD = f"""mutation Reset($token: String!, $new: String!) {{
  resetPassword(token: $token, newPassword: $new) {{ ok {ERR} }} }}"""

NEW_PASSWORD = "another-long-passphrase-42"


def token_in(message) -> str:
    """The `token=` value of the link in an email."""
    match = re.search(r"token=([A-Za-z0-9_\-]+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def is_authenticated(client) -> bool:
    response = client.execute(ME)
    if response.errors:
        assert response.errors[0]["extensions"]["code"] == "UNAUTHENTICATED", response.errors
        return False
    return True
