"""Where the CPU goes while the gate is under load: for scanCommit and for the bare Django
admit view (bench/gate_bare_asgi.py) in the same serving shape, the CPU per request of the web
processes (user + system, and system alone), PostgreSQL, Redis and this load generator, read
from /proc before and after the run, and the machine's idle share. Not a test: prints one JSON
line per workload.

    flock /tmp/festival-bench.lock .venv/bin/python bench/cpu_accounting.py \
        [--kind gunicorn|gunicorn-sync|gunicorn-gate|uvicorn] [--workers 2] [--threads 8] [--what scan,bare] \
        [--duration 8] [--env NAME=VALUE,...]

Compare two versions of the code by running this alternately from two checkouts
(docs/PERFORMANCE.md, section 2: the third scanCommit round).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

from bench import workloads  # noqa: E402
from bench.server import BARE_APPS, gate_bench_env, prepare_database, process_tree, run_server  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int], fields=(11, 12)) -> float:
    """utime (11) and/or stime (12) of the processes, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            values = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(values[i]) for i in fields)
        except OSError:
            pass
    return total / HZ


def pids_matching(pattern: str) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()]


def machine_idle() -> tuple[float, float]:
    values = list(map(int, Path("/proc/stat").read_text().splitlines()[0].split()[1:]))
    return values[3] / HZ, sum(values) / HZ


def snapshot(web: list[int]) -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    idle, total = machine_idle()
    return {
        "web": cpu_seconds(web), "web_sys": cpu_seconds(web, (12,)), "pg": cpu_seconds(pids_matching("postgres")),
        "redis": cpu_seconds(pids_matching("redis-server")), "loadgen": own.ru_utime + own.ru_stime,
        "idle": idle, "total": total,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="gunicorn", choices=["gunicorn", "gunicorn-sync", "gunicorn-gate", "uvicorn"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--what", default="scan,bare")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--database", default="festival_perf_serving")
    ap.add_argument("--env", default="", help="extra server environment, NAME=VALUE,...")
    args = ap.parse_args()
    extra = dict(item.split("=", 1) for item in args.env.split(",") if item)
    env = gate_bench_env(args.database, **extra)
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL")})
    import django

    django.setup()
    n = 400 * args.duration
    data = workloads.seed_gate(3 * n + 3000, args.concurrency)
    offset = 0
    for what in args.what.split(","):
        if what == "scan":
            app, health, make = None, "/api/health/", lambda o: workloads.scan_request(data, o)
        else:
            app = BARE_APPS[args.kind]
            health, make = "/bare/", lambda o: workloads.bare_request(data, o)
        with run_server(env, kind=args.kind, workers=args.workers, threads=args.threads, app=app, health=health) as (url, proc):
            port = int(url.rsplit(":", 1)[1])
            asyncio.run(workloads.load(port, args.concurrency, 3, make(offset), 1000))  # warm-up: every scanner, every process
            offset += 1000
            web = process_tree(proc.pid)
            before = snapshot(web)
            result = asyncio.run(workloads.load(port, args.concurrency, args.duration, make(offset), n))
            after = snapshot(web)
            offset += n
        requests = max(1, result["requests"])
        per_request = {k: round((after[k] - before[k]) / requests * 1000, 3) for k in ("web", "web_sys", "pg", "redis", "loadgen")}
        print(json.dumps({
            "what": what, "kind": args.kind, "workers": args.workers, "threads": args.threads,
            "per_second": result["per_second"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"], "errors": result["errors"],
            "cpu_ms_per_request": per_request,
            "idle_share": round((after["idle"] - before["idle"]) / max(1e-9, after["total"] - before["total"]), 3),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }), flush=True)


if __name__ == "__main__":
    main()
