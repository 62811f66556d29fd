"""Load scenarios (issue 8). Four user classes; pick them by name on the command line.

    # 1. a server with the abuse limits raised (locust comes from one address):
    RATE_LIMIT_REGISTER_IP=off RATE_LIMIT_REGISTER_ACCOUNT=off RATE_LIMIT_CHECKOUT_IP=off \
    RATE_LIMIT_CHECKOUT_ACCOUNT=off RATE_LIMIT_LOGIN_IP=off LOGIN_THROTTLE_FREE_FAILURES=1000000 \
    SCAN_RATE_PER_DEVICE=1000000 SCAN_RATE_PER_STAFF=1000000 make web   # and make ws, or python3 dev.py serve
    # 2. a pool of gate codes and scanner devices for GateScanner and the dashboards:
    .venv/bin/python manage.py bench_seed_gate --tickets 20000 --scanners 32 --out var/gate_pool.json
    # 3. one class at a time, or the gate and its dashboards together:
    .venv/bin/locust -f locustfile.py --headless -u 100 -r 50 -t 30s --host http://127.0.0.1:8000 OnSaleBuyer
    .venv/bin/locust -f locustfile.py --headless -u 32 -r 32 -t 30s --host http://127.0.0.1:8000 GateScanner
    LOCUST_WS_URL=ws://127.0.0.1:8001/graphql/ \
    .venv/bin/locust -f locustfile.py --headless -u 82 -r 82 -t 30s --host http://127.0.0.1:8000 GateScanner DashboardWatcher
    .venv/bin/locust -f locustfile.py --headless -u 20 -r 20 -t 30s --host http://127.0.0.1:8000 DashboardPoller

DashboardWatcher holds the `scanStatsUpdated` subscription over graphql-transport-ws (the
staff dashboard); LOCUST_WS_URL is where WebSocket is served (`make ws`; by default the --host
itself, as with `python3 dev.py serve`). README ("Load tests") has the numbers these produced.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid

from locust import HttpUser, User, between, constant, task
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# The scanner app's own document: the server runs it pre-validated (schema/prevalidated.py).
from schema.scanning.documents import SCAN_COMMIT as SCAN

CATALOGUE = (
    "query Catalogue { festival { id name startsOn endsOn venueName currency } "
    "ticketTypes { id name tierRank price { amount currency } available onSale soldOut perOrderLimit } }"
)
REGISTER = "mutation Register($email: String!, $password: String!) { register(email: $email, password: $password) { ok errors { code } } }"
LOGIN = "mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken errors { code } } }"
CHECKOUT = "mutation Checkout($lines: [CheckoutLineInput!]!) { createCheckout(lines: $lines) { clientSecret errors { code } } }"
SUBSCRIBE_STATS = "subscription Gate($e: ID) { scanStatsUpdated(eventId: $e) { admittedTickets admissions inside sold } }"
STATS = "query Stats { scanStats { admittedTickets admissions inside sold admittedRatio } }"

POOL_FILE = os.environ.get("LOCUST_GATE_POOL", "var/gate_pool.json")
_pool: dict | None = None
_codes = None
_scanners = None


def gate_pool():
    """The codes and scanner credentials written by `manage.py bench_seed_gate` (loaded once)."""
    global _pool, _codes, _scanners
    if _pool is None:
        with open(POOL_FILE) as f:
            _pool = json.load(f)
        _codes = iter(_pool["codes"])  # greenlets share it: each code is committed once
        _scanners = itertools.cycle(_pool["scanners"])
    return _pool


class GraphQLUser(HttpUser):
    abstract = True

    def gql(self, query: str, variables: dict | None = None, *, token: str | None = None, name: str, field: str,
            headers: dict | None = None, ok=lambda data: not data.get("errors")):
        """POST one operation; a payload error other than the expected ones counts as a failure."""
        all_headers = {"Authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        with self.client.post("/graphql/", json={"query": query, "variables": variables or {}}, headers=all_headers,
                              name=name, catch_response=True) as response:
            try:
                payload = response.json()
            except ValueError:
                response.failure(f"HTTP {response.status_code}: {response.error or 'not JSON'}")
                return None
            data = (payload.get("data") or {}).get(field)
            if payload.get("errors") or data is None:
                response.failure(str(payload.get("errors"))[:200])
                return None
            if isinstance(data, dict) and not ok(data):
                response.failure(str(data.get("errors"))[:200])
            return data


class OnSaleBuyer(GraphQLUser):
    """The on-sale rush: browse the catalogue, register, sign in, check out one ticket
    (against localstripe), then come back as a new buyer."""

    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.token = None

    @task(3)
    def browse(self):
        self.gql(CATALOGUE, name="festival+ticketTypes", field="ticketTypes")

    @task(1)
    def buy(self):
        types = self.gql(CATALOGUE, name="festival+ticketTypes", field="ticketTypes") or []
        on_sale = [t for t in types if t["onSale"] and not t["soldOut"]]
        email, password = f"locust-{uuid.uuid4().hex[:16]}@bench.test", "locust-password-123"
        self.gql(REGISTER, {"email": email, "password": password}, name="register", field="register")
        login = self.gql(LOGIN, {"email": email, "password": password}, name="login", field="login") or {}
        token = login.get("accessToken")
        if not token or not on_sale:
            return
        self.gql(CHECKOUT, {"lines": [{"ticketTypeId": on_sale[0]["id"], "quantity": 1}]}, token=token,
                 name="createCheckout", field="createCheckout",
                 ok=lambda d: not d["errors"] or d["errors"][0]["code"] == "SOLD_OUT")


class GateScanner(GraphQLUser):
    """A staff scanner device at the gate committing distinct tickets from the seeded pool."""

    wait_time = constant(0)

    def on_start(self):
        gate_pool()
        self.scanner = next(_scanners)

    @task
    def scan(self):
        code = next(_codes, None)
        if code is None:
            self.environment.runner.quit()
            return
        s = self.scanner
        self.gql(SCAN, {"code": code, "deviceId": s["device_id"], "nonce": uuid.uuid4().hex}, token=s["token"],
                 headers={"X-Device-Token": s["device_token"]}, name="scanCommit", field="scanCommit",
                 ok=lambda d: not d["errors"] and d["result"]["verdict"] == "ADMITTED")


class DashboardWatcher(User):
    """A staff dashboard holding the `scanStatsUpdated` subscription for the pool's festival.
    Reported to locust as WS requests: "connection_init" (connect to acknowledgement), "first
    figures" (subscribe to the current figures, which a late client must get at once) and
    "push" (the time since the previous push: the server coalesces them to a few a second while
    the gate scans, and sends the figures every 10 s when nothing happens)."""

    wait_time = constant(0)

    def on_start(self):
        pool = gate_pool()
        token = pool["scanners"][hash(self) % len(pool["scanners"])]["token"]
        url = os.environ.get("LOCUST_WS_URL") or self.host.replace("http", "ws", 1).rstrip("/") + "/graphql/"
        self.ws = None
        started = time.perf_counter()
        try:
            self.ws = connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10)
            self.ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
            ack = self._next(10)
            self._report("connection_init", started, None if ack["type"] == "connection_ack" else f"answered {ack['type']}")
            started = time.perf_counter()
            self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                     "payload": {"query": SUBSCRIBE_STATS, "variables": {"e": pool["festival_id"]}}}))
            self._push("first figures", started)
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            self._report("connection_init", started, exc)
            self.stop()

    def on_stop(self):
        if self.ws is not None:
            self.ws.close()

    @task
    def push(self):
        self._push("push", time.perf_counter())

    def _push(self, name: str, started: float):
        try:
            message = self._next(30)
        except (TimeoutError, ConnectionClosed) as exc:
            self._report(name, started, exc)
            self.stop()
            return
        ok = message["type"] == "next" and not message["payload"].get("errors")
        self._report(name, started, None if ok else str(message)[:200])

    def _next(self, timeout: float) -> dict:
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] == "ping":
                self.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] != "pong":
                return message

    def _report(self, name: str, started: float, error):
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000, response_length=0,
            exception=Exception(str(error)) if error is not None and not isinstance(error, Exception) else error,
            context={},
        )


class DashboardPoller(GraphQLUser):
    """A dashboard without WebSocket: polls scanStats every 2 s over HTTP."""

    wait_time = constant(2)

    def on_start(self):
        pool = gate_pool()
        self.token = pool["scanners"][hash(self) % len(pool["scanners"])]["token"]

    @task
    def stats(self):
        self.gql(STATS, token=self.token, name="scanStats", field="scanStats", ok=lambda d: True)
