"""Seed a pool of gate scans for load tests (locustfile.py GateScanner, bench/).

    python manage.py bench_seed_gate --tickets 5000 --scanners 16 --out var/gate_pool.json

Creates a festival (or uses --festival SLUG) with a gate, SCANNERS staff accounts each with a
registered scanner device, and TICKETS issued tickets; writes their QR codes and the scanner
credentials (access token, device id, device token) as JSON. Each code admits once: a pool
serves one run. Benchmark data only (staff accounts with known tokens): never in production.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Seed tickets and scanner devices for a gate load test; write the pool as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=5000)
        parser.add_argument("--scanners", type=int, default=16)
        parser.add_argument("--festival", help="slug of an existing festival (default: a new one)")
        parser.add_argument("--out", default="var/gate_pool.json", help="file to write, '-' for stdout")

    def handle(self, *args, tickets, scanners, festival, out, **options):
        if settings.IS_PRODUCTION:
            raise CommandError("bench_seed_gate creates staff accounts with known tokens: not in production.")
        from bench.workloads import seed_gate
        from domains.events.models import Festival

        fest = Festival.objects.get(slug=festival) if festival else None
        pool = seed_gate(tickets, scanners, festival=fest)
        pool.pop("pks")
        text = json.dumps(pool)
        if out == "-":
            self.stdout.write(text)
            return
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        self.stdout.write(f"{tickets} codes, {scanners} scanners -> {out}")
