from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "domains.events"
    label = "events"
