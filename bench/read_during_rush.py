"""The public read path while an on-sale changes availability. Not a test: prints one JSON document.

    flock /tmp/festival-bench.lock .venv/bin/python bench/read_during_rush.py [--rounds 2] [--readers 16]

gunicorn gthread 2 x 8 (festival.wsgi) against bench/fake_stripe.py, on a new database. Each
round measures `--readers` closed-loop readers of the anonymous festival + ticketTypes query
for `--window` s alone, then the same readers for the same time beside `--buyers` buyers
arriving evenly over it (open loop) whose checkouts all win (the capacity never runs out), so
that every one of them changes the catalogue. The read target (1,500 req/s) is measured with
nothing changing; this shows what a visitor gets during an on-sale, and what the catalogue's
bounded staleness (PUBLIC_READ_MAX_STALE_MS) buys: `--env PUBLIC_READ_MAX_STALE_MS=0` for
"every write shows at once" (docs/PERFORMANCE.md, seventh round).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

from bench import workloads  # noqa: E402
from bench.fake_stripe import FakeStripe  # noqa: E402
from bench.server import bench_env, prepare_database, run_server  # noqa: E402

FIGURES = ("per_second", "p50_ms", "p99_ms")


async def _beside(port: int, seed: dict, window: float, readers: int):
    return await asyncio.gather(
        workloads.rush(port, seed["tokens"], seed["type_id"], window_s=window),
        workloads.load(port, readers, window, workloads.read_request()),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--readers", type=int, default=16)
    ap.add_argument("--buyers", type=int, default=500)
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--database", default="festival_read_rush")
    ap.add_argument("--env", default="", help="extra server environment, NAME=VALUE,...")
    args = ap.parse_args()
    extra = dict(item.split("=", 1) for item in args.env.split(",") if item)
    env = bench_env(
        args.database, STRIPE_SECRET_KEY="sk_test_bench", STRIPE_EMULATE_IDEMPOTENCY="false",
        RATE_LIMIT_CHECKOUT_IP="off", RATE_LIMIT_CHECKOUT_ACCOUNT="off", GRAPHQL_GRAPHIQL="0",
        DRAMATIQ_IN_PROCESS_WORKER="0", **extra,
    )
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_EMULATE_IDEMPOTENCY",
                                           "RATE_LIMIT_CHECKOUT_IP", "RATE_LIMIT_CHECKOUT_ACCOUNT", "LOG_LEVEL")})
    import django

    django.setup()
    alone, during, rushes = [], [], []
    load_before = os.getloadavg()[0]
    with FakeStripe() as fake, run_server(dict(env, STRIPE_API_BASE=fake.api_base), kind="gunicorn", workers=2, threads=8) as (url, _p):
        port = int(url.rsplit(":", 1)[1])
        for _ in range(args.rounds):
            alone.append(asyncio.run(workloads.load(port, args.readers, args.window, workloads.read_request())))
            seed = workloads.seed_buyers(args.buyers * 4, args.buyers)  # every checkout wins
            rush, read = asyncio.run(_beside(port, seed, args.window, args.readers))
            during.append(read)
            rushes.append(rush)
    report = {
        "benchmark": "read_during_rush", "readers": args.readers, "buyers": args.buyers, "window_s": args.window,
        "rounds": args.rounds, "server_env": extra, "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "read_alone": {k: statistics.median(r[k] for r in alone) for k in FIGURES} | {"runs": [r["per_second"] for r in alone]},
        "read_during_rush": {k: statistics.median(r[k] for r in during) for k in FIGURES} | {"runs": [r["per_second"] for r in during]},
        "rush": {"p99_ms": statistics.median(r["p99_ms"] for r in rushes), "outcomes": [r["outcomes"] for r in rushes]},
        "read_errors": sum(r["errors"] for r in alone + during),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
