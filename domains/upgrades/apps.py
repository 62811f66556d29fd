from django.apps import AppConfig


class UpgradesConfig(AppConfig):
    name = "domains.upgrades"
    label = "upgrades"
