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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")

SCAN = (
    "mutation Scan($code: String!, $deviceId: ID!, $nonce: String) { scanCommit(code: $code, deviceId: $deviceId, nonce: $nonce) "
    "{ result { verdict holderName ticketTypeName firstUsedAt } errors { code } } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(n_tickets: int, scanners: int):
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from domains.accounts.models import User
    from domains.accounts.services.authentication import session_start
    from domains.events.models import Festival
    from domains.scanning.services import gate_create, scanner_device_register
    from domains.tickets.models import Ticket, TicketType
    from domains.tickets.qr import qr_encode

    tag = uuid.uuid4().hex[:8]
    fest = Festival.objects.create(
        slug=f"bench-{tag}", name="Bench", starts_on="2026-01-01", ends_on="2030-12-31", venue_name="x", timezone="Europe/Berlin"
    )
    gate = gate_create(festival=fest, name="Main")
    tt = TicketType.objects.create(festival=fest, name="Weekend", price_amount=1, capacity=10_000_000)
    holder = User.objects.create_user(email=f"holder-{tag}@bench.test", password=None, full_name="Bench Holder")
    scanner_creds = []
    for i in range(scanners):
        staff = User.objects.create_user(email=f"staff{i}-{tag}@bench.test", password=None, role="staff", full_name=f"S{i}")
        reg = scanner_device_register(gate_id=gate.public_id, name=f"d{i}", registered_by=staff)
        scanner_creds.append((session_start(user=staff).access_token, str(reg.device.public_id), reg.token))
    tickets = Ticket.objects.bulk_create([Ticket(ticket_type=tt, holder=holder) for _ in range(n_tickets)], batch_size=2000)
    codes = [qr_encode(t) for t in tickets]
    ids = [str(t.public_id) for t in tickets]
    pks = [t.pk for t in tickets]
    from django.db import connection

    connection.close()
    return {"festival": fest, "gate_pk": gate.pk, "codes": codes, "ids": ids, "pks": pks, "scanners": scanner_creds}


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


class Conn:
    """A minimal keep-alive HTTP/1.1 client (cheaper than a full client library per request)."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer:
            self.writer.close()


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000, 2)


async def load(port, concurrency, duration, make_request, n_items):
    """C workers, each taking the next distinct item, for `duration` seconds."""
    counter = iter(range(n_items))
    latencies, errors, verdicts = [], 0, {}
    stop_at = time.perf_counter() + duration

    async def worker(w):
        nonlocal errors
        conn = Conn(port)
        try:
            while time.perf_counter() < stop_at:
                try:
                    i = next(counter)
                except StopIteration:
                    return
                path, body, headers, parse = make_request(w, i)
                t0 = time.perf_counter()
                status, payload = await conn.post(path, body, headers)
                latencies.append(time.perf_counter() - t0)
                verdict = parse(status, payload)
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
        except Exception:
            errors += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies), "per_second": round(len(latencies) / elapsed, 1), "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99), "errors": errors, "verdicts": verdicts,
    }


def gql_request(data):
    def make(w, i):
        token, device_id, device_token = data["scanners"][w % len(data["scanners"])]
        body = json.dumps({"query": SCAN, "variables": {"code": data["codes"][i], "deviceId": device_id, "nonce": uuid.uuid4().hex}}).encode()
        return "/graphql/", body, {"Authorization": f"Bearer {token}", "X-Device-Token": device_token}, parse

    def parse(status, payload):
        if status != 200:
            return f"HTTP {status}"
        out = json.loads(payload)
        scan = (out.get("data") or {}).get("scanCommit")
        if not scan:
            return "ERROR"
        return scan["result"]["verdict"] if scan["result"] else scan["errors"][0]["code"]

    return make


def bare_request(data, offset):
    def make(w, i):
        body = json.dumps({"ticket": data["ids"][offset + i], "gate": data["gate_pk"]}).encode()
        return "/bare/admit/", body, {}, lambda s, p: json.loads(p)["verdict"] if s == 200 else f"HTTP {s}"

    return make


async def race(port, data, offset, k, r):
    """K tickets, each committed R times at once (different scanners)."""
    make = gql_request(data)
    results = []
    conns = [Conn(port) for _ in range(r)]
    for t in range(k):
        i = offset + t

        async def one(j):
            path, body, headers, parse = make(j, i)
            status, payload = await conns[j].post(path, body, headers)
            return parse(status, payload)

        results.append(await asyncio.gather(*(one(j) for j in range(r))))
    for c in conns:
        c.close()
    admitted = [row.count("ADMITTED") for row in results]
    return {"tickets": k, "commits_per_ticket": r, "double_admissions": sum(1 for a in admitted if a > 1),
            "tickets_admitted_once": sum(1 for a in admitted if a == 1),
            "other_answers": sorted({v for row in results for v in row} - {"ADMITTED", "ALREADY_USED"})}


def pgbench(data, concurrency, duration):
    import dj_database_url

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    script = f"""\\set pk random({min(data['pks'])}, {max(data['pks'])})
BEGIN;
SELECT t.id, t.status, t.secret_version, tt.festival_id FROM tickets_ticket t JOIN tickets_tickettype tt ON tt.id = t.ticket_type_id WHERE t.id = :pk FOR UPDATE OF t;
SELECT admissions, inside FROM scanning_ticketentrystate WHERE ticket_id = :pk;
INSERT INTO scanning_ticketentrystate (ticket_id, first_admitted_at, first_gate_id, day, day_first_admitted_at, day_first_gate_id, inside, admissions, days_admitted, last_scan_at, updated_at) VALUES (:pk, now(), {data['gate_pk']}, current_date, now(), {data['gate_pk']}, true, 1, '[]', now(), now()) ON CONFLICT (ticket_id) DO UPDATE SET admissions = scanning_ticketentrystate.admissions + 1, updated_at = now();
INSERT INTO scanning_scanlog (public_id, festival_id, ticket_id, gate_id, verdict, reason, direction, method, scanned_at, received_at, offline, conflict, undone, note) VALUES (gen_random_uuid(), {data['festival'].pk}, :pk, {data['gate_pk']}, 'ADMITTED', '', 'ENTRY', 'camera', now(), now(), false, false, false, '');
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
        asyncio.run(load(port, 4, 2, gql_request(data), 200))  # warm-up (imports, pools)
        report["scan_commit"] = asyncio.run(load(port, args.concurrency, args.duration, lambda w, i: gql_request(data)(w, 200 + i), half - 200))
        report["race"] = asyncio.run(race(port, data, half, args.race_tickets, args.race_commits))
    finally:
        proc.terminate()
        proc.wait(10)

    port = free_port()
    proc = start_uvicorn("bench.gate_bare_asgi:application", port, args.workers, server_env)
    try:
        offset = half + args.race_tickets
        asyncio.run(load(port, 4, 2, bare_request(data, offset), 200))
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
