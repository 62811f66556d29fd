from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    label = "workers"

    def ready(self):
        # Import every actor so that the broker knows them in web processes too.
        from workers import tasks  # noqa: F401
