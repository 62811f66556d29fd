"""Scanning services: every write about gates, devices, scans and admissions."""

from domains.scanning.services.batch import OfflineScan, scan_commit_batch
from domains.scanning.services.commit import ScanResult, scan_commit, scan_validate, throttle
from domains.scanning.services.devices import (
    RegisteredDevice,
    device_authenticate,
    device_gate,
    gate_create,
    gate_get,
    scanner_device_rebind,
    scanner_device_register,
    scanner_device_revoke,
)
from domains.scanning.services.rules_admin import entry_rule_set
from domains.scanning.services.supervisor import is_supervisor, require_supervisor, scan_manual_admit, scan_restore

__all__ = [
    "OfflineScan",
    "RegisteredDevice",
    "ScanResult",
    "device_authenticate",
    "device_gate",
    "entry_rule_set",
    "gate_create",
    "gate_get",
    "is_supervisor",
    "require_supervisor",
    "scan_commit",
    "scan_commit_batch",
    "scan_manual_admit",
    "scan_restore",
    "scan_validate",
    "scanner_device_rebind",
    "scanner_device_register",
    "scanner_device_revoke",
    "throttle",
]
