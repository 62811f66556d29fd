"""Private PostgreSQL and Redis instances for the fault tests, so stopping or restarting them
never touches the shared services the rest of the suite (and other engineers) use."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        wait_for(lambda: redis.Redis(port=self.port, socket_connect_timeout=0.5).ping(), 10, "redis")
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory, as the `postgres` user when we are root."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "pg.log"

    def _run(self, *args, check=True, timeout=60):
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=timeout)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/festival_faults"

    def init(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "festival_faults")
        return self

    def _ctl(self, *args, timeout=60):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        return self._run(_pg_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "30", *args, timeout=timeout)

    def start(self):
        self._ctl("start")

    def restart(self):
        self._ctl("restart", "-m", "fast")

    def stop(self):
        self._ctl("stop", "-m", "immediate")

    def destroy(self):
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()


def django_env(pg: PrivatePostgres, redis_: PrivateRedis, var_dir: Path, **extra) -> dict:
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "SENTRY", "DJANGO_SETTINGS", "PROMETHEUS"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="festival.settings",
        DATABASE_URL=pg.url,
        REDIS_URL=redis_.url,
        FESTIVAL_VAR_DIR=str(var_dir),
        FESTIVAL_TESTING="1",
        DRAMATIQ_NAMESPACE="faults",
        CACHE_KEY_PREFIX="faults",
        CHANNEL_PREFIX="faults",
        DB_POOL_TIMEOUT="3",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args, timeout: float = 120, input: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, input=input
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


def django_script(env: dict, code: str, timeout: float = 120) -> str:
    """Run Python with Django set up in a subprocess against the private services; its stdout."""
    prelude = "import django\ndjango.setup()\n"
    result = subprocess.run([PYTHON, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"script failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Process:
    """A server or worker subprocess in its own process group (killed with everything it forked)."""

    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, sig=signal.SIGTERM):
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 15):
        # SIGTERM to the leader only, as docker and Kubernetes stop a container: dramatiq's main
        # process passes it on to its worker processes, and a worker process that gets a second
        # SIGTERM (ours to the whole group, then its parent's) exits at once, in the middle of
        # a job (an email written but its row not yet marked sent: this test flaked so).
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(10)
        self.log.close()

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")


def start_server(env: dict, log_dir: Path, *, kind: str = "uvicorn") -> tuple[Process, str]:
    """uvicorn (festival.asgi), or `gate`: the gate pool as deployed (gunicorn with
    deploy/gunicorn_gate.py: sync workers, a persistent database connection each)."""
    port = free_port()
    if kind == "gate":
        args = [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn_gate.py"), "festival.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    else:
        args = [PYTHON, "-m", "uvicorn", "festival.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = Process(args, env, log_dir / f"server-{port}.log")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(base + "/api/health/", timeout=2).status_code in (200, 503), 30, "the server")
    return process, base


def start_worker(env: dict, log_dir: Path, name: str) -> Process:
    return Process(
        [PYTHON, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1", "--worker-shutdown-timeout", "2000"],
        env, log_dir / f"worker-{name}.log",
    )
