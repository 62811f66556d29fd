"""createAppleWalletPass through the GraphQL endpoint, and the signed .pkpass download."""

from __future__ import annotations

import json
import shutil

import pytest

from domains.tickets.qr import qr_decode, qr_encode
from domains.wallet.passes.pass_json import validate_event_ticket_pass_json
from domains.wallet.passes.pkpass import verify_pkpass
from tests.support.graphql import GraphQLClient
from tests.wallet.conftest import CREATE_APPLE, MY_PASSES, check_manifest, create_apple, openssl_verify, path_of, unzip


def download(url: str):
    return GraphQLClient().get(path_of(url))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_created_pass_downloads_as_a_signed_valid_pkpass(holder_client, ticket, dev_credentials, tmp_path):
    certs, _ = dev_credentials
    payload = create_apple(holder_client, ticket)
    assert payload["errors"] == []
    created = payload["walletPass"]
    assert created["kind"] == "APPLE" and created["status"] == "ACTIVE"
    assert created["ticketId"] == str(ticket.public_id)

    response = download(created["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    assert "no-store" in response.headers["cache-control"]
    files = unzip(response.content)
    assert {"pass.json", "manifest.json", "signature", "icon.png", "logo.png"} <= set(files)
    check_manifest(files)
    result = openssl_verify(files, certs.root_pem, tmp_path / "openssl")
    assert result.returncode == 0, result.stderr
    assert verify_pkpass(response.content, certs.root_pem)["serialNumber"] == created["serialNumber"]

    pass_json = json.loads(files["pass.json"])
    assert validate_event_ticket_pass_json(pass_json) == []
    assert pass_json["serialNumber"] == created["serialNumber"]
    assert pass_json["passTypeIdentifier"] == certs.pass_type_identifier
    assert pass_json["teamIdentifier"] == certs.team_identifier
    assert pass_json["voided"] is False
    assert pass_json["barcodes"][0]["message"] == qr_encode(ticket)
    assert pass_json["barcode"]["message"] == qr_encode(ticket)
    fields = {f["key"]: f["value"] for group in pass_json["eventTicket"].values() for f in group}
    assert fields["event"] == "Example Summer Festival"
    assert fields["holder"] == "Ada Lovelace"
    assert fields["ticket-type"] == "Weekend Pass"
    assert fields["venue"] == "Riverside Park"
    assert fields["date"].startswith("2026-07-10T00:00:00+02:00")
    assert pass_json["webServiceURL"].endswith("/api/wallet/passkit")
    assert len(pass_json["authenticationToken"]) >= 16


def test_same_pass_twice_is_the_same_pass(holder_client, ticket):
    first = create_apple(holder_client, ticket)["walletPass"]
    second = create_apple(holder_client, ticket)["walletPass"]
    assert first["id"] == second["id"] and first["serialNumber"] == second["serialNumber"]
    passes = holder_client.execute(MY_PASSES).data["myWalletPasses"]
    assert [p["id"] for p in passes] == [first["id"]]


def test_another_users_ticket_is_not_found(as_user, ticket):
    intruder = as_user("attendee")
    payload = create_apple(intruder, ticket)
    assert payload["walletPass"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "ticketId")]
    # Exactly the answer for a ticket that does not exist.
    missing = intruder.execute(CREATE_APPLE, {"ticketId": "00000000-0000-4000-8000-000000000000"})
    assert missing.error_codes("createAppleWalletPass") == ["NOT_FOUND"]
    assert missing.payload("createAppleWalletPass")["errors"][0]["message"] == payload["errors"][0]["message"]


def test_anonymous_is_unauthenticated(gql, ticket):
    response = gql.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)})
    assert response.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql.execute(MY_PASSES).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_refunded_ticket_cannot_get_a_pass(holder_client, ticket):
    ticket.status = ticket.Status.REFUNDED
    ticket.save()
    assert holder_client.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)}).error_codes(
        "createAppleWalletPass") == ["WALLET_TICKET_NOT_VALID"]


def test_not_configured_in_production_like_settings(settings, holder_client, ticket):
    settings.WALLET_DEV_CREDENTIALS = False  # what production has: no generated credentials
    codes = holder_client.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)}).error_codes("createAppleWalletPass")
    assert codes == ["WALLET_NOT_CONFIGURED"]
    from domains.wallet.models import WalletPass

    assert not WalletPass.objects.exists()


def test_partial_apple_configuration_is_not_configured(settings, holder_client, ticket, dev_credentials):
    certs, _ = dev_credentials
    settings.WALLET_DEV_CREDENTIALS = False
    settings.APPLE_PASS_CERTIFICATE = certs.pass_certificate_pem.decode()  # key and WWDR missing
    codes = holder_client.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)}).error_codes("createAppleWalletPass")
    assert codes == ["WALLET_NOT_CONFIGURED"]


