"""Turning a WalletPass row into what the wallets read: pass.json / .pkpass, Google JSON / link.

Everything here is a pure function of the database state, so a pass can be rebuilt at any
time instead of storing files: the barcode is derived from (ticket, pass.secret_version),
holder and ticket type come from the pass's own snapshot, and `voided` from its status.
Building and signing a .pkpass takes a few milliseconds (one RSA signature over a small
manifest; the images are tiny solid-colour PNGs), so it is done synchronously in the
request rather than in a worker: a worker would only add a round trip and a polling step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from zoneinfo import ZoneInfo

from django.conf import settings

from domains.common.signing import b64url, derive_key
from domains.tickets.qr import KIND_TICKET, qr_encode_payload
from domains.wallet.credentials import apple_credentials, google_credentials
from domains.wallet.models import WalletPass
from domains.wallet.passes import google
from domains.wallet.passes.pass_json import EventTicketPassData, build_event_ticket_pass_json
from domains.wallet.passes.pkpass import build_pkpass, default_images

WEB_SERVICE_PATH = "/api/wallet/passkit"


def authentication_token(serial_number: str) -> str:
    """The PassKit token of one pass: derived, never stored (see WALLET_PASS_TOKEN_SECRET)."""
    key = derive_key(settings.WALLET_PASS_TOKEN_SECRET, "passkit-authentication-token-v1")
    return b64url(hmac.new(key, serial_number.encode(), hashlib.sha256).digest())


def token_matches(serial_number: str, presented: str) -> bool:
    return hmac.compare_digest(authentication_token(serial_number).encode(), presented.encode())


def qr_payload(wallet_pass: WalletPass) -> str:
    """The barcode of the version the pass was built for (== qr_encode(ticket) while current)."""
    return qr_encode_payload(KIND_TICKET, wallet_pass.ticket.public_id, wallet_pass.secret_version)


def web_service_url() -> str | None:
    url = settings.PUBLIC_API_URL + WEB_SERVICE_PATH
    # Wallet only talks https (plain http to localhost during development); a pass with
    # another URL would be refused outright, so it is better issued without updates.
    if url.startswith("https://") or url.startswith(("http://localhost", "http://127.0.0.1")):
        return url
    return None


def _event_times(wallet_pass: WalletPass) -> tuple[dt.datetime, dt.datetime]:
    festival = wallet_pass.ticket_type.festival
    zone = ZoneInfo(festival.timezone or "UTC")
    first = wallet_pass.ticket_type.valid_on or festival.starts_on
    last = wallet_pass.ticket_type.valid_on or festival.ends_on
    starts = dt.datetime.combine(first, dt.time(0, 0), tzinfo=zone)
    ends = dt.datetime.combine(last, dt.time(23, 59), tzinfo=zone)
    return starts, ends


def _ticket_number(wallet_pass: WalletPass) -> str:
    return wallet_pass.ticket.public_id.hex[:12].upper()


def apple_pass_json(wallet_pass: WalletPass) -> dict:
    creds = apple_credentials()
    festival = wallet_pass.ticket_type.festival
    starts, ends = _event_times(wallet_pass)
    service_url = web_service_url()
    data = EventTicketPassData(
        serial_number=wallet_pass.serial_number,
        festival_name=festival.name,
        venue_name=festival.venue_name,
        venue_address=festival.venue_address or None,
        starts_at=starts,
        ends_at=ends,
        holder_name=wallet_pass.holder_name,
        ticket_type_name=wallet_pass.ticket_type_name,
        qr_payload=qr_payload(wallet_pass),
        organization_name=settings.WALLET_ORGANIZATION_NAME or festival.name,
        description=f"Ticket for {festival.name}",
        barcode_alt_text=_ticket_number(wallet_pass),
        voided=not wallet_pass.is_active,
        web_service_url=service_url,
        authentication_token=authentication_token(wallet_pass.serial_number) if service_url else None,
        support_url=settings.FRONTEND_URL,
    )
    pass_json = build_event_ticket_pass_json(
        data,
        pass_type_identifier=creds.certificates.pass_type_identifier,
        team_identifier=creds.certificates.team_identifier,
    )
    if not wallet_pass.is_active:
        note = ("This ticket was refunded or cancelled." if wallet_pass.status == WalletPass.Status.VOID
                else "This ticket was transferred or re-issued; this pass is no longer valid.")
        pass_json["eventTicket"]["backFields"].insert(0, {"key": "pass-status", "label": "Status", "value": note})
    return pass_json


def apple_pkpass(wallet_pass: WalletPass) -> bytes:
    """The signed .pkpass for the pass's current state (a few ms; see the module docstring)."""
    return build_pkpass(apple_pass_json(wallet_pass), default_images(), apple_credentials().certificates)


def google_class_id(wallet_pass: WalletPass) -> str:
    creds = google_credentials()
    return google.resource_id(creds.issuer_id, f"festival-{wallet_pass.ticket_type.festival.public_id.hex}")


def google_object_id(wallet_pass: WalletPass) -> str:
    return google.resource_id(google_credentials().issuer_id, wallet_pass.serial_number)


def google_state(wallet_pass: WalletPass) -> str:
    return "ACTIVE" if wallet_pass.is_active else "INACTIVE"


def google_class(wallet_pass: WalletPass) -> dict:
    creds = google_credentials()
    festival = wallet_pass.ticket_type.festival
    starts, ends = _event_times(wallet_pass)
    return google.build_event_ticket_class(
        creds.issuer_id, google_class_id(wallet_pass).split(".", 1)[1],
        issuer_name=settings.WALLET_ORGANIZATION_NAME or festival.name,
        event_name=festival.name, venue_name=festival.venue_name,
        venue_address=festival.venue_address or None, starts_at=starts, ends_at=ends,
        homepage_url=festival.website_url or None,
    )


def google_object(wallet_pass: WalletPass) -> dict:
    creds = google_credentials()
    return google.build_event_ticket_object(
        creds.issuer_id, wallet_pass.serial_number,
        class_id=google_class_id(wallet_pass), qr_payload=qr_payload(wallet_pass),
        holder_name=wallet_pass.holder_name, ticket_number=_ticket_number(wallet_pass),
        ticket_type_name=wallet_pass.ticket_type_name, state=google_state(wallet_pass),
    )


def google_save_url(wallet_pass: WalletPass) -> str:
    """The "Add to Google Wallet" link (a signed JWT; no network call)."""
    return google.build_save_url(
        google_credentials().service_account, [google_class(wallet_pass)], [google_object(wallet_pass)],
        [settings.FRONTEND_URL],
    )


def pkpass_download_url(wallet_pass: WalletPass) -> str:
    """A signed link to the .pkpass, valid DOWNLOAD_URL_TTL seconds (the bundle holds the QR code)."""
    from django.urls import reverse

    from domains.common.signing import sign_download

    token = sign_download("pkpass", str(wallet_pass.public_id))
    return settings.PUBLIC_API_URL + reverse("wallet:pkpass-download", kwargs={"token": token})
