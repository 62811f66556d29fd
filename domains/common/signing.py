"""Signing keys derived from the configured secrets, one purpose per key.

- QR codes (tickets, vendor setup) are signed with Ed25519 so that scanners verify them
  offline holding only the public key; the private key is derived from QR_SIGNING_SECRET
  and never leaves the server. Keys rotate: new codes are signed with the current secret's
  key, and codes signed with a key of QR_SIGNING_PREVIOUS_SECRETS keep verifying until the
  operator drops that secret (the key id in each code says which key signed it).
- Download links are HMAC-signed with a key derived from DJANGO_SECRET_KEY and expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose; keys for different purposes are unrelated."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"festival-backend", info=purpose.encode()).derive(
        secret.encode()
    )


@lru_cache(maxsize=8)
def _qr_private_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive_key(secret, "qr-ed25519-v1"))


def qr_private_key() -> Ed25519PrivateKey:
    return _qr_private_key(settings.QR_SIGNING_SECRET)


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# Derived once per secret: every gate scan verifies a signature, and deriving the public key
# and its id again each time cost more CPU than the verification itself.
@lru_cache(maxsize=8)
def _qr_public(secret: str) -> tuple[str, bytes, Ed25519PublicKey]:
    public = _qr_private_key(secret).public_key()
    raw = public_key_bytes(public)
    return hashlib.sha256(raw).hexdigest()[:8], raw, public


def qr_key_id() -> str:
    """Short id of the current QR key, carried in every code so keys can be rotated."""
    return _qr_public(settings.QR_SIGNING_SECRET)[0]


@lru_cache(maxsize=8)
def _qr_keyring(current: str, previous: tuple[str, ...]) -> dict[str, tuple[bytes, Ed25519PublicKey]]:
    """Key id -> public key of every secret whose codes verify, the current one first."""
    ring: dict[str, tuple[bytes, Ed25519PublicKey]] = {}
    for secret in (current, *previous):
        kid, raw, public = _qr_public(secret)
        if kid in ring and ring[kid][0] != raw:
            # Two different keys with one 8-hex id (about 1 in 4 billion): a code could not
            # say which key signed it. Refuse to guess; the operator picks another secret.
            raise ImproperlyConfigured("two QR signing secrets give the same key id; replace one of them")
        ring.setdefault(kid, (raw, public))
    return ring


def _keyring() -> dict[str, tuple[bytes, Ed25519PublicKey]]:
    return _qr_keyring(settings.QR_SIGNING_SECRET, tuple(settings.QR_SIGNING_PREVIOUS_SECRETS))


def qr_public_keys() -> list[tuple[str, bytes]]:
    """(key id, raw Ed25519 public key) pairs that scanners should trust, the current key first."""
    return [(kid, raw) for kid, (raw, _public) in _keyring().items()]


def sign_qr(message: bytes) -> bytes:
    return qr_private_key().sign(message)


def verify_qr(key_id: str, message: bytes, signature: bytes) -> bool:
    """True when `signature` over `message` is by the key `key_id` names, and that key is the
    current one or one of the previous secrets' (the key id is public: it is in every code)."""
    entry = _keyring().get(key_id)
    if entry is None:
        return False
    try:
        entry[1].verify(signature, message)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, or a signature of the wrong length
        return False


def _download_key() -> bytes:
    return derive_key(settings.SECRET_KEY, "download-url-v1")


def sign_download(kind: str, object_id: str, *, ttl: int | None = None, now: float | None = None) -> str:
    """A token naming one file of one object, valid for `ttl` seconds."""
    expires = int((now or time.time()) + (ttl or settings.DOWNLOAD_URL_TTL))
    body = f"{kind}.{object_id}.{expires}"
    mac = hmac.new(_download_key(), body.encode(), hashlib.sha256).digest()[:20]
    return f"{body}.{b64url(mac)}"


def verify_download(token: str, *, now: float | None = None) -> tuple[str, str] | None:
    """(kind, object id) when the token is authentic and unexpired, else None."""
    try:
        kind, object_id, expires, mac = token.split(".")
        expected = hmac.new(_download_key(), f"{kind}.{object_id}.{expires}".encode(), hashlib.sha256).digest()[:20]
        if not hmac.compare_digest(b64url(expected), mac):
            return None
        if int(expires) < (now or time.time()):
            return None
    except (ValueError, TypeError):
        return None
    return kind, object_id
