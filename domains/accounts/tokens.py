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
import time
import uuid
from collections import OrderedDict
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


# Tokens already verified, with their expiry: a client sends the same access token on every
# request for its whole lifetime, and verifying it (HMAC, JSON, claim checks) was a tenth of a
# gate scan's CPU. Only what was accepted is kept, keyed by the token, signing key and issuer; the
# expiry is still checked on every use. Revocation is not decided here but by the session and
# user behind the claims (services/authentication.py), on every request.
_verified: OrderedDict[tuple[str, bytes, str], tuple[AccessClaims, int]] = OrderedDict()
_VERIFIED_MAX = 10_000
_LEEWAY = 5


def decode_access_token(raw: str) -> AccessClaims:
    """The token's claims, or InvalidAccessToken naming why it is refused."""
    key = (raw, jwt_key(), settings.JWT_ISSUER)
    known = _verified.get(key)
    if known is not None:
        if time.time() <= known[1] + _LEEWAY:
            return known[0]
        _verified.pop(key, None)
    claims = _decode(raw)
    try:
        _verified[key] = claims
        while len(_verified) > _VERIFIED_MAX:
            _verified.popitem(last=False)
    except KeyError:  # another thread evicted first
        pass
    return claims[0]


def _decode(raw: str) -> tuple[AccessClaims, int]:
    try:
        claims = jwt.decode(
            raw,
            jwt_key(),
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "iss", "sub", "sid", "ver", "typ"]},
            leeway=_LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAccessToken("expired") from None
    except jwt.PyJWTError:
        raise InvalidAccessToken("invalid") from None
    # `ver` is compared with ==, and True == 1 in Python: a JSON true is not a version.
    if claims.get("typ") != ACCESS_TYPE or type(claims.get("ver")) is not int:
        raise InvalidAccessToken("invalid")
    try:
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), claims["ver"]), int(claims["exp"])
    except (ValueError, TypeError, AttributeError):
        raise InvalidAccessToken("invalid") from None
