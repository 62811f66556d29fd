"""Gates and scanner devices: registration, revocation, authentication of the scanner app."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError, NotFound
from domains.scanning.errors import ScanningErrorCode
from domains.scanning.models import Gate, ScannerDevice

TOKEN_PREFIX = "sdt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RegisteredDevice:
    device: ScannerDevice
    # Shown once; only its hash is stored.
    token: str


def gate_create(*, festival, name: str) -> Gate:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "A gate needs a name of at most 100 characters.", "name")
    try:
        with transaction.atomic():
            return Gate.objects.create(festival=festival, name=name)
    except IntegrityError:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "A gate with this name exists.", "name") from None


def gate_get(*, gate_id, festival=None) -> Gate:
    try:
        gate = Gate.objects.select_related("festival").get(public_id=uuid.UUID(str(gate_id)), is_active=True)
    except (ValueError, Gate.DoesNotExist):
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", "gate") from None
    if festival is not None and gate.festival_id != festival.id:
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", "gate")
    return gate


def scanner_device_register(*, gate_id, name: str, registered_by) -> RegisteredDevice:
    """A new device bound to a gate, with a fresh token (shown once, stored hashed)."""
    gate = gate_get(gate_id=gate_id)
    name = (name or "").strip()[:100] or "scanner"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = ScannerDevice.objects.create(gate=gate, name=name, token_hash=_hash(token), registered_by=registered_by)
    return RegisteredDevice(device, token)


def scanner_device_revoke(*, device_id, revoked_by) -> ScannerDevice:
    """Revoked devices fail authentication from the next request on; their logs stay."""
    with transaction.atomic():
        try:
            device = ScannerDevice.objects.select_for_update().select_related("gate").get(public_id=uuid.UUID(str(device_id)))
        except (ValueError, ScannerDevice.DoesNotExist):
            raise NotFound("Device", "deviceId") from None
        if device.revoked_at is None:
            device.revoked_at = now()
            device.revoked_by = revoked_by
            device.save(update_fields=["revoked_at", "revoked_by"])
        return device


def scanner_device_rebind(*, device_id, gate_id) -> ScannerDevice:
    gate = gate_get(gate_id=gate_id)
    try:
        device = ScannerDevice.objects.get(public_id=uuid.UUID(str(device_id)), revoked_at__isnull=True)
    except (ValueError, ScannerDevice.DoesNotExist):
        raise NotFound("Device", "deviceId") from None
    if device.gate.festival_id != gate.festival_id:
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", "gateId")
    device.gate = gate
    device.save(update_fields=["gate"])
    return device


def device_authenticate(*, device_id, token: str | None) -> ScannerDevice:
    """The device named by `device_id` if `token` is its token and it is not revoked.
    Every failure gets the same answer (no oracle for device ids)."""
    refused = DomainError(ScanningErrorCode.DEVICE_NOT_AUTHORISED, "This scanner is not authorised.", "deviceId")
    if not token or not device_id:
        raise refused
    try:
        device = ScannerDevice.objects.select_related("gate__festival").get(public_id=uuid.UUID(str(device_id)))
    except (ValueError, ScannerDevice.DoesNotExist):
        raise refused from None
    if device.revoked_at is not None or not hmac.compare_digest(device.token_hash, _hash(token)):
        raise refused
    return device
