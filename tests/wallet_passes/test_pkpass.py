"""Apple Wallet bundles: built with dev certificates, checked with our verifier and openssl."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest

from domains.wallet.passes import devcerts, pkpass
from domains.wallet.passes.errors import PkpassError
from domains.wallet.passes.pkpass import (
    EventTicketPassData,
    PassCertificates,
    build_event_ticket_pass_json,
    build_pkpass,
    default_images,
    validate_event_ticket_pass_json,
    verify_pkpass,
)

CEST = dt.timezone(dt.timedelta(hours=2))
QR = "FEST1.7f3c2a.b64sig_-AbC"


@pytest.fixture(scope="module")
def dev():
    return devcerts.generate_dev_certificates()


@pytest.fixture(scope="module")
def certs(dev):
    return dev.pass_certificates()


def ticket(**overrides) -> EventTicketPassData:
    values = dict(
        serial_number="3f1d0c7e-9a4b-4c1e-8f7a-2b9c1d0e5a61",
        festival_name="Example Summer Festival 2026",
        venue_name="Riverside Park",
        venue_address="1 River Road, Springfield",
        starts_at=dt.datetime(2026, 7, 10, 16, 0, tzinfo=CEST),
        ends_at=dt.datetime(2026, 7, 12, 23, 0, tzinfo=CEST),
        holder_name="Ada Lovelace",
        ticket_type_name="Weekend Pass",
        qr_payload=QR,
        organization_name="Example Festival GmbH",
        description="Ticket for Example Summer Festival 2026",
        web_service_url="https://api.festival.example/wallet/",
        authentication_token="tok_0123456789abcdef0123",
        terms="Non-refundable. Valid for one person.",
    )
    values.update(overrides)
    return EventTicketPassData(**values)


def pass_json_for(certs, **overrides) -> dict:
    return build_event_ticket_pass_json(
        ticket(**overrides), pass_type_identifier=certs.pass_type_identifier,
        team_identifier=certs.team_identifier)


@pytest.fixture(scope="module")
def bundle(certs) -> bytes:
    return build_pkpass(pass_json_for(certs), default_images(), certs)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def openssl_verify(files: dict[str, bytes], root_pem: bytes, tmp_path) -> subprocess.CompletedProcess:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "root.pem").write_bytes(root_pem)
    return subprocess.run(
        ["openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", "signature",
         "-content", "manifest.json", "-CAfile", "root.pem", "-purpose", "any",
         "-out", "/dev/null"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")


def test_bundle_contains_expected_files_and_manifest_hashes(bundle):
    files = unzip(bundle)
    assert set(files) == {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png",
                          "logo.png", "logo@2x.png"}
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest


def test_pass_json_content(bundle, certs):
    pass_json = json.loads(unzip(bundle)["pass.json"])
    assert pass_json["formatVersion"] == 1
    assert pass_json["passTypeIdentifier"] == "pass.org.example.festival"
    assert pass_json["teamIdentifier"] == certs.team_identifier
    assert pass_json["barcodes"] == [{"format": "PKBarcodeFormatQR", "message": QR,
                                      "messageEncoding": "iso-8859-1",
                                      "altText": ticket().serial_number}]
    assert pass_json["barcode"] == pass_json["barcodes"][0]
    fields = pass_json["eventTicket"]
    assert fields["primaryFields"][0]["value"] == "Example Summer Festival 2026"
    assert [f["value"] for f in fields["secondaryFields"]] == ["Ada Lovelace", "Weekend Pass"]
    assert fields["auxiliaryFields"][0]["value"] == "2026-07-10T16:00:00+02:00"
    assert fields["auxiliaryFields"][1]["value"] == "Riverside Park"
    assert any(f["key"] == "terms" for f in fields["backFields"])
    assert pass_json["relevantDate"] == "2026-07-10T16:00:00+02:00"
    assert pass_json["voided"] is False
    assert "expirationDate" not in pass_json


def test_verify_pkpass_accepts_own_bundle(bundle, dev):
    assert verify_pkpass(bundle, dev.root_pem)["serialNumber"] == ticket().serial_number


@needs_openssl
def test_openssl_verifies_signature_against_dev_root(bundle, dev, tmp_path):
    result = openssl_verify(unzip(bundle), dev.root_pem, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@needs_openssl
def test_tampered_pass_json_fails(bundle, dev, tmp_path):
    files = unzip(bundle)
    files["pass.json"] = files["pass.json"].replace(b"Ada Lovelace", b"Eve Mallory")
    with pytest.raises(PkpassError, match="pass.json does not match its manifest hash"):
        verify_pkpass(rezip(files), dev.root_pem)
    # Re-hashing into the manifest does not help: the manifest is what is signed.
    manifest = json.loads(files["manifest.json"])
    manifest["pass.json"] = hashlib.sha1(files["pass.json"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(PkpassError, match="signature check failed"):
        verify_pkpass(rezip(files), dev.root_pem)
    assert openssl_verify(files, dev.root_pem, tmp_path).returncode != 0


def test_missing_and_extra_files_fail(bundle, dev):
    files = unzip(bundle)
    extra = dict(files, **{"strip.png": default_images()["icon.png"]})
    with pytest.raises(PkpassError, match="strip.png is not listed"):
        verify_pkpass(rezip(extra), dev.root_pem)
    missing = {k: v for k, v in files.items() if k != "logo.png"}
    with pytest.raises(PkpassError, match="logo.png is listed in the manifest but missing"):
        verify_pkpass(rezip(missing), dev.root_pem)
    no_signature = {k: v for k, v in files.items() if k != "signature"}
    with pytest.raises(PkpassError, match="signature is missing"):
        verify_pkpass(rezip(no_signature), dev.root_pem)


@needs_openssl
def test_pass_signed_by_another_chain_fails(bundle, dev, tmp_path):
    other = devcerts.create_dev_certificates()
    other_certs = other.pass_certificates()
    foreign = build_pkpass(pass_json_for(other_certs), default_images(), other_certs)
    assert verify_pkpass(foreign, other.root_pem)  # valid on its own terms
    # Same root *name* (both are dev roots), different key: the chain must still fail.
    with pytest.raises(PkpassError, match="chain"):
        verify_pkpass(foreign, dev.root_pem)
    assert openssl_verify(unzip(foreign), dev.root_pem, tmp_path).returncode != 0
    # Our manifest with the foreign signature: signer chain is wrong for our root too.
    spliced = dict(unzip(bundle), signature=unzip(foreign)["signature"])
    with pytest.raises(PkpassError, match="signature check failed"):
        verify_pkpass(rezip(spliced), dev.root_pem)


@needs_openssl
def test_verifier_accepts_signature_made_by_openssl(bundle, dev, tmp_path):
    # Guards against our DER reader only understanding cryptography's own output.
    files = unzip(bundle)
    for name, data in {"manifest.json": files["manifest.json"], "pass.pem":
                       dev.pass_certificate_pem, "key.pem": dev.pass_key_pem,
                       "wwdr.pem": dev.wwdr_pem}.items():
        (tmp_path / name).write_bytes(data)
    subprocess.run(["openssl", "smime", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
                    "-in", "manifest.json", "-signer", "pass.pem", "-inkey", "key.pem",
                    "-certfile", "wwdr.pem", "-out", "signature"],
                   cwd=tmp_path, check=True, capture_output=True)
    files["signature"] = (tmp_path / "signature").read_bytes()
    assert verify_pkpass(rezip(files), dev.root_pem)["serialNumber"] == ticket().serial_number


def test_corrupted_signature_always_raises_pkpass_error(bundle, dev):
    files = unzip(bundle)
    signature = files["signature"]
    variants = [signature[:cut] for cut in range(0, len(signature), 97)]
    # High bit: flipping bit 0 of a certificate's BIT STRING unused-bits byte is tolerated by
    # X.509 parsers and changes nothing that is signed, so it is not a useful probe.
    variants += [signature[:i] + bytes([signature[i] ^ 0x80]) + signature[i + 1:]
                 for i in range(0, len(signature), 11)]
    for variant in variants:
        with pytest.raises(PkpassError):
            verify_pkpass(rezip(dict(files, signature=variant)), dev.root_pem)


def test_key_not_matching_certificate_is_refused(dev):
    other = devcerts.create_dev_certificates()
    with pytest.raises(PkpassError, match="does not match"):
        PassCertificates.load(certificate=dev.pass_certificate_pem,
                              private_key=other.pass_key_pem, wwdr_certificate=dev.wwdr_pem)


def test_certificates_load_from_files_and_read_identifiers(dev, tmp_path):
    devcerts.write_dev_credentials(tmp_path, certificates=dev)
    loaded = PassCertificates.load(certificate=tmp_path / "pass-certificate.pem",
                                   private_key=str(tmp_path / "pass-key.pem"),
                                   wwdr_certificate=dev.wwdr_pem.decode())
    assert loaded.pass_type_identifier == "pass.org.example.festival"
    assert loaded.team_identifier == devcerts.DEV_TEAM_IDENTIFIER
    assert "PRIVATE KEY" not in repr(loaded)
    reread, account = devcerts.load_dev_credentials(tmp_path)
    assert reread == dev
    assert account["type"] == "service_account"
    assert (tmp_path / "pass-key.pem").stat().st_mode & 0o077 == 0


def test_same_pass_twice_differs_only_in_signature(certs):
    first = unzip(build_pkpass(pass_json_for(certs), default_images(), certs))
    second = unzip(build_pkpass(pass_json_for(certs), default_images(), certs))
    assert {k: v for k, v in first.items() if k != "signature"} == \
           {k: v for k, v in second.items() if k != "signature"}


def test_build_refuses_invalid_pass(certs):
    broken = pass_json_for(certs)
    del broken["serialNumber"]
    with pytest.raises(PkpassError) as caught:
        build_pkpass(broken, default_images(), certs)
    assert "serialNumber is required" in caught.value.problems
    wrong_type = pass_json_for(certs)
    wrong_type["passTypeIdentifier"] = "pass.org.example.other"
    with pytest.raises(PkpassError, match="does not match the signing certificate"):
        build_pkpass(wrong_type, default_images(), certs)
    no_icon = {k: v for k, v in default_images().items() if not k.startswith("icon")}
    with pytest.raises(PkpassError, match="icon.png is required"):
        build_pkpass(pass_json_for(certs), no_icon, certs)


def test_valid_pass_json_has_no_problems(certs):
    assert validate_event_ticket_pass_json(pass_json_for(certs)) == []
    local = pass_json_for(certs, web_service_url="http://localhost:8000/wallet/")
    assert validate_event_ticket_pass_json(local) == []


@pytest.mark.parametrize("key", ["formatVersion", "passTypeIdentifier", "serialNumber",
                                 "teamIdentifier", "organizationName", "description",
                                 "eventTicket", "barcodes"])
def test_validation_catches_missing_required_key(certs, key):
    pass_json = pass_json_for(certs)
    del pass_json[key]
    problems = validate_event_ticket_pass_json(pass_json)
    assert any(key in problem for problem in problems), problems


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.update(formatVersion=2), "formatVersion must be 1"),
    (lambda d: d["barcodes"][0].pop("format"), "barcodes[0].format"),
    (lambda d: d["barcodes"][0].pop("message"), "barcodes[0].message is required"),
    (lambda d: d["barcodes"][0].pop("messageEncoding"), "barcodes[0].messageEncoding"),
    (lambda d: d["barcodes"][0].update(message="€uro"), "cannot be encoded"),
    (lambda d: d.update(authenticationToken="short"), "authenticationToken"),
    (lambda d: d.pop("authenticationToken"), "authenticationToken"),
    (lambda d: d.update(webServiceURL="http://api.festival.example/"), "https"),
    (lambda d: d.update(backgroundColor="#ffffff"), "backgroundColor"),
    (lambda d: d.update(relevantDate="2026-07-10T16:00:00"), "relevantDate needs a UTC offset"),
    (lambda d: d["eventTicket"]["backFields"].append({"key": "venue", "value": "x"}),
     "repeats the field key"),
])
def test_validation_catches_broken_fields(certs, mutate, expected):
    pass_json = pass_json_for(certs)
    mutate(pass_json)
    problems = validate_event_ticket_pass_json(pass_json)
    assert any(expected in problem for problem in problems), problems


def test_naive_datetimes_are_refused(certs):
    with pytest.raises(ValueError, match="timezone-aware"):
        pass_json_for(certs, starts_at=dt.datetime(2026, 7, 10, 16, 0))


def test_voided_and_expiration(certs):
    pass_json = pass_json_for(certs, voided=True,
                              expiration_date=dt.datetime(2026, 7, 13, tzinfo=CEST))
    assert pass_json["voided"] is True
    assert pass_json["expirationDate"] == "2026-07-13T00:00:00+02:00"
    assert validate_event_ticket_pass_json(pass_json) == []


def test_default_images_are_valid_pngs():
    from PIL import Image  # Pillow is installed; it only checks what zlib/struct produced

    for data in default_images().values():
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format == "PNG"
    assert pkpass.default_images()["icon@2x.png"][16:24] == (58).to_bytes(4, "big") * 2
