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

from domains.common.text import storable
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


def _check_device_id(device_library_identifier: str | None) -> None:
    """Refuse (400) an identifier no device can have registered with. It comes from the URL path,
    which may decode to a NUL ("%00"): PostgreSQL refuses that in any query (a 500)."""
    # fullmatch: `$` alone would also let a trailing newline through.
    if not isinstance(device_library_identifier, str) or not _DEVICE_ID.fullmatch(device_library_identifier):
        raise InvalidRequest("invalid device library identifier")


def device_register(*, wallet_pass: WalletPass, device_library_identifier: str, push_token: str) -> bool:
    """Register a device for a pass; True when new (201), False when already registered (200)."""
    _check_device_id(device_library_identifier)
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
    _check_device_id(device_library_identifier)
    PassKitDeviceRegistration.objects.filter(
        device_library_identifier=device_library_identifier, wallet_pass=wallet_pass
    ).delete()


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def update_tag(value: dt.datetime) -> str:
    return str((value - _EPOCH) // _MICROSECOND)  # exact integer arithmetic, no float rounding


# ASCII digits only: str.isdigit() and \d also accept '²' (int() refuses it) and '١' (int() reads it).
_TAG = re.compile(r"[0-9]{1,20}")
# The last instant a datetime can hold (the end of 9999, UTC): a larger tag would overflow.
_MAX_TAG = (dt.datetime.max.replace(tzinfo=dt.UTC) - _EPOCH) // _MICROSECOND


def _parse_tag(tag: str | None) -> dt.datetime | None:
    """The instant a tag names; None for no tag (everything); InvalidRequest (400) for anything
    that cannot be one of ours: not plain ASCII digits, or past what a datetime can hold."""
    if not tag:
        return None
    if not _TAG.fullmatch(tag) or int(tag) > _MAX_TAG:
        raise InvalidRequest("passesUpdatedSince is not a tag this service issued")
    return _EPOCH + int(tag) * _MICROSECOND


def serials_updated_since(*, device_library_identifier: str, pass_type_identifier: str,
                          since: str | None) -> tuple[list[str], str] | None:
    """(serial numbers, new tag) of the device's passes updated after `since`; None when none."""
    if not pass_type_matches(pass_type_identifier):
        return None
    _check_device_id(device_library_identifier)
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


def _storable_log_line(message) -> str:
    """The line as text PostgreSQL can hold: bounded, each NUL or unpaired surrogate replaced by
    U+FFFD. Replaced, not refused: the rest of a device's report is still worth reading."""
    return storable(str(message)[:MAX_LOG_LENGTH])


def log_messages(*, messages: list, client_ip: str | None) -> list[str]:
    """Keep what devices report about our service (bounded: it is an unauthenticated endpoint);
    returns the lines as stored."""
    if not isinstance(messages, list):
        raise InvalidRequest("logs must be a list")
    lines = [_storable_log_line(m) for m in messages[:MAX_LOG_MESSAGES]]
    PassKitLog.objects.bulk_create([PassKitLog(message=line, client_ip=client_ip) for line in lines])
    return lines
