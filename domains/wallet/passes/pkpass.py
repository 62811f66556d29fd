"""Apple Wallet `.pkpass` bundles: signing, verification and the certificates they need.

A `.pkpass` is a zip holding `pass.json`, images, `manifest.json` and `signature`:

- `manifest.json` maps every other file name to the SHA-1 hex digest of its bytes. Wallet
  rejects a pass with a file missing from, extra to, or differing from the manifest.
- `signature` is a *detached* DER PKCS#7 signature over `manifest.json` alone. Detached,
  because the signed bytes already travel in the zip, and signing the manifest (not each file)
  covers everything transitively through the hashes.
- The signer is the Pass Type ID certificate; the Apple WWDR intermediate that issued it is
  embedded in the signature because devices only ship Apple's root and must be able to build
  the chain offline. Wallet also requires the certificate's UID and OU to equal the pass's
  `passTypeIdentifier` and `teamIdentifier`; `build_pkpass` refuses a mismatch up front.

Bundles are deterministic (sorted entries, fixed timestamps, canonical JSON): signing the same
pass twice gives identical bytes except inside `signature`, whose signing time changes.
The pass.json content itself is built in `pass_json.py`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from . import cms
from .errors import PkpassError
from .pass_json import (  # noqa: F401  (re-exported: one import point for callers)
    EventTicketPassData,
    build_event_ticket_pass_json,
    validate_event_ticket_pass_json,
)

MANIFEST = "manifest.json"
SIGNATURE = "signature"
PASS_JSON = "pass.json"
REQUIRED_IMAGES = ("icon.png",)  # Wallet refuses a pass without an icon
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9_-]+(@[23]x)?\.png$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 1980-01-01 is the earliest date a zip can hold; a constant keeps the bytes reproducible.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

Source = bytes | str | os.PathLike


def _read_source(source: Source) -> bytes:
    """PEM given as bytes or a PEM string is used as is; anything else is a file path."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        return source.encode("ascii")
    with open(source, "rb") as handle:
        return handle.read()


def _subject_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


@dataclass(frozen=True)
class PassCertificates:
    """What is needed to sign passes: Pass Type ID certificate + key, and the WWDR intermediate."""

    # PEMs kept out of repr: keys are secret, and certificates only make logs unreadable.
    certificate_pem: bytes = field(repr=False)
    private_key_pem: bytes = field(repr=False)
    wwdr_certificate_pem: bytes = field(repr=False)
    pass_type_identifier: str
    team_identifier: str
    key_password: bytes | None = field(default=None, repr=False)

    @classmethod
    def load(cls, *, certificate: Source, private_key: Source, wwdr_certificate: Source,
             key_password: str | bytes | None = None, pass_type_identifier: str | None = None,
             team_identifier: str | None = None) -> PassCertificates:
        """Load from PEM contents or file paths; identifiers default to the cert's UID and OU.

        Raises PkpassError when the key does not belong to the certificate, the PEM cannot be
        read, or the identifiers are absent, so misconfiguration fails at start-up rather than
        when the first attendee taps "Add to Apple Wallet".
        """
        password = key_password.encode() if isinstance(key_password, str) else key_password
        certs = cls(
            certificate_pem=_read_source(certificate),
            private_key_pem=_read_source(private_key),
            wwdr_certificate_pem=_read_source(wwdr_certificate),
            pass_type_identifier=pass_type_identifier or "",
            team_identifier=team_identifier or "",
            key_password=password,
        )
        try:
            cert, key = certs.certificate(), certs.private_key()
            certs.wwdr_certificate()
        except (ValueError, TypeError) as exc:
            raise PkpassError(f"cannot load pass certificates: {exc}") from exc
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            raise PkpassError("the private key does not match the pass type certificate")
        pass_type = pass_type_identifier or _subject_value(cert, NameOID.USER_ID)
        team = team_identifier or _subject_value(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
        if not pass_type or not team:
            raise PkpassError("pass type or team identifier missing (not given, not in cert)")
        return cls(certs.certificate_pem, certs.private_key_pem, certs.wwdr_certificate_pem,
                   pass_type, team, password)

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    def wwdr_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.wwdr_certificate_pem)

    def private_key(self):
        return serialization.load_pem_private_key(self.private_key_pem, self.key_password)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour 8-bit RGB PNG, built from the spec with zlib and struct only."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width  # filter type 0 (None) before each scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (_PNG_SIGNATURE + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))


def default_images(rgb: tuple[int, int, int] = (60, 20, 100)) -> dict[str, bytes]:
    """Placeholder icon and logo at Apple's point sizes (icon 29pt, logo 160x50pt max)."""
    return {
        "icon.png": _png(29, 29, rgb),
        "icon@2x.png": _png(58, 58, rgb),
        "logo.png": _png(160, 50, rgb),
        "logo@2x.png": _png(320, 100, rgb),
    }


