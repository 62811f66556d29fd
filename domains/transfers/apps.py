from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "domains.transfers"
    label = "transfers"

    def ready(self):
        # A refunded or voided ticket ends its pending transfers: see domains/transfers/signals.py.
        from domains.transfers import signals

        signals.connect()
