"""Apple's PassKit web service, minus HTTP: registrations, update lists, latest passes, logs.

The device authenticates each pass with `ApplePass <authenticationToken>`; a wrong token and
an unknown serial get the same answer (None / False) so that serials cannot be probed.
Update tags are microseconds since the epoch of `WalletPass.last_updated`: opaque to the
device, which sends back the `lastUpdated` it received.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import IntegrityError, transaction

from domains.wallet import render
from domains.wallet.credentials import apple_credentials
from domains.wallet.models import PassKitDeviceRegistration, PassKitLog, WalletPass

_PUSH_TOKEN = re.compile(r"^[0-9a-fA-F]{16,200}$")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_LOG_MESSAGES = 50
MAX_LOG_LENGTH = 2000


class InvalidRequest(ValueError):
    pass


def pass_type_matches(pass_type_identifier: str) -> bool:
    try:
        return apple_credentials().pass_type_identifier == pass_type_identifier
    except Exception:  # not configured: nothing is served
        return False


def authorised_pass(*, pass_type_identifier: str, serial_number: str, token: str | None) -> WalletPass | None:
    """The Apple pass with this serial when `token` is its authentication token, else None."""
    if not token or not pass_type_matches(pass_type_identifier):
        return None
    if not render.token_matches(serial_number, token):
        return None
    return (
        WalletPass.objects.select_related("ticket", "ticket_type__festival")
        .filter(serial_number=serial_number, kind=WalletPass.Kind.APPLE)
        .first()
    )


def device_register(*, wallet_pass: WalletPass, device_library_identifier: str, push_token: str) -> bool:
    """Register a device for a pass; True when new (201), False when already registered (200)."""
    if not _DEVICE_ID.match(device_library_identifier or ""):
        raise InvalidRequest("invalid device library identifier")
    if not isinstance(push_token, str) or not _PUSH_TOKEN.match(push_token):
        raise InvalidRequest("pushToken must be a hexadecimal APNs token")
    with transaction.atomic():
        # A device has one push token; a new one replaces it for every pass it follows.
        PassKitDeviceRegistration.objects.filter(device_library_identifier=device_library_identifier).exclude(
            push_token=push_token
        ).update(push_token=push_token)
        try:
            with transaction.atomic():
                _, created = PassKitDeviceRegistration.objects.get_or_create(
                    device_library_identifier=device_library_identifier, wallet_pass=wallet_pass,
                    defaults={"push_token": push_token},
                )
        except IntegrityError:  # the same device registering twice at once
            created = False
    return created


def device_unregister(*, wallet_pass: WalletPass, device_library_identifier: str) -> None:
    PassKitDeviceRegistration.objects.filter(
        device_library_identifier=device_library_identifier, wallet_pass=wallet_pass
    ).delete()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def update_tag(value: dt.datetime) -> str:
    return str((value - _EPOCH) // _MICROSECOND)  # exact integer arithmetic, no float rounding


def _parse_tag(tag: str | None) -> dt.datetime | None:
    if not tag:
        return None
    if not tag.isdigit() or len(tag) > 20:
        raise InvalidRequest("passesUpdatedSince is not a tag this service issued")
    return _EPOCH + int(tag) * _MICROSECOND


def serials_updated_since(*, device_library_identifier: str, pass_type_identifier: str,
                          since: str | None) -> tuple[list[str], str] | None:
    """(serial numbers, new tag) of the device's passes updated after `since`; None when none."""
    if not pass_type_matches(pass_type_identifier):
        return None
    after = _parse_tag(since)
    passes = WalletPass.objects.filter(
        kind=WalletPass.Kind.APPLE, registrations__device_library_identifier=device_library_identifier
    )
    if after is not None:
        # Microsecond round trip: the tag is exact, so `>` never re-sends the pass it came from.
        passes = passes.filter(last_updated__gt=after)
    rows = list(passes.values_list("serial_number", "last_updated").distinct())
    if not rows:
        return None
    return sorted({serial for serial, _ in rows}), update_tag(max(updated for _, updated in rows))


def log_messages(*, messages: list, client_ip: str | None) -> int:
    """Keep what devices report about our service (bounded: it is an unauthenticated endpoint)."""
    if not isinstance(messages, list):
        raise InvalidRequest("logs must be a list")
    rows = [PassKitLog(message=str(m)[:MAX_LOG_LENGTH], client_ip=client_ip) for m in messages[:MAX_LOG_MESSAGES]]
    PassKitLog.objects.bulk_create(rows)
    return len(rows)
