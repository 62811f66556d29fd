"""Access tokens (JWT) and opaque secrets (refresh, reset, verification).

Rules:
- Access tokens are HS256 JWTs signed with a key derived from DJANGO_SECRET_KEY; decoding
  pins that one algorithm and requires exp, iat, iss, sub, sid, ver and typ="access".
- An access token is honoured only while its session (refresh family) is not revoked and
  the user's token_version still equals `ver`: logout, password change and role change end
  it on the next request, not at expiry.
- Refresh and one-time tokens are random and stored only as SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt
from django.conf import settings

from domains.common.clock import now
from domains.common.signing import derive_key

ALGORITHM = "HS256"
ACCESS_TYPE = "access"


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return derive_key(secret, "jwt-hs256-v1")


def jwt_key() -> bytes:
    return _key(settings.SECRET_KEY)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def encode_access_token(*, user_public_id: uuid.UUID, session_id: uuid.UUID, token_version: int, role: str) -> str:
    issued = now()
    claims = {
        "iss": settings.JWT_ISSUER,
        "sub": str(user_public_id),
        "sid": str(session_id),
        "ver": token_version,
        "role": role,
        "typ": ACCESS_TYPE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + settings.JWT_ACCESS_TTL).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, jwt_key(), algorithm=ALGORITHM)


@dataclass(frozen=True)
class AccessClaims:
    user_public_id: uuid.UUID
    session_id: uuid.UUID
    token_version: int


class InvalidAccessToken(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode_access_token(raw: str) -> AccessClaims:
    """The token's claims, or InvalidAccessToken naming why it is refused."""
    try:
        claims = jwt.decode(
            raw,
            jwt_key(),
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "iss", "sub", "sid", "ver", "typ"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAccessToken("expired") from None
    except jwt.PyJWTError:
        raise InvalidAccessToken("invalid") from None
    if claims.get("typ") != ACCESS_TYPE or not isinstance(claims.get("ver"), int):
        raise InvalidAccessToken("invalid")
    try:
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), claims["ver"])
    except (ValueError, TypeError, AttributeError):
        raise InvalidAccessToken("invalid") from None
