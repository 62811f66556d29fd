"""Codes of expected failures around scanning (a gate refusal is a verdict, not an error)."""

from enum import StrEnum


class ScanningErrorCode(StrEnum):
    # The device id and token do not match a registered, unrevoked device.
    DEVICE_NOT_AUTHORISED = "DEVICE_NOT_AUTHORISED"
    # The scan names a gate other than the one its device is bound to.
    DEVICE_GATE_MISMATCH = "DEVICE_GATE_MISMATCH"
    GATE_NOT_FOUND = "GATE_NOT_FOUND"
    # Looking tickets up, admitting or restoring by hand needs the supervisor permission.
    SUPERVISOR_REQUIRED = "SUPERVISOR_REQUIRED"
    # Restore asked for a ticket that is not currently admitted.
    NOT_ADMITTED = "NOT_ADMITTED"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
