"""Run the server the way development needs it: one process with uvicorn (HTTP + WebSocket),
an in-process Dramatiq worker when there is no Redis, the periodic jobs (expired holds, pending
emails: workers/periodic.py) in a daemon thread, and a local Stripe (localstripe) with our
webhook registered when no real Stripe is configured."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the development server (uvicorn, in-process worker, local Stripe)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-localstripe", action="store_true")
        parser.add_argument("--no-periodic", action="store_true", help="Do not run the periodic jobs in this process.")

    def handle(self, *args, host, port, no_localstripe, no_periodic=False, **options):
        import uvicorn

        local_stripe = None
        if not no_localstripe and not settings.STRIPE_API_BASE and settings.STRIPE_SECRET_KEY.startswith("sk_test_local"):
            local_stripe = start_local_stripe(f"http://{host}:{port}")
            self.stdout.write(f"local Stripe on {settings.STRIPE_API_BASE} (webhooks -> this server)")
        worker = None
        if settings.DRAMATIQ_IN_PROCESS_WORKER:
            worker = start_in_process_worker()
            self.stdout.write("in-process job worker started")
        periodic_stop = None
        if settings.PERIODIC_IN_PROCESS and not no_periodic:
            from workers.periodic import start_in_thread

            _thread, periodic_stop = start_in_thread(every=settings.PERIODIC_EVERY_SECONDS)
            self.stdout.write(f"periodic jobs every {settings.PERIODIC_EVERY_SECONDS} s (expired holds, pending emails)")
        self.stdout.write(f"GraphQL on http://{host}:{port}/graphql/  (GraphiQL in a browser)")
        try:
            from festival.asgi import application

            uvicorn.run(application, host=host, port=port, log_level="info", lifespan="off")
        finally:
            if periodic_stop is not None:
                periodic_stop.set()
            if worker is not None:
                worker.stop()
            if local_stripe is not None:
                local_stripe.stop()


def start_local_stripe(server_url: str):
    from domains.payments.localstripe_server import LocalStripe

    stripe = LocalStripe().start()
    settings.STRIPE_API_BASE = stripe.api_base
    stripe.register_webhook(
        "festival-dev",
        f"{server_url}/api/payments/webhook/stripe/",
        settings.STRIPE_WEBHOOK_SECRET,
        ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
    )
    return stripe


def start_in_process_worker():
    import dramatiq
    from dramatiq import Worker

    worker = Worker(dramatiq.get_broker(), worker_threads=2)
    worker.start()
    return worker