def test_real_credentials_from_pem_files(settings, holder_client, ticket, dev_credentials, wallet_dev_dir):
    certs, _ = dev_credentials
    settings.WALLET_DEV_CREDENTIALS = False
    settings.APPLE_PASS_CERTIFICATE = str(wallet_dev_dir / "pass-certificate.pem")  # a path
    settings.APPLE_PASS_KEY = certs.pass_key_pem.decode()  # PEM contents
    settings.APPLE_WWDR_CERTIFICATE = str(wallet_dev_dir / "wwdr.pem")
    created = create_apple(holder_client, ticket)["walletPass"]
    response = download(created["downloadUrl"])
    assert verify_pkpass(response.content, certs.root_pem)["barcodes"][0]["message"] == qr_encode(ticket)


def test_download_link_is_signed_and_expires(holder_client, ticket, settings):
    url = create_apple(holder_client, ticket)["walletPass"]["downloadUrl"]
    prefix, token = url.rsplit("/", 1)
    kind, public_id, expires, mac = token.removesuffix(".pkpass").split(".")
    forged = f"{prefix}/{kind}.{public_id}.{int(expires) + 3600}.{mac}.pkpass"
    assert download(forged).status_code == 404
    from domains.common.signing import sign_download

    expired = sign_download("pkpass", public_id, ttl=1, now=1_000_000)
    assert download(f"{prefix}/{expired}.pkpass").status_code == 404
    wrong_kind = sign_download("invoice", public_id)
    assert download(f"{prefix}/{wrong_kind}.pkpass").status_code == 404


def test_transfer_supersedes_the_pass_and_the_new_holder_gets_a_new_one(holder_client, as_user, ticket, dev_credentials):
    certs, _ = dev_credentials
    old = create_apple(holder_client, ticket)["walletPass"]
    old_barcode = json.loads(unzip(download(old["downloadUrl"]).content)["pass.json"])["barcodes"][0]["message"]

    new_holder = as_user("attendee", full_name="Grace Hopper")
    ticket.holder = new_holder.user  # a transfer, as the lifecycle code does it: holder + new secret
    ticket.secret_version += 1
    ticket.save()

    mine = holder_client.execute(MY_PASSES).data["myWalletPasses"]
    assert [(p["id"], p["status"]) for p in mine] == [(old["id"], "SUPERSEDED")]
    # The old holder's phone now gets a voided pass, still with the old (stale) code.
    stale = json.loads(unzip(download(mine[0]["downloadUrl"]).content)["pass.json"])
    assert stale["voided"] is True and stale["barcodes"][0]["message"] == old_barcode
    assert "Grace" not in json.dumps(stale)
    ticket.refresh_from_db()
    assert qr_decode(old_barcode).version != ticket.secret_version

    # The old holder cannot make a new one; the new holder can, with the current code.
    assert holder_client.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)}).error_codes(
        "createAppleWalletPass") == ["NOT_FOUND"]
    fresh = create_apple(new_holder, ticket)["walletPass"]
    assert fresh["id"] != old["id"] and fresh["serialNumber"] != old["serialNumber"]
    assert fresh["holderName"] == "Grace Hopper"
    pass_json = verify_pkpass(download(fresh["downloadUrl"]).content, certs.root_pem)
    assert pass_json["barcodes"][0]["message"] == qr_encode(ticket) != old_barcode
    assert pass_json["voided"] is False


def test_after_transfer_the_old_pass_barcode_is_refused_at_the_gate(holder_client, as_user, ticket, festival):
    from domains.scanning.models import Gate, Verdict
    from domains.scanning.services import scan_validate

    old = create_apple(holder_client, ticket)["walletPass"]
    old_barcode = json.loads(unzip(download(old["downloadUrl"]).content)["pass.json"])["barcodes"][0]["message"]
    gate = Gate.objects.create(festival=festival, name="North")
    assert scan_validate(code=old_barcode, gate=gate).verdict != Verdict.VOIDED

    new_holder = as_user("attendee")
    ticket.holder = new_holder.user
    ticket.secret_version += 1
    ticket.save()
    assert scan_validate(code=old_barcode, gate=gate).verdict == Verdict.VOIDED
    fresh = create_apple(new_holder, ticket)["walletPass"]
    new_barcode = json.loads(unzip(download(fresh["downloadUrl"]).content)["pass.json"])["barcodes"][0]["message"]
    assert scan_validate(code=new_barcode, gate=gate).verdict != Verdict.VOIDED
