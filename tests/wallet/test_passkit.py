"""Apple's PassKit web service over HTTP, end to end, and the update jobs (real Dramatiq worker)."""

from __future__ import annotations

import io
import json

import pytest
from django.db import transaction

from domains.tickets.models import Ticket
from domains.tickets.qr import qr_decode, qr_encode
from domains.wallet.models import PassKitDeviceRegistration, PassKitLog, WalletPass
from domains.wallet.passes.pkpass import verify_pkpass
from domains.wallet.services import wallet_passes_ticket_changed
from tests.support.graphql import GraphQLClient
from tests.wallet import transports
from tests.wallet.conftest import create_apple, create_google, path_of, unzip

BASE = "/api/wallet/passkit/v1"
DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH_TOKEN = "0f" * 32


def call(method: str, path: str, *, token: str | None = None, body: dict | None = None, headers: dict | None = None):
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"ApplePass {token}"
    return GraphQLClient().post_raw(json.dumps(body) if body is not None else b"", method=method, path=path,
                                    headers=all_headers)


def installed(wallet_pass: dict) -> dict:
    """What the phone gets when the user taps the link: the pass.json in the bundle."""
    response = GraphQLClient().get(path_of(wallet_pass["downloadUrl"]))
    assert response.status_code == 200
    return json.loads(unzip(response.content)["pass.json"])


def registration_path(pass_json: dict, device: str = DEVICE) -> str:
    return f"{BASE}/devices/{device}/registrations/{pass_json['passTypeIdentifier']}/{pass_json['serialNumber']}"


