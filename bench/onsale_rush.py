"""On-sale rush benchmark (issues 3 and 8). Not a test: prints one JSON document.

    flock /tmp/festival-bench.lock .venv/bin/python bench/onsale_rush.py \\
        --database festival_bench_b --runs 3 --stripe localstripe,fake --window 5
    (Redis: BENCH_REDIS_URL, default redis://127.0.0.1:6379/9)

The production HTTP setup (gunicorn gthread, `--workers` x `--threads`, festival.wsgi) on
PostgreSQL and Redis. Per run, a fresh ticket type of `--capacity` and `--buyers` signed-in
accounts, each with its own keep-alive connection, each calling `createCheckout` for one
ticket, measured two ways:

* window: the buyers arriving evenly over `--window` seconds (5: 100 a second), open loop
  (latency from each buyer's planned send time): the rush the issue's target (500 buyers /
  200 tickets, p99 <= 500 ms) is judged on (docs/PERFORMANCE.md, section 5);
* burst: every buyer in the same instant, the worst case (its p99 is bounded below by the
  work of all 500 requests on the machine's cores; bench/burst_floor.py measures that floor).

against each Stripe in `--stripe`:

* localstripe: a real localstripe as tests and development run it (domains/payments/localstripe_server.py);
* localstripe-stock: localstripe's own console script (per-write pickling of its store), for comparison;
* fake: bench/fake_stripe.py, an in-process HTTP server answering PaymentIntent creates at
  once: the same gateway code over real HTTP, without the provider's own work (our share).

Why two arrival shapes: with every buyer at once, the last answer cannot come before all the
work is done, so on 2 cores the burst's p99 is bounded below by (total CPU of 500 checkouts
+ load generator) / 2 cores, whatever the per-request latency; the window shows the latency a
buyer sees when arrivals do not exceed the throughput.

Per setup: the median over `--runs` of p50/p95/p99 and throughput, every run's figures, the
outcomes and the oversell count (must be 0: successful reservations beyond the capacity, and
the database's sold + held beyond it), plus the 1-minute load average around each run. Also
SQL statements per checkout (won, and answered SOLD_OUT), in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

from bench import workloads  # noqa: E402
from bench.server import bench_env, prepare_database, run_server  # noqa: E402

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "requests_per_s", "reservations_per_s")


def stripe_backend(name: str):
    from bench.fake_stripe import FakeStripe
    from domains.payments.localstripe_server import LocalStripe, default_executable

    if name == "localstripe":
        return LocalStripe()
    if name == "localstripe-stock":
        return LocalStripe(executable=default_executable())
    if name == "fake":
        return FakeStripe()
    raise SystemExit(f"unknown --stripe {name!r}")


def one_rush(port: int, capacity: int, buyers: int, window: float) -> dict:
    seed = workloads.seed_buyers(capacity, buyers)
    load = os.getloadavg()[0]
    result = asyncio.run(workloads.rush(port, seed["tokens"], seed["type_id"], window_s=window))
    result["db"] = workloads.oversell_check(seed["pk"], result["reservations"])
    result["oversells"] = result["db"].pop("oversell")
    result["load_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    return result


def summarise(runs: list[dict]) -> dict:
    out: dict = {k: statistics.median(r[k] for r in runs) for k in FIGURES}
    out["oversells"] = sum(r["oversells"] for r in runs)
    out["load_1min_median"] = statistics.median(x for r in runs for x in r["load_1min"])
    out["runs"] = runs
    return out


def sql_per_checkout(api_base: str) -> dict:
    """In-process, through the real GraphQL view (warm): a checkout that wins, one that is
    answered SOLD_OUT once the catalogue knows the type is sold out."""
    from django.conf import settings
    from django.test import Client

    settings.STRIPE_API_BASE = api_base
    client = Client()
    return {
        "checkout_won": workloads.count_queries(workloads.inprocess_operation("checkout", client, n=3)),
        "checkout_sold_out": workloads.count_queries(workloads.inprocess_operation("checkout_sold_out", client, n=3)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--buyers", type=int, default=500)
    ap.add_argument("--capacity", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=float, default=5.0, help="open-loop arrival window in seconds; 0: burst only")
    ap.add_argument("--stripe", default="localstripe,fake", help="comma-separated: localstripe, localstripe-stock, fake")
    ap.add_argument("--alone", action="store_true", help="also the same burst of creates straight to each localstripe")
    ap.add_argument("--database", default="festival_sales_bench")
    args = ap.parse_args()
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # the 500-thread burst to localstripe

    env = bench_env(
        args.database,
        STRIPE_SECRET_KEY="sk_test_bench",
        # localstripe ignores Idempotency-Key; emulating it lists every PaymentIntent per create
        # (quadratic), which would measure localstripe, not us. One PaymentIntent per checkout
        # still holds (the id is stored on the locked order before the client secret is returned).
        STRIPE_EMULATE_IDEMPOTENCY="false",
        RATE_LIMIT_CHECKOUT_IP="off", RATE_LIMIT_CHECKOUT_ACCOUNT="off", GRAPHQL_GRAPHIQL="0",
        DRAMATIQ_IN_PROCESS_WORKER="0", DB_POOL_MAX_SIZE=str(max(8, args.threads)),
    )
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_EMULATE_IDEMPOTENCY",
                                           "RATE_LIMIT_CHECKOUT_IP", "RATE_LIMIT_CHECKOUT_ACCOUNT", "LOG_LEVEL")})
    import django

    django.setup()
    report: dict = {
        "benchmark": "onsale_rush",
        "setup": {"http": f"gunicorn gthread {args.workers} workers x {args.threads} threads (festival.wsgi)",
                  "buyers": args.buyers, "capacity": args.capacity, "runs": args.runs, "window_s": args.window,
                  "cpus": os.cpu_count(), "load_generator": "asyncio keep-alive HTTP/1.1, same machine",
                  "load_average_before": [round(x, 2) for x in os.getloadavg()]},
        "results": {},
    }
    for name in args.stripe.split(","):
        with stripe_backend(name) as stripe:
            if "sql_per_operation" not in report:
                report["sql_per_operation"] = sql_per_checkout(stripe.api_base)
            server_env = dict(env, STRIPE_API_BASE=stripe.api_base)
            with run_server(server_env, kind="gunicorn", workers=args.workers, threads=args.threads) as (url, _p):
                port = int(url.rsplit(":", 1)[1])
                bursts, windows, alone = [], [], []
                for _ in range(args.runs):
                    bursts.append(one_rush(port, args.capacity, args.buyers, 0.0))
                    if args.window:
                        windows.append(one_rush(port, args.capacity, args.buyers, args.window))
                    if args.alone and name != "fake":
                        from bench.run_all import localstripe_alone

                        alone.append(localstripe_alone(stripe.api_base, args.buyers, pid=stripe.process.pid))
                        time.sleep(1)
            entry: dict = {"burst": summarise(bursts)}
            if windows:
                entry["window"] = summarise(windows)
            if alone:
                entry["stripe_alone_same_burst"] = {
                    k: statistics.median(a[k] for a in alone) for k in ("per_second", "p50_ms", "p99_ms", "server_cpu_ms_per_create")
                } | {"runs": alone}
            report["results"][name] = entry
    report["oversells"] = sum(e[m]["oversells"] for e in report["results"].values() for m in ("burst", "window") if m in e)
    report["setup"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
