from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "domains.notifications"
    label = "notifications"
