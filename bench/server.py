"""Start and stop a real server for benchmarks: uvicorn workers on PostgreSQL (and Redis).

Used by the bench/*.py scripts; each prints one JSON document.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The bare Django admit view (bench/gate_bare_asgi.py), by server kind: the gate's reference.
BARE_APPS = {
    "uvicorn": "bench.gate_bare_asgi:application", "gunicorn": "bench.gate_bare_asgi:wsgi_application",
    "gunicorn-sync": "bench.gate_bare_asgi:wsgi_application", "gunicorn-gate": "bench.gate_bare_asgi:wsgi_application",
}


def gate_bench_env(database: str, **extra: str) -> dict:
    """`bench_env` for gate throughput: scan rate limits out of the way, no GraphiQL, no
    in-process worker, Redis database BENCH_REDIS_URL (default 10)."""
    return bench_env(database, SCAN_RATE_PER_DEVICE="1000000", SCAN_RATE_PER_STAFF="1000000", GRAPHQL_GRAPHIQL="0",
                     DRAMATIQ_IN_PROCESS_WORKER="0", REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
                     **extra)


def bench_env(database: str, **extra: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "DJANGO_ENVIRONMENT": "development",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # Benchmarks measure throughput, not the abuse limits.
        "LOGIN_THROTTLE_FREE_FAILURES": "1000000",
    }
    env.update(extra)
    return env


def prepare_database(env: dict) -> None:
    """A new database (dropped first if it exists), migrated, with the demo data.

    New every time: rows left by earlier runs change the figures. A database that had taken
    fifteen rushes (41 ticket types in one festival, 6,006 holds still `active` because no
    scheduler ran to release them) gave a 5 s rush's p99 of 850 ms; a new one, 117 ms, minutes
    apart (docs/PERFORMANCE.md, seventh round)."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True, check=True)
    subprocess.run([*psql, f"CREATE DATABASE {name}"], capture_output=True, check=True)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PY, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)


def server_command(kind: str, port: int, *, workers: int = 4, threads: int = 8, app: str | None = None) -> list[str]:
    """uvicorn (ASGI: festival.asgi, HTTP + WebSocket) or gunicorn (gthread workers, WSGI:
    festival.wsgi, HTTP only; production puts uvicorn beside it for WebSocket)."""
    if kind == "uvicorn":
        return [PY, "-m", "uvicorn", app or "festival.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    if kind == "gunicorn":
        return [PY, "-m", "gunicorn", app or "festival.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
                "--log-level", "warning", "--keep-alive", "30", "--backlog", "2048"]
    if kind == "gunicorn-sync":  # one request at a time per process: no threads sharing a GIL
        return [PY, "-m", "gunicorn", app or "festival.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--worker-class", "sync", "--log-level", "warning", "--backlog", "2048"]
    if kind == "gunicorn-gate":  # the production gate pool: sync workers, deploy/gunicorn_gate.py's settings
        return [PY, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn_gate.py"), app or "festival.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning", "--backlog", "2048"]
    raise ValueError(kind)


@contextmanager
def run_server(env: dict, *, kind: str = "uvicorn", workers: int = 4, threads: int = 8, port: int | None = None,
               app: str | None = None, health: str = "/api/health/"):
    """Start a server, wait until `health` answers, yield (url, process); stop it afterwards."""
    port = port or free_port()
    process = subprocess.Popen(
        server_command(kind, port, workers=workers, threads=threads, app=app),
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url + health, timeout=1).read()
                break
            except urllib.error.HTTPError:  # answering (a bare app may 404 the health path)
                break
            except Exception:
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode()[-2000:]) from None
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start in 60 s")
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def uvicorn_server(env: dict, *, workers: int = 4, port: int | None = None):
    return run_server(env, kind="uvicorn", workers=workers, port=port)


def process_tree(pid: int) -> list[int]:
    """A process and its children (a server's master and workers)."""
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except Exception:
        return [pid]
    return [pid] + [int(c) for c in children]


def process_tree_rss_mb(pid: int) -> dict[int, float]:
    """Resident memory of a process and its children, from /proc."""
    out = {}
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[p] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
