"""Telling installed passes that they changed: APNs for Apple devices, a PATCH for Google.

Called by the worker (workers/wallet.py) with a pass id after the change committed. Safe to
run twice: a push only makes the device ask for the pass again (it then gets 304 if nothing
changed), and the PATCH sets absolute values.
"""

from __future__ import annotations

import logging

from django.conf import settings

from domains.wallet import render
from domains.wallet.credentials import apple_credentials, google_credentials
from domains.wallet.models import PassKitDeviceRegistration, WalletPass
from domains.wallet.passes.apns import send_pass_update, should_unregister
from domains.wallet.transports import GoogleApiError, apns_transport, google_patch_object, google_transport

log = logging.getLogger(__name__)


class PushFailed(Exception):
    """A temporary failure (5xx, 429, network): the job is retried."""


def wallet_pass_push_update(*, wallet_pass_id: int) -> dict:
    wallet_pass = (
        WalletPass.objects.select_related("ticket", "ticket_type__festival").filter(pk=wallet_pass_id).first()
    )
    if wallet_pass is None:
        return {}
    if wallet_pass.kind == WalletPass.Kind.APPLE:
        return _push_apple(wallet_pass)
    return _patch_google(wallet_pass)


def _push_apple(wallet_pass: WalletPass) -> dict:
    registrations = list(wallet_pass.registrations.all())
    if not registrations:
        return {}
    topic = apple_credentials().pass_type_identifier
    tokens = sorted({r.push_token for r in registrations})
    statuses = send_pass_update(apns_transport(), tokens, topic, production=settings.WALLET_APNS_PRODUCTION)
    gone = [token for token, status in statuses.items() if should_unregister(status)]
    if gone:
        PassKitDeviceRegistration.objects.filter(push_token__in=gone).delete()
    failed = [s for s in statuses.values() if s >= 500 or s == 429]
    if failed:
        raise PushFailed(f"APNs answered {sorted(set(failed))} for pass {wallet_pass.pk}")
    for status in statuses.values():
        if 400 <= status < 500 and status != 410:
            log.error("wallet: APNs refused a push for pass %s with %s", wallet_pass.pk, status)
    return statuses


def _patch_google(wallet_pass: WalletPass) -> dict:
    creds = google_credentials()
    # The state and the barcode as the pass is rendered now: the barcode changes when the QR
    # signing key does (wallet_passes_refresh), and sending it always keeps the two in step.
    rendered = render.google_object(wallet_pass)
    changes = {"state": rendered["state"], "barcode": rendered["barcode"]}
    try:
        status = google_patch_object(google_transport(), creds.service_account, render.google_object_id(wallet_pass), changes)
    except GoogleApiError as exc:
        raise PushFailed(str(exc)) from exc
    if status == 404:
        return {"google": status}  # never saved to a wallet: nothing to update
    if status >= 500 or status in (401, 429):
        raise PushFailed(f"Google Wallet answered {status} for pass {wallet_pass.pk}")
    if status >= 400:
        log.error("wallet: Google Wallet refused the update of pass %s with %s", wallet_pass.pk, status)
    return {"google": status}
