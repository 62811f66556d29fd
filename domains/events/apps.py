from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "domains.events"
    label = "events"

    def ready(self):
        from domains.events import signals

        signals.connect()
