"""The vendor setup QR: the shared signed envelope of domains/tickets/qr.py with kind "V".

    FT1.<key id>.V.<booth assignment public_id hex>.<assignment qr_version>.<b64url Ed25519 signature>

The object is the booth assignment, not the profile: a new assignment is a new code, and an
ended assignment (or a bumped `qr_version`) makes every earlier code worthless. Offline
scanners verify the signature with `scannerKeys`; admission itself (window, crew limit,
suspension) needs the server (`vendor_setup_scan`).
"""

from __future__ import annotations

import uuid

from domains.tickets.qr import KIND_VENDOR, InvalidQrCode, qr_decode, qr_encode_payload


def setup_qr_encode(assignment) -> str:
    return qr_encode_payload(KIND_VENDOR, assignment.public_id, assignment.qr_version)


def setup_qr_decode(code: str) -> tuple[uuid.UUID, int] | None:
    """(assignment public id, qr version) of an authentic vendor code, else None."""
    try:
        payload = qr_decode(code, expected_kind=KIND_VENDOR)
    except InvalidQrCode:
        return None
    return payload.public_id, payload.version
