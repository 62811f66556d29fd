from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "domains.wallet"
    label = "wallet"

    def ready(self):
        # Passes follow the ticket whatever code changes it: see domains/wallet/signals.py.
        from domains.wallet import signals

        signals.connect()
