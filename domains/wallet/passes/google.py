"""Google Wallet event tickets: class/object JSON, "Add to Google Wallet" links, REST requests.

Google's model: an *EventTicketClass* holds what every ticket of one event shares (name, venue,
dates), an *EventTicketObject* is one attendee's ticket and points at its class. Both ids are
"<issuerId>.<suffix>", the suffix limited to letters, digits, '.', '_' and '-'.

A save link is `https://pay.google.com/gp/v/save/<jwt>`: an RS256 JWT signed with the issuer's
service-account key (header `kid` = private_key_id), claims `iss` = service-account email,
`aud` = "google", `typ` = "savetowallet", `origins` = sites allowed to show the button, and a
`payload` of classes and objects. Google creates any class/object in the payload that does not
exist yet, so no API call is needed before the link is shown. The link is all the user needs;
keep payloads small, since very long URLs get truncated by some browsers and mail clients.

Later changes (void, transfer, upgrade) are sent by a worker as a PATCH of the object through
the Wallet REST API with an OAuth access token obtained through a JWT-bearer assertion. This
module only *describes* those requests; it never opens a connection.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import NamedTuple
from urllib.parse import quote

import jwt

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"
WALLET_API = "https://walletobjects.googleapis.com/walletobjects/v1"
WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
OBJECT_STATES = {"ACTIVE", "INACTIVE", "EXPIRED", "COMPLETED"}
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]+$")
_ISSUER = re.compile(r"^[0-9]+$")
_TOKEN_LIFETIME = 3600  # Google refuses assertions valid for more than an hour


class JsonRequest(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    json_body: dict


class FormRequest(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    form_body: dict[str, str]


def resource_id(issuer_id: str, suffix: str) -> str:
    """"<issuerId>.<suffix>", refusing characters Google rejects (so the error is ours, early)."""
    if not _ISSUER.match(str(issuer_id)):
        raise ValueError("issuer_id must be the numeric Google Wallet issuer id")
    if not _SUFFIX.match(suffix):
        raise ValueError(f"id suffix {suffix!r} may only contain letters, digits, '.', '_', '-'")
    return f"{issuer_id}.{suffix}"


def localized(value: str, language: str = "en") -> dict:
    return {"defaultValue": {"language": language, "value": value}}


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return value.isoformat(timespec="seconds")


def _epoch(now: dt.datetime | float | None) -> int:
    if now is None:
        return int(time.time())
    return int(now.timestamp() if isinstance(now, dt.datetime) else now)


def build_event_ticket_class(issuer_id: str, class_suffix: str, *, issuer_name: str,
                             event_name: str, venue_name: str, starts_at: dt.datetime,
                             ends_at: dt.datetime | None = None, venue_address: str | None = None,
                             language: str = "en", logo_url: str | None = None,
                             hex_background_color: str | None = None,
                             homepage_url: str | None = None) -> dict:
    """The EventTicketClass shared by every ticket of one festival.

    reviewStatus is "UNDER_REVIEW": Google only accepts that value (or "DRAFT") from issuers.
    """
    venue = {"name": localized(venue_name, language)}
    if venue_address:
        venue["address"] = localized(venue_address, language)
    date_time = {"start": _iso(starts_at)}
    if ends_at:
        date_time["end"] = _iso(ends_at)
    result = {
        "id": resource_id(issuer_id, class_suffix),
        "issuerName": issuer_name,
        "reviewStatus": "UNDER_REVIEW",
        "eventName": localized(event_name, language),
        "venue": venue,
        "dateTime": date_time,
    }
    if logo_url:
        result["logo"] = {"sourceUri": {"uri": logo_url},
                          "contentDescription": localized(f"{event_name} logo", language)}
    if hex_background_color:
        result["hexBackgroundColor"] = hex_background_color
    if homepage_url:
        result["homepageUri"] = {"uri": homepage_url, "description": event_name}
    return result


def build_event_ticket_object(issuer_id: str, object_suffix: str, *, class_id: str,
                              qr_payload: str, holder_name: str, ticket_number: str,
                              ticket_type_name: str, state: str = "ACTIVE",
                              barcode_alt_text: str | None = None,
                              language: str = "en") -> dict:
    """One attendee's EventTicketObject; `state` INACTIVE hides a voided/transferred ticket."""
    if state not in OBJECT_STATES:
        raise ValueError(f"state must be one of {sorted(OBJECT_STATES)}")
    if not class_id.startswith(f"{issuer_id}."):
        raise ValueError("class_id must belong to the same issuer")
    return {
        "id": resource_id(issuer_id, object_suffix),
        "classId": class_id,
        "state": state,
        "barcode": {"type": "QR_CODE", "value": qr_payload,
                    "alternateText": barcode_alt_text or ticket_number},
        "ticketHolderName": holder_name,
        "ticketNumber": ticket_number,
        "ticketType": localized(ticket_type_name, language),
    }


def _signing_material(service_account: dict) -> tuple[str, str, str]:
    try:
        return (service_account["private_key"], service_account["private_key_id"],
                service_account["client_email"])
    except KeyError as exc:
        raise ValueError(f"service account JSON lacks {exc.args[0]}") from exc


def build_save_url(service_account: dict, classes: list[dict], objects: list[dict],
                   origins: list[str], *, now: dt.datetime | float | None = None) -> str:
    """The "Add to Google Wallet" link carrying `classes` and `objects`."""
    key, kid, email = _signing_material(service_account)
    claims = {
        "iss": email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": _epoch(now),
        "origins": list(origins),
        "payload": {"eventTicketClasses": list(classes), "eventTicketObjects": list(objects)},
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    return SAVE_URL_PREFIX + token


def build_object_patch_request(object_id: str, changes: dict, access_token: str) -> JsonRequest:
    """PATCH of an EventTicketObject: only the fields in `changes` are modified.

    PATCH rather than PUT so that a worker changing `state` cannot wipe fields it did not load.
    """
    url = f"{WALLET_API}/eventTicketObject/{quote(object_id, safe='')}"
    headers = {"Authorization": f"Bearer {access_token}",
               "Content-Type": "application/json", "Accept": "application/json"}
    return JsonRequest("PATCH", url, headers, dict(changes))


def build_service_account_token_request(service_account: dict,
                                        now: dt.datetime | float | None = None) -> FormRequest:
    """OAuth 2.0 JWT-bearer request (RFC 7523) exchanging a signed assertion for a token."""
    key, kid, email = _signing_material(service_account)
    token_uri = service_account.get("token_uri", "https://oauth2.googleapis.com/token")
    issued = _epoch(now)
    assertion = jwt.encode(
        {"iss": email, "scope": WALLET_SCOPE, "aud": token_uri,
         "iat": issued, "exp": issued + _TOKEN_LIFETIME},
        key, algorithm="RS256", headers={"kid": kid},
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return FormRequest("POST", token_uri, headers,
                       {"grant_type": JWT_BEARER_GRANT, "assertion": assertion})
