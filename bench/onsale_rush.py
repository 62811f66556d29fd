"""On-sale rush benchmark (issue 3). Not a test: prints one JSON line.

    .venv/bin/python bench/onsale_rush.py --buyers 400 --capacity 100 --workers 2

Against uvicorn workers serving festival.asgi on PostgreSQL (its own database,
BENCH_DATABASE_URL or festival_sales_bench) with a real localstripe: N buyers, each with
its own account and keep-alive HTTP connection, released together, each calls
`createCheckout` for one ticket of one type. Reports reservations per second, p50/p99
latency of createCheckout, the outcome counts and the oversell count (must be 0):
successful reservations beyond the capacity, and the database's sold + held beyond it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import PY, bench_env, percentile, prepare_database, uvicorn_server  # noqa: E402

SETUP = """
import json, uuid
from domains.accounts.models import User
from domains.accounts.services.authentication import session_start
from domains.events.models import Festival
from domains.tickets.models import TicketType
festival = Festival.objects.get(slug="sunwave-2027")
tt = TicketType.objects.create(festival=festival, name="Rush " + uuid.uuid4().hex[:8], price_amount=5000,
    currency=festival.currency, capacity={capacity}, per_order_limit=4, tier_rank=5)
tokens = []
for i in range({buyers}):
    u = User.objects.create_user(email=f"rush-{{uuid.uuid4().hex[:12]}}@bench.test", password=None)
    tokens.append(session_start(user=u).access_token)
print(json.dumps({{"type_id": str(tt.public_id), "pk": tt.pk, "tokens": tokens}}))
"""

CHECK = """
import json
from domains.tickets.models import TicketType
from domains.orders.models import Order
tt = TicketType.objects.get(pk={pk})
print(json.dumps({{"sold": tt.sold_count, "held": tt.held_count, "capacity": tt.capacity,
    "orders": Order.objects.filter(lines__ticket_type=tt).count()}}))
"""

MUTATION = """mutation($lines: [CheckoutLineInput!]!) { createCheckout(lines: $lines) {
  clientSecret errors { code } } }"""


def manage_shell(env: dict, code: str) -> dict:
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=400)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="festival_sales_bench")
    args = parser.parse_args()

    import httpx

    from domains.payments.localstripe_server import LocalStripe

    with LocalStripe() as stripe:
        env = bench_env(
            args.database,
            STRIPE_API_BASE=stripe.api_base,
            STRIPE_SECRET_KEY="sk_test_bench",
            DB_POOL_MAX_SIZE="16",
            # localstripe ignores Idempotency-Key; emulating it lists every PaymentIntent per create
            # (quadratic), which would measure localstripe, not us. One PI per checkout still holds
            # (the id is stored on the order before the client secret is returned).
            STRIPE_EMULATE_IDEMPOTENCY="false",
        )
        prepare_database(env)
        setup = manage_shell(env, SETUP.format(capacity=args.capacity, buyers=args.buyers))
        with uvicorn_server(env, workers=args.workers) as (url, _process):
            barrier = threading.Barrier(args.buyers + 1)
            results: list[tuple[float, str]] = [(0.0, "not run")] * args.buyers
            variables = {"lines": [{"ticketTypeId": setup["type_id"], "quantity": 1}]}

            def buyer(i: int) -> None:
                with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {setup['tokens'][i]}"}) as client:
                    client.get("/api/health/")  # open the keep-alive connection first
                    barrier.wait()
                    start = time.perf_counter()
                    try:
                        response = client.post("/graphql/", json={"query": MUTATION, "variables": variables})
                        payload = response.json()["data"]["createCheckout"]
                        outcome = payload["errors"][0]["code"] if payload["errors"] else "OK"
                    except Exception as exc:  # noqa: BLE001 - counted, not raised
                        outcome = type(exc).__name__
                    results[i] = (time.perf_counter() - start, outcome)

            threads = [threading.Thread(target=buyer, args=(i,)) for i in range(args.buyers)]
            for t in threads:
                t.start()
            barrier.wait()
            started = time.perf_counter()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        check = manage_shell(env, CHECK.format(pk=setup["pk"]))

    outcomes: dict[str, int] = {}
    for _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    latencies = [lat * 1000 for lat, _ in results]
    ok = outcomes.get("OK", 0)
    print(
        json.dumps(
            {
                "benchmark": "onsale_rush",
                "buyers": args.buyers,
                "capacity": args.capacity,
                "uvicorn_workers": args.workers,
                "reservations": ok,
                "reservations_per_s": round(ok / elapsed, 1),
                "requests_per_s": round(args.buyers / elapsed, 1),
                "elapsed_s": round(elapsed, 3),
                "create_checkout_p50_ms": round(percentile(latencies, 0.50), 1),
                "create_checkout_p99_ms": round(percentile(latencies, 0.99), 1),
                "outcomes": outcomes,
                "db": check,
                "oversell": max(0, ok - args.capacity) + max(0, check["sold"] + check["held"] - check["capacity"]),
            }
        )
    )


if __name__ == "__main__":
    main()
