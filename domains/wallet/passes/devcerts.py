"""Development and test credentials for wallet passes, generated locally.

Real Apple certificates come from the Apple Developer portal (a Pass Type ID certificate,
issued by Apple's "WWDR" intermediate, which chains to the Apple Root CA) and real Google
credentials are a service-account JSON key. Neither may be committed, and neither exists on a
developer laptop or in CI. This module fabricates look-alikes with the same *shape*:

- a self-signed "Apple root" CA (stands in for Apple Root CA; tests trust it),
- a "WWDR" intermediate signed by that root,
- a pass type certificate signed by the intermediate, with the subject attributes Apple uses:
  CN "Pass Type ID: <id>", UID = the pass type identifier, OU = the team identifier;
- a Google service-account dict with an RSA private key.

Wallet apps will of course reject passes signed with these; they exist so that signing,
verification and JWT code paths run end to end without secrets. RSA key generation takes a
noticeable fraction of a second, so the `generate_*` functions are cached per process; the
`create_*` functions always make fresh ones (tests use them for "signed by another key").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .pkpass import PassCertificates

DEV_PASS_TYPE_IDENTIFIER = "pass.org.example.festival"
DEV_TEAM_IDENTIFIER = "DEVTEAM123"
DEV_GOOGLE_PROJECT_ID = "festival-dev"
DEFAULT_DEV_FOLDER = Path("var/wallet-dev")

_FILES = {
    "root_pem": "root.pem", "wwdr_pem": "wwdr.pem",
    "pass_certificate_pem": "pass-certificate.pem", "pass_key_pem": "pass-key.pem",
}
_SERVICE_ACCOUNT_FILE = "google-service-account.json"


@dataclass(frozen=True)
class DevCertificates:
    """PEM bytes of a fabricated Apple-like chain: root -> WWDR -> pass type certificate."""

    root_pem: bytes
    wwdr_pem: bytes
    pass_certificate_pem: bytes
    pass_key_pem: bytes
    pass_type_identifier: str
    team_identifier: str

    def pass_certificates(self) -> PassCertificates:
        return PassCertificates.load(
            certificate=self.pass_certificate_pem,
            private_key=self.pass_key_pem,
            wwdr_certificate=self.wwdr_pem,
        )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name,
                 issuer_key: rsa.RSAPrivateKey, *, ca: bool, path_length: int | None,
                 days: int) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Backdated so that clock skew between machines does not make a fresh cert "not yet valid".
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
        # Apple's pass certificates double as TLS client certificates for APNs.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    builder = builder.add_extension(
        x509.KeyUsage(content_commitment=False, key_encipherment=False, data_encipherment=False,
                      key_agreement=False, encipher_only=False, decipher_only=False, **usage),
        critical=True,
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _name(**attrs: str) -> x509.Name:
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME,
            "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
            "UID": NameOID.USER_ID}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


def create_dev_certificates(pass_type_identifier: str = DEV_PASS_TYPE_IDENTIFIER,
                            team_identifier: str = DEV_TEAM_IDENTIFIER) -> DevCertificates:
    """Create a fresh root -> WWDR -> pass type chain (RSA 2048, SHA-256)."""
    root_key, wwdr_key, pass_key = _key(), _key(), _key()
    root_name = _name(C="US", O="Example Festival DEV", CN="DEV Apple Root CA (not Apple)")
    wwdr_name = _name(C="US", O="Example Festival DEV", OU="G4",
                      CN="DEV Apple Worldwide Developer Relations CA (not Apple)")
    pass_name = _name(UID=pass_type_identifier, CN=f"Pass Type ID: {pass_type_identifier}",
                      OU=team_identifier, O="Example Festival DEV", C="US")
    root = _certificate(root_name, root_key, root_name, root_key, ca=True, path_length=1,
                        days=3650)
    wwdr = _certificate(wwdr_name, wwdr_key, root_name, root_key, ca=True, path_length=0,
                        days=3650)
    leaf = _certificate(pass_name, pass_key, wwdr_name, wwdr_key, ca=False, path_length=None,
                        days=825)
    pem = serialization.Encoding.PEM
    return DevCertificates(
        root_pem=root.public_bytes(pem),
        wwdr_pem=wwdr.public_bytes(pem),
        pass_certificate_pem=leaf.public_bytes(pem),
        pass_key_pem=_pem_key(pass_key),
        pass_type_identifier=pass_type_identifier,
        team_identifier=team_identifier,
    )


@functools.lru_cache(maxsize=8)
def generate_dev_certificates(pass_type_identifier: str = DEV_PASS_TYPE_IDENTIFIER,
                              team_identifier: str = DEV_TEAM_IDENTIFIER) -> DevCertificates:
    """Like `create_dev_certificates`, generated once per process and arguments."""
    return create_dev_certificates(pass_type_identifier, team_identifier)


def create_google_service_account(project_id: str = DEV_GOOGLE_PROJECT_ID) -> dict:
    """A fresh dict shaped like a Google service-account JSON key (RSA 2048)."""
    client_id = str(secrets.randbelow(10**21 - 10**20) + 10**20)  # 21 digits, as Google's are
    email = f"wallet-dev@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": uuid.uuid4().hex + secrets.token_hex(4),
        "private_key": _pem_key(_key()).decode("ascii"),
        "client_email": email,
        "client_id": client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


@functools.lru_cache(maxsize=8)
def _cached_service_account(project_id: str) -> tuple[tuple[str, str], ...]:
    return tuple(create_google_service_account(project_id).items())


def generate_google_service_account(project_id: str = DEV_GOOGLE_PROJECT_ID) -> dict:
    """Like `create_google_service_account`, generated once per process and project id.

    Returns a new dict each call so that a caller mutating it cannot poison the cache.
    """
    return dict(_cached_service_account(project_id))


def write_dev_credentials(folder: str | os.PathLike = DEFAULT_DEV_FOLDER, *,
                          certificates: DevCertificates | None = None,
                          service_account: dict | None = None) -> Path:
    """Write dev certificates and service account to `folder` (keys readable by owner only)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    certificates = certificates or generate_dev_certificates()
    service_account = service_account or generate_google_service_account()
    values = asdict(certificates)
    for field, filename in _FILES.items():
        _write_private(folder / filename, values[field])
    ids = {"pass_type_identifier": certificates.pass_type_identifier,
           "team_identifier": certificates.team_identifier}
    (folder / "apple-identifiers.json").write_text(json.dumps(ids, indent=2) + "\n")
    _write_private(folder / _SERVICE_ACCOUNT_FILE,
                   (json.dumps(service_account, indent=2) + "\n").encode())
    return folder


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_dev_credentials(folder: str | os.PathLike = DEFAULT_DEV_FOLDER
                         ) -> tuple[DevCertificates, dict]:
    """Read back what `write_dev_credentials` wrote; FileNotFoundError if absent."""
    folder = Path(folder)
    ids = json.loads((folder / "apple-identifiers.json").read_text())
    values = {field: (folder / name).read_bytes() for field, name in _FILES.items()}
    service_account = json.loads((folder / _SERVICE_ACCOUNT_FILE).read_text())
    return DevCertificates(**values, **ids), service_account


def ensure_dev_credentials(folder: str | os.PathLike = DEFAULT_DEV_FOLDER
                           ) -> tuple[DevCertificates, dict]:
    """Load dev credentials from `folder`, creating them first if missing.

    Persisting them keeps passes issued by a development server verifiable across restarts.
    """
    try:
        return load_dev_credentials(folder)
    except FileNotFoundError:
        write_dev_credentials(folder)
        return load_dev_credentials(folder)
