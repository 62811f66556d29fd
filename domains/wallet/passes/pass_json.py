"""The `pass.json` of an Apple Wallet event ticket: building it and checking it.

Rules (from Apple's Wallet Passes reference) that `validate_event_ticket_pass_json` enforces:
- formatVersion is 1; passTypeIdentifier, serialNumber, teamIdentifier, organizationName and
  description are non-empty strings (Wallet silently refuses a pass without them);
- the style key is `eventTicket`, a dictionary of field lists whose fields each have a `key`
  and a `value`, with keys unique across the whole pass (updates are diffed by key);
- barcodes carry format, message and messageEncoding, and the message must be encodable in
  that encoding (we use iso-8859-1, so the QR payload must be Latin-1);
- a pass with webServiceURL must carry an authenticationToken of at least 16 characters, and
  the URL must be https (plain http is only tolerated for localhost during development);
- dates are ISO 8601 with a UTC offset; colours are `rgb(r, g, b)`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

BARCODE_FORMATS = {"PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatAztec",
                   "PKBarcodeFormatCode128"}
FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields",
                "backFields")
REQUIRED_STRINGS = ("passTypeIdentifier", "serialNumber", "teamIdentifier",
                    "organizationName", "description")
MIN_AUTHENTICATION_TOKEN = 16
_DEV_HOSTS = {"localhost", "127.0.0.1", "::1"}
_RGB = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")


@dataclass(frozen=True)
class EventTicketPassData:
    """Everything a festival ticket pass shows. Datetimes must be timezone-aware."""

    serial_number: str  # stable per ticket: Wallet replaces a pass with the same serial
    festival_name: str
    venue_name: str
    starts_at: dt.datetime
    holder_name: str
    ticket_type_name: str
    qr_payload: str  # the signed QR string the gate scanners read
    organization_name: str
    description: str  # read by VoiceOver; Apple asks for a short, specific phrase
    ends_at: dt.datetime | None = None
    venue_address: str | None = None
    logo_text: str | None = None  # defaults to the festival name
    relevant_date: dt.datetime | None = None  # defaults to starts_at (lock-screen relevance)
    expiration_date: dt.datetime | None = None
    voided: bool = False
    web_service_url: str | None = None
    authentication_token: str | None = None
    barcode_alt_text: str | None = None  # text under the QR; defaults to the serial number
    terms: str | None = None
    support_url: str | None = None
    foreground_color: str = "rgb(255, 255, 255)"
    background_color: str = "rgb(60, 20, 100)"
    label_color: str = "rgb(255, 200, 80)"


def _iso(value: dt.datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        # A naive time would be read in the phone's zone: a traveller would see the wrong hour.
        raise ValueError(f"{name} must be timezone-aware")
    return value.isoformat(timespec="seconds")


def build_event_ticket_pass_json(data: EventTicketPassData, *, pass_type_identifier: str,
                                 team_identifier: str) -> dict:
    """Return the pass.json dictionary for one ticket (style `eventTicket`)."""
    barcode = {
        "format": "PKBarcodeFormatQR",
        "message": data.qr_payload,
        "messageEncoding": "iso-8859-1",
        "altText": data.barcode_alt_text or data.serial_number,
    }
    date_field = {
        "key": "date", "label": "DATE", "value": _iso(data.starts_at, "starts_at"),
        "dateStyle": "PKDateStyleMedium", "timeStyle": "PKDateStyleShort",
        # Show the festival's local time, not the time converted to the phone's zone.
        "ignoresTimeZone": True,
    }
    back = [{"key": "ticket-number", "label": "Ticket number", "value": data.serial_number}]
    if data.venue_address:
        back.append({"key": "venue-address", "label": "Venue address",
                     "value": data.venue_address})
    if data.ends_at:
        back.append({"key": "ends", "label": "Ends", "value": _iso(data.ends_at, "ends_at"),
                     "dateStyle": "PKDateStyleMedium", "timeStyle": "PKDateStyleShort",
                     "ignoresTimeZone": True})
    if data.support_url:
        back.append({"key": "support", "label": "Support", "value": data.support_url})
    if data.terms:
        back.append({"key": "terms", "label": "Terms and conditions", "value": data.terms})
    pass_json = {
        "formatVersion": 1,
        "passTypeIdentifier": pass_type_identifier,
        "serialNumber": data.serial_number,
        "teamIdentifier": team_identifier,
        "organizationName": data.organization_name,
        "description": data.description,
        "logoText": data.logo_text or data.festival_name,
        "foregroundColor": data.foreground_color,
        "backgroundColor": data.background_color,
        "labelColor": data.label_color,
        "relevantDate": _iso(data.relevant_date or data.starts_at, "relevant_date"),
        "voided": data.voided,
        "barcodes": [barcode],
        # Pre-iOS 9 devices only read the singular key.
        "barcode": dict(barcode),
        "eventTicket": {
            "primaryFields": [{"key": "event", "label": "EVENT", "value": data.festival_name}],
            "secondaryFields": [
                # changeMessage makes Wallet announce transfers and upgrades pushed as updates.
                {"key": "holder", "label": "HOLDER", "value": data.holder_name,
                 "changeMessage": "Ticket holder changed to %@"},
                {"key": "ticket-type", "label": "TICKET", "value": data.ticket_type_name,
                 "changeMessage": "Ticket changed to %@"},
            ],
            "auxiliaryFields": [
                date_field,
                {"key": "venue", "label": "VENUE", "value": data.venue_name},
            ],
            "backFields": back,
        },
    }
    if data.expiration_date:
        pass_json["expirationDate"] = _iso(data.expiration_date, "expiration_date")
    if data.web_service_url:
        pass_json["webServiceURL"] = data.web_service_url
        pass_json["authenticationToken"] = data.authentication_token
    return pass_json


def _check_fields(ticket: dict) -> list[str]:
    problems, seen = [], set()
    for group in FIELD_GROUPS:
        fields = ticket.get(group, [])
        if not isinstance(fields, list):
            problems.append(f"eventTicket.{group} must be a list")
            continue
        for index, item in enumerate(fields):
            where = f"eventTicket.{group}[{index}]"
            if not isinstance(item, dict) or "key" not in item or "value" not in item:
                problems.append(f"{where} needs a key and a value")
            elif item["key"] in seen:
                problems.append(f"{where} repeats the field key {item['key']!r}")
            else:
                seen.add(item["key"])
    return problems


def _check_barcode(barcode: object, where: str) -> list[str]:
    if not isinstance(barcode, dict):
        return [f"{where} must be a dictionary"]
    problems = []
    if barcode.get("format") not in BARCODE_FORMATS:
        problems.append(f"{where}.format must be one of {sorted(BARCODE_FORMATS)}")
    message, encoding = barcode.get("message"), barcode.get("messageEncoding")
    if not isinstance(message, str) or not message:
        problems.append(f"{where}.message is required")
    if not isinstance(encoding, str) or not encoding:
        problems.append(f"{where}.messageEncoding is required")
    elif isinstance(message, str):
        try:
            message.encode(encoding)
        except LookupError:
            problems.append(f"{where}.messageEncoding {encoding!r} is unknown")
        except UnicodeEncodeError:
            problems.append(f"{where}.message cannot be encoded as {encoding}")
    return problems


def _check_web_service(d: dict) -> list[str]:
    url = d.get("webServiceURL")
    if url is None:
        return []
    problems = []
    token = d.get("authenticationToken")
    if not isinstance(token, str) or len(token) < MIN_AUTHENTICATION_TOKEN:
        problems.append("authenticationToken of at least 16 characters is required "
                        "with webServiceURL")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or not parts.hostname:
        problems.append("webServiceURL is not a URL")
    elif parts.scheme != "https" and not (parts.scheme == "http"
                                          and parts.hostname in _DEV_HOSTS):
        problems.append("webServiceURL must use https (http only for localhost)")
    return problems


def validate_event_ticket_pass_json(d: dict) -> list[str]:
    """List every way `d` breaks the rules in this module's docstring; empty means valid."""
    if not isinstance(d, dict):
        return ["pass.json must be a dictionary"]
    problems = []
    if d.get("formatVersion") != 1 or isinstance(d.get("formatVersion"), bool):
        problems.append("formatVersion must be 1")
    problems += [f"{key} is required" for key in REQUIRED_STRINGS
                 if not isinstance(d.get(key), str) or not d[key].strip()]
    ticket = d.get("eventTicket")
    if not isinstance(ticket, dict):
        problems.append("eventTicket must be a dictionary")
    else:
        problems += _check_fields(ticket)
    barcodes = d.get("barcodes")
    if not isinstance(barcodes, list) or not barcodes:
        problems.append("barcodes must be a non-empty list")
    else:
        for index, barcode in enumerate(barcodes):
            problems += _check_barcode(barcode, f"barcodes[{index}]")
    if "barcode" in d:
        problems += _check_barcode(d["barcode"], "barcode")
    problems += _check_web_service(d)
    for key in ("foregroundColor", "backgroundColor", "labelColor"):
        match = _RGB.match(d[key]) if isinstance(d.get(key), str) else None
        if key in d and not (match and all(int(c) <= 255 for c in match.groups())):
            problems.append(f"{key} must look like rgb(255, 255, 255)")
    for key in ("relevantDate", "expirationDate"):
        if key in d:
            try:
                parsed = dt.datetime.fromisoformat(d[key])
                if parsed.tzinfo is None:
                    problems.append(f"{key} needs a UTC offset")
            except (TypeError, ValueError):
                problems.append(f"{key} must be an ISO 8601 date")
    if "voided" in d and not isinstance(d["voided"], bool):
        problems.append("voided must be true or false")
    return problems
