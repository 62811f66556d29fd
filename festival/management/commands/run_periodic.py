"""The scheduler: every N seconds enqueue (or, with --inline, run) each periodic job of
workers/periodic.py: release expired checkout holds, release expired upgrade holds, resend
pending emails. Run exactly one per deployment (docker-compose service `scheduler`)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from workers import periodic


class Command(BaseCommand):
    help = "Enqueue (or run with --inline) the periodic jobs every N seconds; one instance per deployment."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="Seconds between ticks (default PERIODIC_EVERY_SECONDS).")
        parser.add_argument("--inline", action="store_true", help="Run the jobs in this process instead of enqueuing them.")
        parser.add_argument("--once", action="store_true", help="One tick, then exit (cron).")

    def handle(self, *args, every, inline, once, **options):
        every = settings.PERIODIC_EVERY_SECONDS if every is None else every
        if every <= 0:
            self.stderr.write("--every must be positive")
            return

        def report(results):
            self.stdout.write(" ".join(f"{name}={value}" for name, value in results.items()))

        if once:
            report(periodic.tick(inline=inline))
            periodic.record_tick()  # cron: health sees each run (late past 3 x PERIODIC_EVERY_SECONDS)
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"periodic jobs every {every:g} s ({'inline' if inline else 'enqueued'})")
        periodic.run_forever(every=every, inline=inline, stop=stop, on_tick=report)
