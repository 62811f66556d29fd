from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "domains.upgrades"
    label = "upgrades"

    def ready(self):
        # A refunded or voided ticket ends its pending upgrades once the void has committed:
        # inside it, the work would take rows after the void's ticket types, against the lock
        # order. Should it fail, they stay as before it existed (nobody can complete them, and
        # their holds run out).
        from domains.tickets.signals import after_tickets_changed
        from domains.upgrades.services import upgrades_close_for_voided

        after_tickets_changed(upgrades_close_for_voided, dispatch_uid="upgrades-tickets-changed")
