"""deploy/gunicorn_gate.py, the gate pool's gunicorn settings: sync workers, and a persistent
database connection per process by default, which an operator's environment still overrides.
(tests/faults/test_postgres_restart.py runs a server with it through a PostgreSQL restart.)"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn_gate.py"


def _load(monkeypatch, **environ) -> dict:
    """The config run against a copy of the environment (it sets variables in os.environ,
    which must not leak into the servers other tests start)."""
    copy = {k: v for k, v in os.environ.items() if k not in ("DB_POOL", "DB_CONN_MAX_AGE", "DB_PREPARE_THRESHOLD", "GATE_WORKERS")}
    monkeypatch.setattr(os, "environ", {**copy, **environ})
    return runpy.run_path(str(CONFIG))


def test_sync_workers_with_one_persistent_connection_each(monkeypatch):
    config = _load(monkeypatch)
    assert config["worker_class"] == "sync"
    assert config["workers"] == 4
    assert (os.environ["DB_POOL"], os.environ["DB_CONN_MAX_AGE"], os.environ["DB_PREPARE_THRESHOLD"]) == ("false", "-1", "5")


def test_the_operators_environment_wins(monkeypatch):
    config = _load(monkeypatch, GATE_WORKERS="6", DB_PREPARE_THRESHOLD="off", DB_CONN_MAX_AGE="600")
    assert config["workers"] == 6
    assert os.environ["DB_PREPARE_THRESHOLD"] == "off"
    assert os.environ["DB_CONN_MAX_AGE"] == "600"
    assert os.environ["DB_POOL"] == "false"


def test_settings_read_from_it_give_django_a_persistent_connection_without_a_pool(monkeypatch):
    _load(monkeypatch)
    os.environ["DATABASE_URL"] = "postgres://u@127.0.0.1:5432/festival"
    namespace = runpy.run_path(str(CONFIG.parents[1] / "festival" / "settings.py"), run_name="festival_settings_probe")
    database = namespace["DATABASES"]["default"]
    assert database["CONN_MAX_AGE"] is None
    assert "pool" not in database["OPTIONS"]
    assert database["OPTIONS"]["prepare_threshold"] == 5
