"""How many PostgreSQL connections the web tier holds under load (issue 2, item 3).

Runs a 4-worker uvicorn against PostgreSQL twice: with Django's psycopg pool (our setting)
and, as the control, without a pool and with persistent per-thread connections
(CONN_MAX_AGE=None, what used to exhaust PostgreSQL). C concurrent clients send an
authenticated `me` query for D seconds; a sampler counts the database's server connections.

    .venv/bin/python bench/db_connections.py [--clients 32] [--seconds 10]

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.server import bench_env, percentile, prepare_database, uvicorn_server  # noqa: E402

LOGIN = 'mutation { login(email: "attendee@festival.example", password: "attendee-demo-password") { accessToken } }'
ME = "query Me { me { email } festival { name } }"


def count_connections(database: str) -> int:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
         f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'"],
        capture_output=True, text=True,
    ).stdout.strip()
    return int(out or 0)


async def load(url: str, clients: int, seconds: float) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.post(url + "/graphql/", json={"query": LOGIN})).json()["data"]["login"]["accessToken"]
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def one():
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.post(url + "/graphql/", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})
                    if r.status_code != 200 or r.json().get("errors"):
                        errors += 1
                except Exception:
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(one() for _ in range(clients)))
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "errors": errors,
    }


def run(label: str, database: str, clients: int, seconds: float, **env_extra) -> dict:
    env = bench_env(database, **env_extra)
    with uvicorn_server(env, workers=4) as (url, _process):
        peak = {"value": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak["value"] = max(peak["value"], count_connections(database))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = asyncio.run(load(url, clients, seconds))
        stop.set()
        sampler.join()
    return {"setup": label, "peak_server_connections": peak["value"], **result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    database = "festival_bench_conn"
    prepare_database(bench_env(database))
    pooled = run("pool max_size=8 x 4 workers", database, args.clients, args.seconds, DB_POOL="true", DB_POOL_MAX_SIZE="8")
    control = run("no pool, CONN_MAX_AGE=None", database, args.clients, args.seconds, DB_POOL="false", DB_CONN_MAX_AGE="-1")
    print(json.dumps({"benchmark": "db_connections", "clients": args.clients, "seconds": args.seconds,
                      "max_connections": int(subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW max_connections"], capture_output=True, text=True).stdout.strip() or 0),
                      "runs": [pooled, control]}))


if __name__ == "__main__":
    main()
