from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "domains.transfers"
    label = "transfers"
