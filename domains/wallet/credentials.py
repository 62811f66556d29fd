"""Wallet credentials from settings: real ones from the environment, dev ones when allowed.

Apple: APPLE_PASS_CERTIFICATE, APPLE_PASS_KEY, APPLE_WWDR_CERTIFICATE (PEM contents or paths),
APPLE_PASS_KEY_PASSWORD, APPLE_PASS_TYPE_ID / APPLE_TEAM_ID (default: from the certificate).
Google: GOOGLE_WALLET_ISSUER_ID and GOOGLE_WALLET_SERVICE_ACCOUNT (JSON contents or path).

When a wallet's variables are all unset and WALLET_DEV_CREDENTIALS is on (development and
tests; never production), generated look-alikes under WALLET_DEV_DIR are used. Otherwise the
operations answer WALLET_NOT_CONFIGURED. Loading is cached per set of setting values, so a
test that overrides settings gets what it configured.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from domains.common.errors import DomainError
from domains.wallet.errors import WalletErrorCode
from domains.wallet.passes import devcerts
from domains.wallet.passes.errors import PkpassError
from domains.wallet.passes.pkpass import PassCertificates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppleCredentials:
    certificates: PassCertificates
    is_dev: bool
    # The dev root that signed the chain (tests verify against it); None for real credentials.
    dev_root_pem: bytes | None = field(default=None, repr=False)

    @property
    def pass_type_identifier(self) -> str:
        return self.certificates.pass_type_identifier


@dataclass(frozen=True)
class GoogleCredentials:
    issuer_id: str
    service_account: dict = field(repr=False)
    is_dev: bool


def not_configured(wallet: str) -> DomainError:
    return DomainError(WalletErrorCode.WALLET_NOT_CONFIGURED, f"{wallet} passes are not available: the wallet is not configured.")


@functools.lru_cache(maxsize=4)
def _load_apple(cert: str, key: str, password: str, wwdr: str, pass_type: str, team: str,
                dev: bool, dev_dir: str) -> AppleCredentials | None:
    if cert or key or wwdr:
        if not (cert and key and wwdr):
            log.error("wallet: APPLE_PASS_CERTIFICATE, APPLE_PASS_KEY and APPLE_WWDR_CERTIFICATE must all be set")
            return None
        try:
            certs = PassCertificates.load(certificate=cert, private_key=key, wwdr_certificate=wwdr,
                                          key_password=password or None,
                                          pass_type_identifier=pass_type or None, team_identifier=team or None)
        except (PkpassError, OSError) as exc:
            log.error("wallet: cannot load the Apple pass certificates: %s", exc)
            return None
        return AppleCredentials(certs, is_dev=False)
    if not dev:
        return None
    dev_certs, _ = devcerts.ensure_dev_credentials(dev_dir)
    return AppleCredentials(dev_certs.pass_certificates(), is_dev=True, dev_root_pem=dev_certs.root_pem)


def apple_credentials() -> AppleCredentials:
    """The Apple signing material, or DomainError(WALLET_NOT_CONFIGURED)."""
    creds = _load_apple(
        settings.APPLE_PASS_CERTIFICATE, settings.APPLE_PASS_KEY, settings.APPLE_PASS_KEY_PASSWORD,
        settings.APPLE_WWDR_CERTIFICATE, settings.APPLE_PASS_TYPE_ID, settings.APPLE_TEAM_ID,
        settings.WALLET_DEV_CREDENTIALS, str(settings.WALLET_DEV_DIR),
    )
    if creds is None:
        raise not_configured("Apple Wallet")
    return creds


def _read_json(source: str) -> dict:
    text = source if source.lstrip().startswith("{") else Path(source).read_text()
    value = json.loads(text)
    if not isinstance(value, dict) or not {"private_key", "private_key_id", "client_email"} <= set(value):
        raise ValueError("not a service-account key (private_key, private_key_id, client_email)")
    return value


@functools.lru_cache(maxsize=4)
def _load_google(issuer_id: str, account: str, dev: bool, dev_dir: str, dev_issuer: str) -> GoogleCredentials | None:
    if issuer_id or account:
        if not (issuer_id and account):
            log.error("wallet: GOOGLE_WALLET_ISSUER_ID and GOOGLE_WALLET_SERVICE_ACCOUNT must both be set")
            return None
        if not issuer_id.isdigit():
            log.error("wallet: GOOGLE_WALLET_ISSUER_ID must be the numeric issuer id")
            return None
        try:
            return GoogleCredentials(issuer_id, _read_json(account), is_dev=False)
        except (OSError, ValueError) as exc:
            log.error("wallet: cannot load the Google service account: %s", exc)
            return None
    if not dev:
        return None
    _, service_account = devcerts.ensure_dev_credentials(dev_dir)
    return GoogleCredentials(dev_issuer, service_account, is_dev=True)


def google_credentials() -> GoogleCredentials:
    """The Google issuer and service account, or DomainError(WALLET_NOT_CONFIGURED)."""
    creds = _load_google(
        settings.GOOGLE_WALLET_ISSUER_ID, settings.GOOGLE_WALLET_SERVICE_ACCOUNT,
        settings.WALLET_DEV_CREDENTIALS, str(settings.WALLET_DEV_DIR), settings.WALLET_DEV_GOOGLE_ISSUER_ID,
    )
    if creds is None:
        raise not_configured("Google Wallet")
    return creds
