"""gunicorn settings of the gate pool: the scanner app's HTTP (deploy/nginx.conf sends requests
carrying X-Device-Token here), on the same application as the web pool.

    gunicorn -c deploy/gunicorn_gate.py festival.wsgi:application --bind 0.0.0.0:8002

Sync workers, one request per process: the scanners' closed loop gets a first-come-first-served
queue instead of 8 threads per process taking turns at the GIL. A sync process serves one
request at a time, so it keeps one persistent PostgreSQL connection (with its prepared gate
statements) instead of checking one out of a pool and back in for every request. Against the
pool, in 6 alternated pairs on 2 cores: scans/s +13% (medians), p99 lower in every pair
(docs/PERFORMANCE.md, ninth round).
Only defaults are set here: a variable set in the environment wins. The pool of the web tier
stays as it is, because its threads share a process's connections.
"""

from __future__ import annotations

import os

worker_class = "sync"
workers = int(os.environ.get("GATE_WORKERS", "4"))  # about 2 per core: 4 beat 5 on 2 cores
max_requests = 100_000
max_requests_jitter = 10_000

# Read by festival/settings.py in each worker: no pool, one connection per process for its
# lifetime (a connection that failed is closed at the end of its request and opened again by
# the next), and the gate statements prepared as with the pool.
for name, value in {"DB_POOL": "false", "DB_CONN_MAX_AGE": "-1", "DB_PREPARE_THRESHOLD": "5"}.items():
    os.environ.setdefault(name, value)
