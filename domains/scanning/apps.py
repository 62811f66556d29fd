from django.apps import AppConfig


class ScanningConfig(AppConfig):
    name = "domains.scanning"
    label = "scanning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from domains.scanning import signals

        signals.connect()
