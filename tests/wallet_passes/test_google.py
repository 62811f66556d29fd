"""Google Wallet: class/object JSON, the signed save link and REST request descriptions."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import parse_qs, urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from domains.wallet.passes import devcerts
from domains.wallet.passes.google import (
    SAVE_URL_PREFIX,
    build_event_ticket_class,
    build_event_ticket_object,
    build_object_patch_request,
    build_save_url,
    build_service_account_token_request,
)

ISSUER = "3388000000012345678"
QR = "FEST1.7f3c2a.b64sig_-AbC"
CEST = dt.timezone(dt.timedelta(hours=2))
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def account():
    return devcerts.generate_google_service_account()


def public_key(account: dict):
    private = serialization.load_pem_private_key(account["private_key"].encode(), None)
    return private.public_key()


def festival_class() -> dict:
    return build_event_ticket_class(
        ISSUER, "summer-2026", issuer_name="Example Festival GmbH",
        event_name="Example Summer Festival 2026", venue_name="Riverside Park",
        venue_address="1 River Road", starts_at=dt.datetime(2026, 7, 10, 16, tzinfo=CEST),
        ends_at=dt.datetime(2026, 7, 12, 23, tzinfo=CEST))


def ticket_object(**overrides) -> dict:
    values = dict(class_id=f"{ISSUER}.summer-2026", qr_payload=QR, holder_name="Ada Lovelace",
                  ticket_number="3f1d0c7e", ticket_type_name="Weekend Pass")
    values.update(overrides)
    return build_event_ticket_object(ISSUER, "3f1d0c7e-9a4b-4c1e-8f7a-2b9c1d0e5a61", **values)


def save_jwt(account: dict) -> str:
    url = build_save_url(account, [festival_class()], [ticket_object()],
                         ["https://festival.example"], now=NOW)
    assert url.startswith(SAVE_URL_PREFIX)
    return url.removeprefix(SAVE_URL_PREFIX)


def test_class_shape():
    cls = festival_class()
    assert cls["id"] == f"{ISSUER}.summer-2026"
    assert cls["reviewStatus"] == "UNDER_REVIEW"
    assert cls["eventName"] == {"defaultValue": {"language": "en",
                                                 "value": "Example Summer Festival 2026"}}
    assert cls["venue"]["name"]["defaultValue"]["value"] == "Riverside Park"
    assert cls["dateTime"] == {"start": "2026-07-10T16:00:00+02:00",
                               "end": "2026-07-12T23:00:00+02:00"}


def test_object_shape():
    obj = ticket_object()
    assert obj["id"] == f"{ISSUER}.3f1d0c7e-9a4b-4c1e-8f7a-2b9c1d0e5a61"
    assert obj["classId"] == f"{ISSUER}.summer-2026"
    assert obj["state"] == "ACTIVE"
    assert obj["barcode"] == {"type": "QR_CODE", "value": QR, "alternateText": "3f1d0c7e"}
    assert obj["ticketHolderName"] == "Ada Lovelace"
    assert obj["ticketType"]["defaultValue"]["value"] == "Weekend Pass"


@pytest.mark.parametrize("kwargs, message", [
    (dict(state="VOID"), "state must be one of"),
    (dict(class_id="999.other"), "same issuer"),
])
def test_object_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ticket_object(**kwargs)


def test_ids_reject_characters_google_refuses():
    with pytest.raises(ValueError, match="may only contain"):
        build_event_ticket_object(ISSUER, "ticket/1", class_id=f"{ISSUER}.c", qr_payload=QR,
                                  holder_name="A", ticket_number="1", ticket_type_name="GA")


def test_save_url_jwt_claims_and_header(account):
    token = save_jwt(account)
    assert jwt.get_unverified_header(token)["kid"] == account["private_key_id"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, public_key(account), algorithms=["RS256"], audience="google")
    assert claims["iss"] == account["client_email"]
    assert claims["aud"] == "google"
    assert claims["typ"] == "savetowallet"
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["origins"] == ["https://festival.example"]
    payload = claims["payload"]
    assert payload["eventTicketClasses"][0]["id"] == f"{ISSUER}.summer-2026"
    assert payload["eventTicketObjects"][0]["barcode"]["value"] == QR


def test_save_url_signature_fails_with_another_key(account):
    token = save_jwt(account)
    other = devcerts.create_google_service_account()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, public_key(other), algorithms=["RS256"], audience="google")


def test_tampered_save_url_fails(account):
    header, payload, signature = save_jwt(account).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["payload"]["eventTicketObjects"][0]["barcode"]["value"] = "FORGED"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(".".join([header, forged, signature]), public_key(account),
                   algorithms=["RS256"], audience="google")


def test_object_patch_request():
    object_id = f"{ISSUER}.3f1d0c7e-9a4b"
    method, url, headers, body = build_object_patch_request(
        object_id, {"state": "INACTIVE"}, "ya29.token")
    assert method == "PATCH"
    assert url == ("https://walletobjects.googleapis.com/walletobjects/v1/"
                   f"eventTicketObject/{object_id}")
    assert headers["Authorization"] == "Bearer ya29.token"
    assert headers["Content-Type"] == "application/json"
    assert body == {"state": "INACTIVE"}


def test_service_account_token_request(account):
    method, url, headers, form = build_service_account_token_request(account, NOW)
    assert (method, url) == ("POST", "https://oauth2.googleapis.com/token")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert parse_qs(urlencode(form))["assertion"] == [form["assertion"]]
    claims = jwt.decode(form["assertion"], public_key(account), algorithms=["RS256"],
                        audience=account["token_uri"], options={"verify_exp": False})
    assert claims["iss"] == account["client_email"]
    assert claims["scope"] == "https://www.googleapis.com/auth/wallet_object.issuer"
    assert claims["exp"] - claims["iat"] == 3600


def test_service_account_shape_and_cache(account):
    for key in ("type", "project_id", "private_key_id", "private_key", "client_email",
                "client_id", "token_uri"):
        assert account[key]
    assert account["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    again = devcerts.generate_google_service_account()
    assert again == account and again is not account
    again["client_email"] = "mutated"
    assert devcerts.generate_google_service_account()["client_email"] == account["client_email"]