@pytest.mark.django_db(transaction=True)
def test_passkit_end_to_end_refund(holder_client, ticket, dev_credentials, run_jobs, settings):
    certs, _ = dev_credentials
    created = create_apple(holder_client, ticket)["walletPass"]
    google_pass = create_google(holder_client, ticket)["walletPass"]
    pass_json = installed(created)
    token, serial, type_id = pass_json["authenticationToken"], pass_json["serialNumber"], pass_json["passTypeIdentifier"]

    # Register: refused without or with a wrong token, then 201, then 200 when repeated.
    assert call("POST", registration_path(pass_json), body={"pushToken": PUSH_TOKEN}).status_code == 401
    assert call("POST", registration_path(pass_json), token="x" * 43, body={"pushToken": PUSH_TOKEN}).status_code == 401
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": "not hex"}).status_code == 400
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 200
    # Another pass type id in the path: not ours.
    wrong_type = registration_path(pass_json).replace(type_id, "pass.com.example.other")
    assert call("POST", wrong_type, token=token, body={"pushToken": PUSH_TOKEN}).status_code == 401

    serials_path = f"{BASE}/devices/{DEVICE}/registrations/{type_id}"
    listed = call("GET", serials_path)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [serial]
    first_tag = listed.json()["lastUpdated"]
    assert call("GET", f"{serials_path}?passesUpdatedSince={first_tag}").status_code == 204
    assert call("GET", f"{serials_path}?passesUpdatedSince=garbage").status_code == 400

    pass_path = f"{BASE}/passes/{type_id}/{serial}"
    assert call("GET", pass_path, token="wrong-token-wrong-token").status_code == 401
    latest = call("GET", pass_path, token=token)
    assert latest.status_code == 200 and latest.headers["content-type"] == "application/vnd.apple.pkpass"
    last_modified = latest.headers["last-modified"]
    assert call("GET", pass_path, token=token, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert transports.APNS.sent == []

    # The ticket is refunded (whatever code does it, the Ticket save is enough).
    with transaction.atomic():
        ticket.status = ticket.Status.REFUNDED
        ticket.save()
    run_jobs()

    [push] = transports.APNS.sent
    assert push.method == "POST"
    assert push.url == f"https://api.push.apple.com/3/device/{PUSH_TOKEN}"
    assert push.headers["apns-topic"] == type_id and push.body == b"{}"
    patches = transports.GOOGLE.patches
    assert len(patches) == 1
    issuer = settings.WALLET_DEV_GOOGLE_ISSUER_ID
    assert patches[0].url.endswith(f"/eventTicketObject/{issuer}.{google_pass['serialNumber']}")
    assert patches[0].json_body["state"] == "INACTIVE" and set(patches[0].json_body) == {"state", "barcode"}
    assert patches[0].json_body["barcode"]["value"] == qr_encode(ticket)  # the pass's own version, as served
    assert patches[0].headers["Authorization"] == "Bearer ya29.test-token"

    updated = call("GET", f"{serials_path}?passesUpdatedSince={first_tag}")
    assert updated.status_code == 200 and updated.json()["serialNumbers"] == [serial]
    assert int(updated.json()["lastUpdated"]) > int(first_tag)

    fresh = call("GET", pass_path, token=token, headers={"If-Modified-Since": last_modified})
    assert fresh.status_code == 200
    voided = verify_pkpass(fresh.content, certs.root_pem)
    assert voided["voided"] is True and voided["serialNumber"] == serial
    assert voided["barcodes"][0]["message"] == qr_encode(ticket)  # same version; the gate refuses a refunded ticket
    assert call("GET", pass_path, token=token, headers={"If-Modified-Since": fresh.headers["last-modified"]}).status_code == 304

    listed = holder_client.execute("{ myWalletPasses { kind status } }").data["myWalletPasses"]
    assert sorted((p["kind"], p["status"]) for p in listed) == [("APPLE", "VOID"), ("GOOGLE", "VOID")]

    # Unregister, then the device has nothing to ask about.
    assert call("DELETE", registration_path(pass_json), token="bad-token-bad-token").status_code == 401
    assert call("DELETE", registration_path(pass_json), token=token).status_code == 200
    assert not PassKitDeviceRegistration.objects.exists()
    assert call("GET", serials_path).status_code == 204

    assert call("POST", f"{BASE}/log", body={"logs": ["Pass update failed: 401"]}).status_code == 200
    assert list(PassKitLog.objects.values_list("message", flat=True)) == ["Pass update failed: 401"]


@pytest.mark.django_db(transaction=True)
def test_transfer_pushes_to_the_old_holders_device_and_serves_a_void_pass(holder_client, as_user, ticket,
                                                                         dev_credentials, run_jobs):
    certs, _ = dev_credentials
    created = create_apple(holder_client, ticket)["walletPass"]
    pass_json = installed(created)
    token = pass_json["authenticationToken"]
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201

    new_holder = as_user("attendee", full_name="Grace Hopper")
    ticket.holder = new_holder.user
    ticket.secret_version += 1
    ticket.save()
    run_jobs()
    assert [r.url.rsplit("/", 1)[1] for r in transports.APNS.sent] == [PUSH_TOKEN]

    served = call("GET", f"{BASE}/passes/{pass_json['passTypeIdentifier']}/{pass_json['serialNumber']}", token=token)
    old = verify_pkpass(served.content, certs.root_pem)
    assert old["voided"] is True
    ticket.refresh_from_db()
    assert old["barcodes"][0]["message"] == pass_json["barcodes"][0]["message"]  # never the new holder's code
    assert qr_decode(old["barcodes"][0]["message"]).version != ticket.secret_version
    fresh = create_apple(new_holder, ticket)["walletPass"]
    assert installed(fresh)["barcodes"][0]["message"] == qr_encode(ticket)


@pytest.mark.django_db(transaction=True)
def test_gone_push_token_is_unregistered_and_rollback_sends_nothing(holder_client, ticket, run_jobs):
    created = create_apple(holder_client, ticket)["walletPass"]
    pass_json = installed(created)
    token = pass_json["authenticationToken"]
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        ticket.status = ticket.Status.VOID
        ticket.save()
        raise Boom
    run_jobs()
    assert transports.APNS.sent == []
    assert WalletPass.objects.get().status == WalletPass.Status.ACTIVE

    transports.APNS.statuses[PUSH_TOKEN] = 410  # the device deleted the pass
    ticket.refresh_from_db()
    ticket.status = ticket.Status.VOID
    ticket.save()
    run_jobs()
    assert len(transports.APNS.sent) == 1
    assert not PassKitDeviceRegistration.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_after_a_qr_secret_is_dropped_a_refresh_gives_installed_passes_the_new_code(
    holder_client, ticket, dev_credentials, run_jobs, settings, as_user
):
    """README, "Rotating the QR key": a leaked secret is dropped; `wallet_refresh_passes` makes
    every live pass fetch itself again, now with a code the gate accepts."""
    from django.core.management import call_command

    from domains.tickets.qr import InvalidQrCode

    certs, _ = dev_credentials
    settings.QR_SIGNING_SECRET = "first-qr-secret-" + "f" * 32
    settings.QR_SIGNING_PREVIOUS_SECRETS = []
    created = create_apple(holder_client, ticket)["walletPass"]
    google_pass = create_google(holder_client, ticket)["walletPass"]
    pass_json = installed(created)
    token, serial, type_id = pass_json["authenticationToken"], pass_json["serialNumber"], pass_json["passTypeIdentifier"]
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201
    serials_path = f"{BASE}/devices/{DEVICE}/registrations/{type_id}"
    first_tag = call("GET", serials_path).json()["lastUpdated"]
    old_code = pass_json["barcodes"][0]["message"]
    # A superseded pass of another ticket stays as it is (only live passes are refreshed).
    other = Ticket.objects.create(ticket_type=ticket.ticket_type, holder=holder_client.user)
    create_apple(holder_client, other)
    Ticket.objects.filter(pk=other.pk).update(status=Ticket.Status.VOID)
    wallet_passes_ticket_changed(ticket_id=other.pk)
    run_jobs()
    transports.APNS.sent.clear(), transports.GOOGLE.sent.clear()

    settings.QR_SIGNING_SECRET = "second-qr-secret-" + "s" * 32  # the first one leaked: dropped
    with pytest.raises(InvalidQrCode):
        qr_decode(old_code)
    out = io.StringIO()
    call_command("wallet_refresh_passes", stdout=out)
    assert out.getvalue().startswith("2 wallet passes refreshed")
    run_jobs()

    assert [r.url.rsplit("/", 1)[1] for r in transports.APNS.sent] == [PUSH_TOKEN]
    [patch] = transports.GOOGLE.patches
    assert patch.url.endswith(f".{google_pass['serialNumber']}")
    assert patch.json_body == {"state": "ACTIVE", "barcode": {**patch.json_body["barcode"], "value": qr_encode(ticket)}}
    updated = call("GET", f"{serials_path}?passesUpdatedSince={first_tag}")
    assert updated.status_code == 200 and updated.json()["serialNumbers"] == [serial]
    fresh = verify_pkpass(call("GET", f"{BASE}/passes/{type_id}/{serial}", token=token).content, certs.root_pem)
    new_code = fresh["barcodes"][0]["message"]
    assert new_code == qr_encode(ticket) != old_code and qr_decode(new_code).public_id == ticket.public_id