def _canonical_json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False).encode("utf-8")


def _sign_manifest(manifest: bytes, certs: PassCertificates) -> bytes:
    options = [
        pkcs7.PKCS7Options.DetachedSignature,
        # Binary: sign the bytes as they are; without it cryptography would canonicalise line
        # endings (S/MIME text mode) and the signature would not match the file in the zip.
        pkcs7.PKCS7Options.Binary,
    ]
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(certs.certificate(), certs.private_key(), hashes.SHA256())
        .add_certificate(certs.wwdr_certificate())
        .sign(serialization.Encoding.DER, options)
    )


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the host, so the bytes do not vary
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def build_pkpass(pass_json: dict, images: dict[str, bytes], certs: PassCertificates) -> bytes:
    """Sign and zip a pass. Raises PkpassError if pass.json or the images are unacceptable."""
    problems = validate_event_ticket_pass_json(pass_json)
    if pass_json.get("passTypeIdentifier") != certs.pass_type_identifier:
        problems.append("passTypeIdentifier does not match the signing certificate")
    if pass_json.get("teamIdentifier") != certs.team_identifier:
        problems.append("teamIdentifier does not match the signing certificate")
    for name, data in images.items():
        if not _IMAGE_NAME.match(name):
            problems.append(f"image name {name!r} is not a plain .png file name")
        elif not data.startswith(_PNG_SIGNATURE):
            problems.append(f"image {name} is not a PNG")
    problems += [f"image {name} is required" for name in REQUIRED_IMAGES if name not in images]
    if problems:
        raise PkpassError("cannot build pass: " + "; ".join(problems), problems)
    files = {PASS_JSON: _canonical_json(pass_json), **images}
    manifest = _canonical_json({name: hashlib.sha1(data).hexdigest()
                                for name, data in files.items()})
    files[MANIFEST] = manifest
    files[SIGNATURE] = _sign_manifest(manifest, certs)
    return _zip(files)


def _read_zip(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if len(set(names)) != len(names):
                raise PkpassError("duplicate file names in the bundle")
            for name in names:
                if name.startswith("/") or ".." in name.split("/"):
                    raise PkpassError(f"unsafe file name {name!r} in the bundle")
            return {n: archive.read(n) for n in names if not n.endswith("/")}
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise PkpassError(f"not a readable zip: {exc}") from exc


def verify_pkpass(data: bytes, trusted_root_pem: bytes) -> dict:
    """Check a bundle as Wallet would; return its parsed pass.json or raise PkpassError.

    Checks: required files present; manifest lists exactly the other files with matching
    SHA-1; the detached signature verifies over manifest.json; the signer chains through the
    embedded certificates to `trusted_root_pem`; the signer's UID/OU match pass.json.
    """
    files = _read_zip(data)
    for required in (PASS_JSON, MANIFEST, SIGNATURE):
        if required not in files:
            raise PkpassError(f"{required} is missing from the bundle")
    try:
        manifest = json.loads(files[MANIFEST])
        pass_json = json.loads(files[PASS_JSON])
    except (ValueError, UnicodeDecodeError) as exc:
        raise PkpassError(f"invalid JSON in the bundle: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(pass_json, dict):
        raise PkpassError("manifest.json and pass.json must be JSON objects")
    hashed = set(files) - {MANIFEST, SIGNATURE}
    problems = [f"{n} is listed in the manifest but missing" for n in sorted(set(manifest) - hashed)]
    problems += [f"{n} is not listed in the manifest" for n in sorted(hashed - set(manifest))]
    problems += [f"{n} does not match its manifest hash" for n in sorted(hashed & set(manifest))
                 if hashlib.sha1(files[n]).hexdigest() != str(manifest[n]).lower()]
    if problems:
        raise PkpassError("; ".join(problems), problems)
    try:
        root = x509.load_pem_x509_certificate(trusted_root_pem)
        signer, _ = cms.verify_detached(files[SIGNATURE], files[MANIFEST], root)
    except (cms.CmsError, ValueError) as exc:
        raise PkpassError(f"signature check failed: {exc}") from exc
    if _subject_value(signer, NameOID.USER_ID) != pass_json.get("passTypeIdentifier"):
        raise PkpassError("signer certificate UID does not match passTypeIdentifier")
    if _subject_value(signer, NameOID.ORGANIZATIONAL_UNIT_NAME) != pass_json.get("teamIdentifier"):
        raise PkpassError("signer certificate OU does not match teamIdentifier")
    return pass_json
