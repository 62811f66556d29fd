"""Enqueue again the emails still pending after N seconds (their job was lost, e.g. Redis was
down when the transaction committed). Safe to run as often as you like: delivery is once per row."""

from django.core.management.base import BaseCommand

from domains.notifications.services import email_resend_pending


class Command(BaseCommand):
    help = "Re-enqueue pending outbound emails older than --older-than seconds (default 120)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=120)

    def handle(self, *args, older_than: int, **options):
        count = email_resend_pending(older_than_seconds=older_than)
        self.stdout.write(f"{count} pending email(s) enqueued")
