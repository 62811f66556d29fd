"""The floor under a burst's p99 on this machine: N requests sent at once (the on-sale burst's
shape, bench/workloads.py `burst`) to endpoints that do far less than a createCheckout, on the
same server shape as the gate and on-sale benchmarks. Not a test: prints one JSON document.

    flock /tmp/festival-bench.lock .venv/bin/python bench/burst_floor.py [--n 500] [--rounds 3]

* bare: bench/gate_bare_asgi.py's admission view (4 statements in one transaction, no GraphQL,
  no authentication), a distinct ticket per request;
* typename: `{ __typename }` through our /graphql/ view (Django, middleware, GraphQL; no
  database, no authentication).

If even these answer a burst of 500 with a p99 above 500 ms, no createCheckout (which
authenticates, reserves, writes an order and calls the payment provider) can meet the issue's
burst target on this machine, whatever the code: the burst's last answer waits for the work of
all the others on 2 cores.
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


def typename_request():
    body = json.dumps({"query": "{ __typename }"}).encode()

    def make(w, i):
        return "/graphql/", body, {}, lambda s, p: "OK" if s == 200 and b"Query" in p else f"HTTP {s}"

    return make


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--database", default="festival_perf_serving")
    args = ap.parse_args()
    env = gate_bench_env(args.database)
    prepare_database(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL")})
    import django

    django.setup()
    data = workloads.seed_gate(args.n * args.rounds, 1)
    report: dict = {"n": args.n, "rounds": args.rounds, "cpus": os.cpu_count(),
                    "server": f"gunicorn gthread {args.workers} workers x {args.threads} threads",
                    "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    nil = json.dumps({"ticket": "00000000-0000-0000-0000-000000000000", "gate": data["gate_pk"]}).encode()
    typename = json.dumps({"query": "{ __typename }"}).encode()
    targets = {
        "bare": (BARE_APPS["gunicorn"], "/bare/", ("/bare/admit/", nil, {}),
                 lambda r: workloads.bare_request(data, r * args.n)),
        "typename": (None, "/api/health/", ("/graphql/", typename, {}), lambda r: typename_request()),
    }
    for name, (app, health, warm, make) in targets.items():
        with run_server(env, kind="gunicorn", workers=args.workers, threads=args.threads, app=app, health=health) as (url, _p):
            port = int(url.rsplit(":", 1)[1])
            runs = [asyncio.run(workloads.burst(port, make(r), args.n, warm)) for r in range(args.rounds)]
        report[name] = {k: statistics.median(r[k] for r in runs) for k in ("elapsed_s", "requests_per_s", "p50_ms", "p99_ms")}
        report[name]["p99_ms_runs"] = [r["p99_ms"] for r in runs]
        answers: dict = {}
        for r in runs:
            for k, v in r["answers"].items():
                answers[k] = answers.get(k, 0) + v
        report[name]["answers"] = answers
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
