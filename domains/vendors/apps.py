from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "domains.vendors"
    label = "vendors"
