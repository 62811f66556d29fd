from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import zipfile

import pytest

from tests.support.wallet import use_dev_wallet
from tests.wallet import transports


@pytest.fixture(scope="session")
def wallet_dev_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wallet-dev")


@pytest.fixture(autouse=True)
def _wallet_settings(settings, wallet_dev_dir):
    use_dev_wallet(settings, wallet_dev_dir)
    transports.reset()
    yield
    transports.reset()


@pytest.fixture
def dev_credentials(wallet_dev_dir):
    from domains.wallet.credentials import apple_credentials, google_credentials
    from domains.wallet.passes.devcerts import load_dev_credentials

    apple_credentials(), google_credentials()  # make sure they exist
    return load_dev_credentials(wallet_dev_dir)


@pytest.fixture
def festival(db):
    from domains.events.models import Festival

    return Festival.objects.create(
        slug="summer", name="Example Summer Festival", starts_on=dt.date(2026, 7, 10), ends_on=dt.date(2026, 7, 12),
        timezone="Europe/Berlin", venue_name="Riverside Park", venue_address="1 River Road", is_current=True,
    )


@pytest.fixture
def ticket_type(festival):
    from domains.tickets.models import TicketType

    return TicketType.objects.create(festival=festival, name="Weekend Pass", price_amount=15000, currency="EUR",
                                     capacity=100)


@pytest.fixture
def holder_client(as_user):
    return as_user("attendee", full_name="Ada Lovelace")


@pytest.fixture
def ticket(ticket_type, holder_client):
    from domains.tickets.models import Ticket

    return Ticket.objects.create(ticket_type=ticket_type, holder=holder_client.user)


CREATE_APPLE = """
mutation($ticketId: UUID!) { createAppleWalletPass(ticketId: $ticketId) {
  walletPass { id kind status serialNumber ticketId downloadUrl saveUrl holderName }
  errors { code message field } } }"""
CREATE_GOOGLE = """
mutation($ticketId: UUID!) { createGoogleWalletPass(ticketId: $ticketId) {
  walletPass { id kind status serialNumber ticketId downloadUrl saveUrl }
  errors { code message field } } }"""
MY_PASSES = "{ myWalletPasses { id kind status serialNumber ticketId downloadUrl saveUrl } }"


def create_apple(client, ticket) -> dict:
    return client.execute(CREATE_APPLE, {"ticketId": str(ticket.public_id)}).payload("createAppleWalletPass")


def create_google(client, ticket) -> dict:
    return client.execute(CREATE_GOOGLE, {"ticketId": str(ticket.public_id)}).payload("createGoogleWalletPass")


def path_of(url: str) -> str:
    from django.conf import settings

    assert url.startswith(settings.PUBLIC_API_URL)
    return url.removeprefix(settings.PUBLIC_API_URL)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def check_manifest(files: dict[str, bytes]) -> dict:
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name
    return manifest


def openssl_verify(files: dict[str, bytes], root_pem: bytes, folder) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("signature", "manifest.json"):
        (folder / name).write_bytes(files[name])
    (folder / "root.pem").write_bytes(root_pem)
    return subprocess.run(
        ["openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", "signature", "-content", "manifest.json",
         "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null"],
        cwd=folder, capture_output=True, text=True, check=False,
    )
