"""Gate throughput benchmark (issue 5). Not a test: prints one JSON document.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/festival_scan REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/gate_throughput.py --concurrency 32 --duration 10 --workers 2

Measures, against uvicorn workers serving festival.asgi on PostgreSQL:
  * `scanCommit` throughput and latency: C concurrent scanners (one device and staff account each,
    keep-alive connections) committing distinct tickets for D seconds;
  * a race run: K tickets x R simultaneous commits of each; double admissions must be 0;
  * reference 1: pgbench running the equivalent admit transaction (lock, read, upsert, log);
  * reference 2: a bare Django JSON view doing the same SQL (bench/gate_bare_asgi.py) on the
    same uvicorn setup; our throughput is reported as a ratio to each.
The load generator is a small asyncio HTTP/1.1 client in this process, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

from bench.workloads import bare_request, load, race, scan_request  # noqa: E402


def seed(n_tickets: int, scanners: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from bench.workloads import seed_gate

    call_command("migrate", verbosity=0)
    return seed_gate(n_tickets, scanners)


def start_uvicorn(app: str, port: int, workers: int, extra_env: dict) -> subprocess.Popen:
    env = dict(os.environ, **extra_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
        cwd=ROOT, env=env,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pgbench(data, concurrency, duration):
    import dj_database_url

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    script = f"""\\set pk random({min(data['pks'])}, {max(data['pks'])})
BEGIN;
SELECT t.id, t.status, t.secret_version, tt.festival_id FROM tickets_ticket t JOIN tickets_tickettype tt ON tt.id = t.ticket_type_id WHERE t.id = :pk FOR UPDATE OF t;
SELECT admissions, inside FROM scanning_ticketentrystate WHERE ticket_id = :pk;
INSERT INTO scanning_ticketentrystate (ticket_id, first_admitted_at, first_gate_id, day, day_first_admitted_at, day_first_gate_id, inside, admissions, days_admitted, last_scan_at, updated_at) VALUES (:pk, now(), {data['gate_pk']}, current_date, now(), {data['gate_pk']}, true, 1, '[]', now(), now()) ON CONFLICT (ticket_id) DO UPDATE SET admissions = scanning_ticketentrystate.admissions + 1, updated_at = now();
INSERT INTO scanning_scanlog (public_id, festival_id, ticket_id, gate_id, verdict, reason, direction, method, scanned_at, received_at, offline, conflict, undone, note) VALUES (gen_random_uuid(), {data['festival_pk']}, :pk, {data['gate_pk']}, 'ADMITTED', '', 'ENTRY', 'camera', now(), now(), false, false, false, '');
END;
"""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    cmd = ["pgbench", "-n", "-f", f.name, "-c", str(concurrency), "-j", "2", "-T", str(duration),
           "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres", db["NAME"]]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PGPASSWORD=db.get("PASSWORD") or ""))
    tps = None
    for line in out.stdout.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split()[2])
    return {"tps": tps, "clients": concurrency, "seconds": duration, "stderr": out.stderr.strip()[-300:] if tps is None else ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--race-tickets", type=int, default=20)
    ap.add_argument("--race-commits", type=int, default=10)
    ap.add_argument("--tickets", type=int, default=40_000)
    args = ap.parse_args()
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("set DATABASE_URL to a PostgreSQL database")

    data = seed(args.tickets, args.concurrency)
    server_env = {"SCAN_RATE_PER_DEVICE": "1000000", "SCAN_RATE_PER_STAFF": "1000000", "DJANGO_DEBUG": "0",
                  "GRAPHQL_GRAPHIQL": "0", "DRAMATIQ_IN_PROCESS_WORKER": "0"}
    half = args.tickets // 2
    report = {"setup": {"concurrency": args.concurrency, "duration_s": args.duration, "uvicorn_workers": args.workers,
                        "cpus": os.cpu_count(), "redis": bool(os.environ.get("REDIS_URL")), "load_generator": "asyncio keep-alive, same machine"}}

    port = free_port()
    proc = start_uvicorn("festival.asgi:application", port, args.workers, server_env)
    try:
        asyncio.run(load(port, args.concurrency, 2, scan_request(data), 200))  # warm-up (imports, pools, every scanner)
        report["scan_commit"] = asyncio.run(load(port, args.concurrency, args.duration, scan_request(data, 200), half - 200))
        report["race"] = asyncio.run(race(port, data, half, args.race_tickets, args.race_commits))
    finally:
        proc.terminate()
        proc.wait(10)

    port = free_port()
    proc = start_uvicorn("bench.gate_bare_asgi:application", port, args.workers, server_env)
    try:
        offset = half + args.race_tickets
        asyncio.run(load(port, args.concurrency, 2, bare_request(data, offset), 200))
        report["bare_django_view"] = asyncio.run(
            load(port, args.concurrency, args.duration, bare_request(data, offset + 200), args.tickets - offset - 200)
        )
    finally:
        proc.terminate()
        proc.wait(10)

    report["pgbench"] = pgbench(data, args.concurrency, args.duration)
    ours = report["scan_commit"]["per_second"]
    report["ratios"] = {
        "scan_commit_vs_bare_view": round(ours / report["bare_django_view"]["per_second"], 3) if report["bare_django_view"]["per_second"] else None,
        "scan_commit_vs_pgbench": round(ours / report["pgbench"]["tps"], 3) if report["pgbench"]["tps"] else None,
    }
    report["targets"] = {
        "ratio_to_bare_view_at_least_0.6": (report["ratios"]["scan_commit_vs_bare_view"] or 0) >= 0.6,
        "p99_at_most_100ms": (report["scan_commit"]["p99_ms"] or 1e9) <= 100,
        "zero_double_admissions": report["race"]["double_admissions"] == 0,
    }
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    random.seed(1)
    main()
