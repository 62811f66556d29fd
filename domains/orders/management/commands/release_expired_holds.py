"""Return expired checkout holds to sale: once, or forever every N seconds (a sidecar/cron)."""

import time

from django.core.management.base import BaseCommand

from domains.orders.services import holds_release_expired


class Command(BaseCommand):
    help = "Expire pending checkouts whose hold ran out and return their tickets to sale."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: run once).")
        parser.add_argument("--enqueue", action="store_true", help="Enqueue the worker job instead of running here.")

    def handle(self, *args, every, enqueue, **options):
        while True:
            if enqueue:
                from workers.orders import release_expired_holds

                release_expired_holds.send()
            else:
                n = holds_release_expired()
                self.stdout.write(f"released {n} expired checkouts")
            if not every:
                return
            time.sleep(every)
