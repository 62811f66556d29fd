"""Gates and scanner devices: registration, revocation, authentication of the scanner app."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from domains.common import authcache
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


def gate_get(*, gate_id, festival=None, field: str = "gate") -> Gate:
    """An active gate (of `festival` when given); GATE_NOT_FOUND on `field`, the argument that
    named it (`gate` for scans, `gateId` for devices)."""
    try:
        gate = Gate.objects.select_related("festival").get(public_id=uuid.UUID(str(gate_id)), is_active=True)
    except (ValueError, Gate.DoesNotExist):
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", field) from None
    if festival is not None and gate.festival_id != festival.id:
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", field)
    return gate


def scanner_device_register(*, gate_id, name: str, registered_by) -> RegisteredDevice:
    """A new device bound to a gate, with a fresh token (shown once, stored hashed)."""
    gate = gate_get(gate_id=gate_id, field="gateId")
    name = (name or "").strip()[:100] or "scanner"
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = ScannerDevice.objects.create(gate=gate, name=name, token_hash=_hash(token), registered_by=registered_by)
    return RegisteredDevice(device, token)


def scanner_device_revoke(*, device_id, revoked_by) -> ScannerDevice:
    """Revoked devices fail authentication from the next request on; their logs stay."""
    with transaction.atomic():
        try:
            device = ScannerDevice.objects.select_for_update(of=("self",)).select_related("gate").get(public_id=uuid.UUID(str(device_id)))
        except (ValueError, ScannerDevice.DoesNotExist):
            raise NotFound("Device", "deviceId") from None
        if device.revoked_at is None:
            device.revoked_at = now()
            device.revoked_by = revoked_by
            device.save(update_fields=["revoked_at", "revoked_by"])
        return device


def scanner_device_rebind(*, device_id, gate_id) -> ScannerDevice:
    gate = gate_get(gate_id=gate_id, field="gateId")
    try:
        device = ScannerDevice.objects.get(public_id=uuid.UUID(str(device_id)), revoked_at__isnull=True)
    except (ValueError, ScannerDevice.DoesNotExist):
        raise NotFound("Device", "deviceId") from None
    if device.gate.festival_id != gate.festival_id:
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "No such gate.", "gateId")
    device.gate = gate
    device.save(update_fields=["gate"])
    return device


# Device token -> device (with its gate and festival), kept per process while the device is
# unchanged (domains/common/authcache.py): saving a device (revoke, move) or its gate bumps it.
_devices = authcache.VersionedLRU("devices")


def device_scope(device_public_id) -> str:
    return f"device:{device_public_id}"


def _load_device(public_id: uuid.UUID, token_hash: str) -> ScannerDevice | None:
    """The device if the token is its own (a wrong token is never cached)."""
    found = list(ScannerDevice.objects.select_related("gate__festival").filter(public_id=public_id)[:1])
    if not found or not hmac.compare_digest(found[0].token_hash, token_hash):
        return None
    return found[0]


def device_scopes_for_token(token: str | None) -> tuple[str, ...]:
    """What `device_authenticate` will check for this token if its device is cached, so that a
    request can read it together with its other versions (one MGET)."""
    return _devices.scopes_of(_hash(token)) if token else ()


def device_authenticate(*, device_id, token: str | None, versions: authcache.RequestVersions | None = None) -> ScannerDevice:
    """The device named by `device_id` if `token` is its token and it is not revoked.
    Every failure gets the same answer (no oracle for device ids)."""
    refused = DomainError(ScanningErrorCode.DEVICE_NOT_AUTHORISED, "This scanner is not authorised.", "deviceId")
    if not token or not device_id:
        raise refused
    try:
        public_id = uuid.UUID(str(device_id))
    except ValueError:
        raise refused from None
    token_hash = _hash(token)
    # Keyed by the token alone (a request naming another device has other scopes: a reload).
    device = _devices.get(
        token_hash, (device_scope(public_id),), lambda: _load_device(public_id, token_hash), request=versions
    )
    if device is None or device.revoked_at is not None or not hmac.compare_digest(device.token_hash, token_hash):
        raise refused
    return device


def device_gate(*, device: ScannerDevice, claimed_gate_id=None, field: str = "gate") -> Gate:
    """The gate a device scans at is the one it is registered at, online or offline; a scan that
    names another gate is refused (DEVICE_GATE_MISMATCH) rather than logged at the wrong gate
    (where another ticket type's gate rule would let it in), and a gate that was closed
    (deactivated) admits no one through its scanners (GATE_NOT_FOUND, as for `gate_get`)."""
    if claimed_gate_id is not None and str(claimed_gate_id) != str(device.gate.public_id):
        raise DomainError(ScanningErrorCode.DEVICE_GATE_MISMATCH, "This scanner is registered at another gate.", field)
    if not device.gate.is_active:
        raise DomainError(ScanningErrorCode.GATE_NOT_FOUND, "This scanner's gate is closed.", field)
    return device.gate
