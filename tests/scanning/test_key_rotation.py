"""Rotating the QR signing key (QR_SIGNING_SECRET, QR_SIGNING_PREVIOUS_SECRETS).

A festival's codes are out in the world (PDFs in inboxes, wallet passes, screenshots) long
before the gates open. A planned rotation must not turn them INVALID; a leaked key must be
refusable. New codes are always signed with the current key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from domains.common import signing
from domains.common.signing import b64url_decode
from domains.scanning.models import ScanLog
from domains.tickets.qr import InvalidQrCode, qr_decode, qr_encode

pytestmark = pytest.mark.django_db

OLD = "old-qr-secret-" + "o" * 32
NEW = "new-qr-secret-" + "n" * 32
KEYS = "{ scannerKeys { keyId publicKey } }"


def kid_of(code: str) -> str:
    return code.split(".")[1]


@pytest.fixture
def rotated(settings):
    """A ticket's code issued under OLD; then the operator rotates to NEW and keeps OLD as previous."""

    def rotate(previous: list[str]):
        settings.QR_SIGNING_SECRET = NEW
        settings.QR_SIGNING_PREVIOUS_SECRETS = previous

    settings.QR_SIGNING_SECRET = OLD
    settings.QR_SIGNING_PREVIOUS_SECRETS = []
    return rotate


def test_a_code_signed_before_a_planned_rotation_is_admitted(env, gql, rotated):
    ticket = env.ticket()
    old_code = qr_encode(ticket)
    rotated([OLD])

    assert env.scan(old_code)["result"]["verdict"] == "ADMITTED"
    # Codes made now carry the new key's id; both keys are given to scanners, the current first.
    new_code = qr_encode(env.ticket())
    assert kid_of(new_code) != kid_of(old_code)
    keys = gql.execute(KEYS).payload("scannerKeys")
    assert [k["keyId"] for k in keys] == [kid_of(new_code), kid_of(old_code)]
    assert env.scan(new_code)["result"]["verdict"] == "ADMITTED"


def test_each_listed_key_verifies_its_own_codes_offline(env, gql, rotated):
    old_code = qr_encode(env.ticket())
    rotated([OLD])
    new_code = qr_encode(env.ticket())
    keys = {k["keyId"]: Ed25519PublicKey.from_public_bytes(b64url_decode(k["publicKey"])) for k in gql.execute(KEYS).payload("scannerKeys")}
    for code in (old_code, new_code):
        body, _, sig = code.rpartition(".")
        keys[kid_of(code)].verify(b64url_decode(sig), body.encode())  # raises if the key is not the signer


def test_dropping_a_previous_secret_refuses_its_codes(env, gql, rotated):
    """After a leak the operator drops the old secret: its codes (and forgeries made with it)
    scan INVALID, say nothing about the ticket, and the holder's ticketQr shows a new code."""
    ticket = env.ticket()
    old_code = qr_encode(ticket)
    rotated([])

    result = env.scan(old_code)["result"]
    assert result["verdict"] == "INVALID"
    assert result["holderName"] is None and result["ticketId"] is None
    assert ScanLog.objects.get().reason == "bad signature"
    assert [k["keyId"] for k in gql.execute(KEYS).payload("scannerKeys")] == [kid_of(qr_encode(ticket))]
    assert env.scan(qr_encode(ticket))["result"]["verdict"] == "ADMITTED"


def test_the_current_secret_listed_as_previous_too_gives_one_key(rotated):
    rotated([NEW, OLD, NEW])
    assert len(signing.qr_public_keys()) == 2


def test_a_key_id_shared_by_two_secrets_is_refused(rotated, monkeypatch):
    rotated([OLD])
    real = signing._qr_public
    monkeypatch.setattr(signing, "_qr_public", lambda secret: ("deadbeef", *real(secret)[1:]))
    signing._qr_keyring.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="same key id"):
            signing.qr_public_keys()
    finally:
        signing._qr_keyring.cache_clear()


def test_a_code_of_an_unknown_key_id_is_refused(rotated):
    rotated([OLD])
    code = qr_encode(type("T", (), {"public_id": "0" * 32, "secret_version": 1}))
    body, _, sig = code.rpartition(".")
    _fmt, kid, rest = body.split(".", 2)
    with pytest.raises(InvalidQrCode, match="bad signature"):
        qr_decode(f"FT1.{'0' * 8 if kid != '0' * 8 else '1' * 8}.{rest}.{sig}")
