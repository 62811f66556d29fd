from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "domains.upgrades"
    label = "upgrades"

    def ready(self):
        # A refunded or voided ticket ends its pending upgrades: see domains/upgrades/signals.py.
        from domains.upgrades import signals

        signals.connect()
