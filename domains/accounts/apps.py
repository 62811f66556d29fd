from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "domains.accounts"
    label = "accounts"

    def ready(self):
        from domains.accounts import signals

        signals.connect()
