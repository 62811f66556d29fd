from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "domains.accounts"
    label = "accounts"
