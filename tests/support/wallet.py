"""Wallet settings for tests: development credentials made in a folder, and recording
transports in place of APNs and Google (tests/wallet/transports.py)."""

from __future__ import annotations


def use_dev_wallet(settings, dev_dir) -> None:
    settings.WALLET_DEV_DIR = dev_dir
    settings.WALLET_DEV_CREDENTIALS = True
    for name in ("APPLE_PASS_CERTIFICATE", "APPLE_PASS_KEY", "APPLE_WWDR_CERTIFICATE", "GOOGLE_WALLET_ISSUER_ID",
                 "GOOGLE_WALLET_SERVICE_ACCOUNT"):
        setattr(settings, name, "")
    settings.WALLET_APNS_TRANSPORT = "tests.wallet.transports.recording_apns"
    settings.WALLET_GOOGLE_TRANSPORT = "tests.wallet.transports.recording_google"
