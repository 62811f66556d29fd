"""The gate's saturating runs with two load generators: this project's asyncio generator
(bench/workloads.py, what run_all uses) and wrk (the tool of the issue's reference figures,
Debian's package), alternated on the same servers. Not a test: prints one JSON document.

    flock /tmp/festival-bench.lock .venv/bin/python bench/gate_wrk.py [--rounds 2] [--workers 4] [--duration 6]

The scan and the bare Django admit view (bench/gate_bare_asgi.py) each run on the gate pool
(deploy/gunicorn_gate.py: gunicorn sync workers, a persistent database connection each), 32 connections, every request a ticket never
scanned before. Both generators run on the same 2 cores as the servers; wrk spends less CPU per
request, which the servers then have (docs/PERFORMANCE.md, ninth round).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

from bench import workloads  # noqa: E402
from bench.server import BARE_APPS, gate_bench_env, prepare_database, run_server  # noqa: E402

LUA = ROOT / "bench" / "wrk_replay.lua"


def wrk_run(port: int, make, n: int, concurrency: int, duration: int, threads: int = 2) -> dict:
    """wrk replaying `n` requests built by `make(w, i)` (each once)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for i in range(n):
            path, body, headers, _parse = make(i % concurrency, i)
            f.write("\t".join([path, *(f"{k}: {v}" for k, v in headers.items()), body.decode()]) + "\n")
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA),
             f"http://127.0.0.1:{port}", "--", f.name, str(threads)],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    d = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    seconds = d["duration_us"] / 1e6
    return {"requests": d["requests"], "per_second": round(d["requests"] / seconds, 1), "p50_ms": d["p50_us"] / 1000,
            "p95_ms": d["p95_us"] / 1000, "p99_ms": d["p99_us"] / 1000, "errors": d["errors"],
            "verdicts": {"ADMITTED": d["admitted"], "other": d["other"]}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--database", default="festival_perf_wrk")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    env = gate_bench_env(args.database)
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL")})
    import django

    django.setup()
    per_run = 900 * args.duration  # more than a run can use on 2 cores: no ticket is scanned twice
    data = workloads.seed_gate(2000 + 4 * args.rounds * per_run, args.concurrency)
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, list]] = {w: {"asyncio": [], "wrk": []} for w in ("scan", "bare")}
    offset = 0
    with run_server(env, kind="gunicorn-gate", workers=args.workers) as (url, _s), \
            run_server(env, kind="gunicorn-gate", workers=args.workers, app=BARE_APPS["gunicorn-gate"], health="/bare/") as (bare_url, _b):
        ports = {"scan": int(url.rsplit(":", 1)[1]), "bare": int(bare_url.rsplit(":", 1)[1])}
        makers = {"scan": lambda o: workloads.scan_request(data, o), "bare": lambda o: workloads.bare_request(data, o)}
        for what in ("scan", "bare"):  # warm-up: every scanner in every process
            asyncio.run(workloads.load(ports[what], args.concurrency, 3, makers[what](offset), 1000))
            offset += 1000
        for _ in range(args.rounds):
            for what in ("scan", "bare"):
                for tool in ("asyncio", "wrk"):
                    make = makers[what](offset)
                    if tool == "asyncio":
                        r = asyncio.run(workloads.load(ports[what], args.concurrency, args.duration, make, per_run))
                    else:
                        r = wrk_run(ports[what], make, per_run, args.concurrency, args.duration)
                    results[what][tool].append(r)
                    offset += per_run
    report: dict = {"setup": {"gate_http": f"gunicorn -c deploy/gunicorn_gate.py, {args.workers} sync workers", "concurrency": args.concurrency,
                              "duration_s": args.duration, "rounds": args.rounds, "cpus": os.cpu_count(),
                              "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}}
    for tool in ("asyncio", "wrk"):
        scans, bares = results["scan"][tool], results["bare"][tool]
        report[tool] = {
            "scan_commit": {k: round(statistics.median(r[k] for r in scans), 1) for k in ("per_second", "p50_ms", "p95_ms", "p99_ms")},
            "scan_commit_runs": [(r["per_second"], r["p99_ms"]) for r in scans],
            "bare_view": {k: round(statistics.median(r[k] for r in bares), 1) for k in ("per_second", "p99_ms")},
            "ratio_per_round": [round(s["per_second"] / b["per_second"], 3) for s, b in zip(scans, bares, strict=True)],
            "errors": sum(r["errors"] for r in scans + bares),
            "scans_not_admitted": sum(sum(v for k, v in r["verdicts"].items() if k != "ADMITTED") for r in scans),
        }
        report[tool]["ratio"] = round(statistics.median(report[tool]["ratio_per_round"]), 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
