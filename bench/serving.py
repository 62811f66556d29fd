"""Serving setup, decided by measurement (issue 8): uvicorn/ASGI for everything vs gunicorn
gthread workers (festival.wsgi) for HTTP. Not a test: prints one JSON document.

    .venv/bin/python bench/serving.py [--concurrency 32] [--duration 10] [--rounds 3]

For each setup (same number of worker processes): scanCommit (distinct tickets), the public
read query (festival + ticketTypes) and the bare Django admit view, C concurrent keep-alive
clients for D seconds each, `rounds` times interleaved; medians are reported.
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
from bench.server import BARE_APPS, gate_bench_env, prepare_database, run_server  # noqa: E402

SETUPS = {
    "uvicorn": dict(kind="uvicorn"),
    "gunicorn_gthread": dict(kind="gunicorn"),
    "gunicorn_sync": dict(kind="gunicorn-sync"),  # --sync-workers processes, one request each
}


def median_of(runs: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in runs) for k in ("per_second", "p50_ms", "p95_ms", "p99_ms")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs_per_second"] = [r["per_second"] for r in runs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--sync-workers", type=int, default=5, help="processes for gunicorn_sync (no threads)")
    ap.add_argument("--database", default="festival_perf_serving")
    ap.add_argument("--setups", default="uvicorn,gunicorn_gthread")
    args = ap.parse_args()
    env = gate_bench_env(args.database)
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL")})
    import django

    django.setup()
    per_round = 400 * args.duration
    setups = args.setups.split(",")
    data = workloads.seed_gate((2 * per_round + 1500) * args.rounds * len(setups), args.concurrency)
    results: dict[str, dict[str, list]] = {s: {"scan_commit": [], "read": [], "bare_view": []} for s in setups}
    load_avg = []
    offset = 0
    for _ in range(args.rounds):
        for name in setups:
            kind = SETUPS[name]["kind"]
            workers = args.sync_workers if kind == "gunicorn-sync" else args.workers
            with run_server(env, kind=kind, workers=workers, threads=args.threads) as (url, _p):
                port = int(url.rsplit(":", 1)[1])
                asyncio.run(workloads.load(port, 4, 1, workloads.read_request()))  # warm-up
                asyncio.run(workloads.load(port, args.concurrency, 3, workloads.scan_request(data, offset), 1000))  # every scanner
                offset += 1000
                r = asyncio.run(workloads.load(port, args.concurrency, args.duration, workloads.scan_request(data, offset), per_round))
                offset += per_round
                results[name]["scan_commit"].append(r)
                results[name]["read"].append(asyncio.run(workloads.load(port, args.concurrency, args.duration, workloads.read_request())))
            with run_server(env, kind=kind, workers=workers, threads=args.threads, app=BARE_APPS[kind], health="/bare/") as (url, _p):
                port = int(url.rsplit(":", 1)[1])
                asyncio.run(workloads.load(port, args.concurrency, 1, workloads.bare_request(data, offset), 500))
                offset += 500
                r = asyncio.run(workloads.load(port, args.concurrency, args.duration, workloads.bare_request(data, offset), per_round))
                offset += per_round
                results[name]["bare_view"].append(r)
            load_avg.append(os.getloadavg()[0])
    report = {
        "benchmark": "serving", "concurrency": args.concurrency, "duration_s": args.duration, "rounds": args.rounds,
        "workers": args.workers, "gthread_threads": args.threads, "cpus": os.cpu_count(),
        "load_average_1m_after_each_setup": [round(x, 2) for x in load_avg],
        "setups": {name: {w: median_of(runs) for w, runs in by.items()} for name, by in results.items()},
    }
    for by in report["setups"].values():
        by["scan_vs_bare_view"] = round(by["scan_commit"]["per_second"] / by["bare_view"]["per_second"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
