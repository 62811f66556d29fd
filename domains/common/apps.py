from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "domains.common"
    label = "common"
