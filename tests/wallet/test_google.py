"""createGoogleWalletPass: the "Add to Google Wallet" link is a JWT our service account signed."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives import serialization

from domains.tickets.qr import qr_encode
from tests.wallet.conftest import CREATE_GOOGLE, MY_PASSES, create_apple, create_google

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"


def claims_of(url: str, service_account: dict) -> dict:
    assert url.startswith(SAVE_PREFIX)
    token = url.removeprefix(SAVE_PREFIX)
    key = serialization.load_pem_private_key(service_account["private_key"].encode(), None).public_key()
    assert jwt.get_unverified_header(token)["kid"] == service_account["private_key_id"]
    return jwt.decode(token, key, algorithms=["RS256"], audience="google")


def test_save_link_jwt(holder_client, ticket, dev_credentials, settings):
    _, account = dev_credentials
    payload = create_google(holder_client, ticket)
    assert payload["errors"] == []
    created = payload["walletPass"]
    assert created["kind"] == "GOOGLE" and created["downloadUrl"] is None
    claims = claims_of(created["saveUrl"], account)
    assert claims["iss"] == account["client_email"]
    assert claims["aud"] == "google"
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == [settings.FRONTEND_URL]
    [cls] = claims["payload"]["eventTicketClasses"]
    [obj] = claims["payload"]["eventTicketObjects"]
    issuer = settings.WALLET_DEV_GOOGLE_ISSUER_ID
    assert cls["id"].startswith(f"{issuer}.festival-")
    assert cls["eventName"]["defaultValue"]["value"] == "Example Summer Festival"
    assert obj["id"] == f"{issuer}.{created['serialNumber']}"
    assert obj["classId"] == cls["id"]
    assert obj["state"] == "ACTIVE"
    assert obj["barcode"]["value"] == qr_encode(ticket)
    assert obj["ticketHolderName"] == "Ada Lovelace"


def test_same_google_pass_twice_and_listing(holder_client, ticket):
    first = create_google(holder_client, ticket)["walletPass"]
    assert create_google(holder_client, ticket)["walletPass"]["id"] == first["id"]
    apple = create_apple(holder_client, ticket)["walletPass"]
    passes = holder_client.execute(MY_PASSES).data["myWalletPasses"]
    assert {(p["id"], p["kind"]) for p in passes} == {(first["id"], "GOOGLE"), (apple["id"], "APPLE")}


def test_google_not_configured(settings, holder_client, ticket):
    settings.WALLET_DEV_CREDENTIALS = False
    response = holder_client.execute(CREATE_GOOGLE, {"ticketId": str(ticket.public_id)})
    assert response.error_codes("createGoogleWalletPass") == ["WALLET_NOT_CONFIGURED"]


def test_google_configured_from_environment_json(settings, holder_client, ticket, dev_credentials):
    import json

    from domains.wallet.passes.devcerts import create_google_service_account

    account = create_google_service_account("festival-prod")
    settings.WALLET_DEV_CREDENTIALS = False
    settings.GOOGLE_WALLET_ISSUER_ID = "3388000000099999999"
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT = json.dumps(account)
    created = create_google(holder_client, ticket)["walletPass"]
    claims = claims_of(created["saveUrl"], account)
    assert claims["payload"]["eventTicketObjects"][0]["id"].startswith("3388000000099999999.")


def test_other_users_ticket_not_found(as_user, ticket):
    payload = create_google(as_user("attendee"), ticket)
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
