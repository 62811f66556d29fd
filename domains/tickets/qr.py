"""Signed QR payloads, shared by tickets, scanning, wallet passes and vendors.

Format (version 1), ASCII, dot-separated, compact enough for a small QR:

    FT1.<kid>.<kind>.<32 hex public id>.<secret version>.<base64url Ed25519 signature>

* ``FT1``: format and version; a new format gets a new prefix, old ones keep decoding.
* ``kid``: id of the signing key (``domains.common.signing.qr_key_id``), so keys can rotate
  and offline scanners pick the public key (``scannerKeys``).
* ``kind``: one upper-case letter. ``T`` ticket, ``V`` vendor; others may be added.
* the signature covers every byte before the last dot.

``qr_decode`` checks the signature (not the database): it answers *who* the code names and
*which* secret version it carries. Whether that version is still current (the ticket was
transferred or voided) is the caller's question (compare with ``Ticket.secret_version``).
"""

from __future__ import annotations

import re
import uuid
from typing import NamedTuple

from domains.common.signing import b64url, b64url_decode, qr_key_id, sign_qr, verify_qr

PREFIX = "FT1"
KIND_TICKET = "T"
KIND_VENDOR = "V"

_PATTERN = re.compile(
    r"^FT1\.(?P<kid>[0-9a-f]{8})\.(?P<kind>[A-Z])\.(?P<id>[0-9a-f]{32})\.(?P<version>[0-9]{1,9})\.(?P<sig>[A-Za-z0-9_-]{86})$"
)


class InvalidQrCode(ValueError):
    """The code is malformed, or its signature does not verify (forged, or another key)."""

    def __init__(self, reason: str):
        super().__init__(f"invalid QR code: {reason}")
        self.reason = reason


class QrPayload(NamedTuple):
    kind: str
    public_id: uuid.UUID
    version: int


def qr_encode_payload(kind: str, public_id: uuid.UUID | str, version: int) -> str:
    if not (len(kind) == 1 and "A" <= kind <= "Z"):
        raise ValueError("kind must be one upper-case letter")
    if not isinstance(version, int) or version < 0 or version > 999_999_999:
        raise ValueError("version must be a non-negative integer")
    body = f"{PREFIX}.{qr_key_id()}.{kind}.{uuid.UUID(str(public_id)).hex}.{version}"
    return f"{body}.{b64url(sign_qr(body.encode('ascii')))}"


def qr_encode(ticket) -> str:
    """The code for a ticket's current secret version."""
    return qr_encode_payload(KIND_TICKET, ticket.public_id, ticket.secret_version)


def qr_decode(code: str, *, expected_kind: str | None = None) -> QrPayload:
    """(kind, public id, version) of an authentic code; InvalidQrCode otherwise."""
    if not isinstance(code, str):
        raise InvalidQrCode("not text")
    code = code.strip()
    match = _PATTERN.match(code)
    if match is None:
        raise InvalidQrCode("unknown format" if not code.startswith(PREFIX + ".") else "malformed")
    body, _, _sig = code.rpartition(".")
    try:
        signature = b64url_decode(match["sig"])
    except ValueError:
        raise InvalidQrCode("malformed signature") from None
    # base64 leaves spare bits in the last character: only the canonical spelling is the
    # code, so one ticket has exactly one code string (duplicate detection compares strings).
    if b64url(signature) != match["sig"]:
        raise InvalidQrCode("malformed signature")
    if not verify_qr(match["kid"], body.encode("ascii"), signature):
        raise InvalidQrCode("bad signature")
    if expected_kind is not None and match["kind"] != expected_kind:
        raise InvalidQrCode("wrong kind")
    return QrPayload(match["kind"], uuid.UUID(hex=match["id"]), int(match["version"]))
