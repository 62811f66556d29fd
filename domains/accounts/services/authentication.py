"""Login, refresh-token rotation, logout, and turning an access token into a user."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from domains.accounts.errors import AccountErrorCode
from domains.accounts.models import AuthSession, RefreshToken, User, normalize_email
from domains.accounts.throttling import LoginGate
from domains.accounts.tokens import (
    AccessClaims,
    InvalidAccessToken,
    decode_access_token,
    encode_access_token,
    hash_secret,
    new_secret,
)
from domains.common import authcache, fixed_sql
from domains.common.clock import now
from domains.common.errors import DomainError

# Hashing a password for an unknown email costs the same time as a real check, so the
# answer's timing does not tell whether the account exists.
_DUMMY_HASH = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    session: AuthSession
    user: User


def _issue_pair(session: AuthSession, user: User) -> TokenPair:
    raw = new_secret()
    RefreshToken.objects.create(
        session=session, token_hash=hash_secret(raw), expires_at=now() + settings.JWT_REFRESH_TTL
    )
    access = encode_access_token(
        user_public_id=user.public_id, session_id=session.id, token_version=user.token_version, role=user.role
    )
    return TokenPair(access, raw, session, user)


def session_start(*, user: User, user_agent: str = "") -> TokenPair:
    """A new session (refresh family) for a user whose identity is already proven."""
    session = AuthSession.objects.create(user=user, user_agent=user_agent[:200])
    return _issue_pair(session, user)


def session_login(*, email: str, password: str, client_ip: str, user_agent: str = "") -> TokenPair:
    """Check the password under the login throttle and start a session.

    Wrong password and unknown email give the same INVALID_CREDENTIALS answer.
    """
    global _DUMMY_HASH
    email = normalize_email(email)
    gate = LoginGate(client_ip=client_ip, email=email)
    gate.enter()
    user = User.objects.filter(email=email).first()
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or make_password("not-a-real-password")
        check_password(password, _DUMMY_HASH)
        ok = False
    else:
        ok = user.check_password(password)
    if not ok or not user.is_active:
        gate.failure()
        raise DomainError(AccountErrorCode.INVALID_CREDENTIALS, "Email or password is wrong.")
    gate.success()
    with transaction.atomic():
        return session_start(user=user, user_agent=user_agent)


def password_confirm(*, user: User, password: str | None, client_ip: str, field: str, message: str) -> None:
    """A signed-in person proves they know the password (to change it, to erase the account):
    counted like a login, under the same per-account and per-address failure limits and growing
    delay (LoginGate), so a stolen session cannot guess it at request speed."""
    gate = LoginGate(client_ip=client_ip, email=user.email)
    gate.enter()
    if not user.check_password(password or ""):
        gate.failure()
        raise DomainError(AccountErrorCode.INVALID_CREDENTIALS, message, field)
    gate.success()


def session_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate a refresh token: the presented one is spent and a new pair is issued.

    Presenting a token that was already used means it leaked (or a client raced itself):
    the whole family is revoked, so whoever holds the newer token is logged out too.
    """
    token_hash = hash_secret(refresh_token or "")
    invalid = DomainError(AccountErrorCode.INVALID_TOKEN, "Refresh token is not valid.", "refreshToken")
    with transaction.atomic():
        token = (
            RefreshToken.objects.select_for_update()
            .select_related("session__user")
            .filter(token_hash=token_hash)
            .first()
        )
        if token is None:
            raise invalid
        session = token.session
        reused = token.used_at is not None
        if reused:
            # Revoke, commit, and only then refuse (raising here would roll it back).
            if session.revoked_at is None:
                session.revoked_at = now()
                session.revoked_reason = "refresh_reuse"
                session.save(update_fields=["revoked_at", "revoked_reason"])
        else:
            if session.revoked_at is not None or not session.user.is_active:
                raise invalid
            if token.expires_at <= now():
                raise DomainError(AccountErrorCode.TOKEN_EXPIRED, "Refresh token has expired.", "refreshToken")
            token.used_at = now()
            token.save(update_fields=["used_at"])
            pair = _issue_pair(session, session.user)
    if reused:
        raise invalid
    return pair


def session_logout(*, session_id, refresh_token: str | None = None) -> None:
    """Revoke the session: its refresh tokens and access tokens stop working at once."""
    AuthSession.objects.filter(id=session_id, revoked_at__isnull=True).update(revoked_at=now(), revoked_reason="logout")
    authcache.changed(session_scope(session_id))


# The session -> user look-up of every authenticated request, kept per process while neither
# the session nor the user changed (domains/common/authcache.py). Whatever writes a session or
# a user bumps its scope: the post_save/post_delete signals (domains/accounts/signals.py) and,
# for queryset updates, the services that run them (`session_logout`, `user_auth_changed`).
_sessions = authcache.VersionedLRU("sessions")


def user_scope(user_public_id) -> str:
    return f"user:{user_public_id}"


def session_scope(session_id) -> str:
    return f"session:{session_id}"


def user_auth_changed(user: User) -> None:
    """After a queryset update of a user or of their sessions: cached look-ups reload."""
    authcache.changed(user_scope(user.public_id))


def _load_session(session_id) -> AuthSession | None:
    """The session with its user (one query), as the ORM would load them. Fixed SQL: compiling
    this query was most of a cold look-up's CPU, and every buyer's first request in an on-sale
    rush is one (domains/common/fixed_sql.py)."""
    found = fixed_sql.fetch(AuthSession, by="id", values=[session_id], related=("user",))
    return found[0] if found else None


def authenticate_access_token(raw: str, *, versions: authcache.RequestVersions | None = None) -> tuple[User, AuthSession]:
    """The user and session behind an access token, or InvalidAccessToken.

    The session with its user (one query, or none while cached); both must still be valid.
    `versions`: the request's shared version reads (domains/common/authcache.py).
    """
    return authenticate_claims(decode_access_token(raw), versions=versions)


def authenticate_claims(claims: AccessClaims, *, versions: authcache.RequestVersions | None = None) -> tuple[User, AuthSession]:
    """The user and session an access token's claims name while both are still valid: the
    session not revoked (logout, password change, reuse of a spent refresh token), the user
    active and at the token's version (a role change, erasure). Expiry is the token's own
    (`decode_access_token`): a connection authenticated once, a WebSocket, re-checks these."""
    session = _sessions.get(
        claims.session_id,
        (session_scope(claims.session_id), user_scope(claims.user_public_id)),
        lambda: _load_session(claims.session_id),
        request=versions,
    )
    if session is None or session.revoked_at is not None:
        raise InvalidAccessToken("revoked")
    user = session.user
    if user.public_id != claims.user_public_id or not user.is_active or user.token_version != claims.token_version:
        raise InvalidAccessToken("revoked")
    return user, session
