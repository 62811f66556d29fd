"""Shared bench pieces: seeding, the cheap asyncio HTTP/1.1 load generator, the GraphQL
documents of the three workloads, and in-process single operations (for SQL counts and
profiles). Imported by bench/gate_throughput.py, bench/serving.py, bench/run_all.py,
bench/profile_ops.py and the `bench_seed_gate` management command.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from schema.scanning.documents import SCAN_COMMIT

# The scanner app's own document (pre-validated on the server, schema/prevalidated.py).
SCAN = SCAN_COMMIT
READ = (
    "query Catalogue { festival { id name startsOn endsOn venueName timezone currency } "
    "ticketTypes { id name tierRank price { amount currency } available onSale soldOut } }"
)
CHECKOUT = "mutation Checkout($lines: [CheckoutLineInput!]!) { createCheckout(lines: $lines) { clientSecret errors { code } } }"


# --------------------------------------------------------------------------- seeding (Django set up)


def seed_gate(n_tickets: int, scanners: int, *, festival=None) -> dict:
    """A festival (or the given one) with a gate, `scanners` staff accounts each with a device,
    and `n_tickets` issued tickets. Returns the codes, ids and credentials (JSON-friendly)."""
    from django.db import connection

    from domains.accounts.models import User
    from domains.accounts.services.authentication import session_start
    from domains.events.models import Festival
    from domains.scanning.services import gate_create, scanner_device_register
    from domains.tickets.models import Ticket, TicketType
    from domains.tickets.qr import qr_encode

    tag = uuid.uuid4().hex[:8]
    fest = festival or Festival.objects.create(
        slug=f"bench-{tag}", name="Bench", starts_on="2026-01-01", ends_on="2030-12-31", venue_name="x", timezone="Europe/Berlin"
    )
    gate = gate_create(festival=fest, name=f"Bench gate {tag}")
    tt = TicketType.objects.create(festival=fest, name=f"Gate bench {tag}", price_amount=1, capacity=10_000_000, is_active=False)
    holder = User.objects.create_user(email=f"holder-{tag}@bench.test", password=None, full_name="Bench Holder")
    creds = []
    for i in range(scanners):
        staff = User.objects.create_user(email=f"staff{i}-{tag}@bench.test", password=None, role="staff", full_name=f"S{i}")
        reg = scanner_device_register(gate_id=gate.public_id, name=f"d{i}", registered_by=staff)
        creds.append({"token": session_start(user=staff).access_token, "device_id": str(reg.device.public_id),
                      "device_token": reg.token})
    tickets = Ticket.objects.bulk_create([Ticket(ticket_type=tt, holder=holder) for _ in range(n_tickets)], batch_size=2000)
    out = {
        "festival_pk": fest.pk, "festival_id": str(fest.public_id), "festival_slug": fest.slug, "gate_pk": gate.pk, "gate_id": str(gate.public_id),
        "codes": [qr_encode(t) for t in tickets], "ids": [str(t.public_id) for t in tickets], "pks": [t.pk for t in tickets],
        "scanners": creds,
    }
    connection.close()
    return out


def seed_buyers(capacity: int, buyers: int, *, festival_slug: str = "sunwave-2027", price: int = 5000) -> dict:
    """A fresh ticket type of `capacity` in the demo festival and `buyers` signed-in accounts."""
    from django.db import connection

    from domains.accounts.models import User
    from domains.accounts.services.authentication import session_start
    from domains.events.models import Festival
    from domains.tickets.models import TicketType

    festival = Festival.objects.get(slug=festival_slug)
    tt = TicketType.objects.create(festival=festival, name="Rush " + uuid.uuid4().hex[:8], price_amount=price,
                                   currency=festival.currency, capacity=capacity, per_order_limit=4, tier_rank=5)
    tokens = []
    for _ in range(buyers):
        u = User.objects.create_user(email=f"rush-{uuid.uuid4().hex[:12]}@bench.test", password=None)
        tokens.append(session_start(user=u).access_token)
    connection.close()
    return {"type_id": str(tt.public_id), "pk": tt.pk, "tokens": tokens}


def oversell_check(type_pk: int, reservations: int) -> dict:
    from django.db import connection

    from domains.orders.models import Order
    from domains.tickets.models import TicketType

    tt = TicketType.objects.get(pk=type_pk)
    out = {"sold": tt.sold_count, "held": tt.held_count, "capacity": tt.capacity,
           "orders": Order.objects.filter(lines__ticket_type=tt).count()}
    out["oversell"] = max(0, reservations - tt.capacity) + max(0, tt.sold_count + tt.held_count - tt.capacity)
    connection.close()
    return out


# --------------------------------------------------------------------------- load generator


class Conn:
    """A minimal keep-alive HTTP/1.1 client (much cheaper per request than a client library,
    so the generator leaves the CPU to the server). Reconnects when the server closes."""

    def __init__(self, port: int):
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
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, payload

    def close(self):
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000, 2)


async def load(port, concurrency, duration, make_request, n_items=None):
    """C closed-loop clients, each taking the next item (distinct tickets), for `duration` s."""
    counter = iter(range(n_items if n_items is not None else 10**12))
    latencies, verdicts = [], {}
    errors = 0
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
                try:
                    status, payload = await conn.post(path, body, headers)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - t0)
                verdict = parse(status, payload)
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies), "per_second": round(len(latencies) / elapsed, 1), "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99), "errors": errors, "verdicts": verdicts,
    }


def _gql_verdict(field, status, payload, ok="OK"):
    if status != 200:
        return f"HTTP {status}"
    out = json.loads(payload)
    data = (out.get("data") or {}).get(field)
    if not data:
        return "ERROR"
    if data.get("errors"):
        return data["errors"][0]["code"]
    if field == "scanCommit":
        return data["result"]["verdict"]
    return ok


def scan_request(data, offset=0, *, persisted=False):
    """scanCommit of ticket offset+i by scanner w (each scanner its own staff token and device)."""
    from schema.persisted import document_hash

    scan_hash = document_hash(SCAN)

    def make(w, i):
        cred = data["scanners"][w % len(data["scanners"])]
        variables = {"code": data["codes"][offset + i], "deviceId": cred["device_id"], "nonce": uuid.uuid4().hex}
        if persisted:
            doc = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": scan_hash}}, "variables": variables}
        else:
            doc = {"query": SCAN, "variables": variables}
        return "/graphql/", json.dumps(doc).encode(), {"Authorization": f"Bearer {cred['token']}", "X-Device-Token": cred["device_token"]}, parse

    def parse(status, payload):
        return _gql_verdict("scanCommit", status, payload)

    return make


def read_request():
    body = json.dumps({"query": READ}).encode()

    def parse(status, payload):
        if status != 200:
            return f"HTTP {status}"
        out = json.loads(payload)
        return "OK" if out.get("data", {}).get("festival") and not out.get("errors") else "ERROR"

    return lambda w, i: ("/graphql/", body, {}, parse)


def bare_request(data, offset):
    def make(w, i):
        body = json.dumps({"ticket": data["ids"][offset + i], "gate": data["gate_pk"]}).encode()
        return "/bare/admit/", body, {}, lambda s, p: json.loads(p)["verdict"] if s == 200 else f"HTTP {s}"

    return make


async def race(port, data, offset, k, r):
    """K tickets, each committed R times at once (different scanners); double admissions must be 0."""
    make = scan_request(data)
    results = []
    conns = [Conn(port) for _ in range(r)]
    for t in range(k):
        i = offset + t

        async def one(j, i=i):
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


async def paced(port, make_request, devices, per_device_rate, duration):
    """Gate scanners at a human pace: `devices` scanners, each scanning `per_device_rate` times
    a second for `duration` s (staggered), each on its own keep-alive connection and never
    with two scans in flight (a scanner waits for its answer). Open loop: a scan's latency
    counts from its planned time, so a late answer also delays (and counts against) the next."""
    latencies, verdicts, errors = [], {}, 0
    per_device = int(duration * per_device_rate)
    started = time.perf_counter()

    async def device(w):
        nonlocal errors
        conn = Conn(port)
        try:
            for j in range(per_device):
                planned = started + (w / devices + j) / per_device_rate
                await asyncio.sleep(max(0.0, planned - time.perf_counter()))
                path, body, headers, parse = make_request(w, w * per_device + j)
                try:
                    status, payload = await conn.post(path, body, headers)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - planned)
                verdict = parse(status, payload)
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
        finally:
            conn.close()

    await asyncio.gather(*(device(w) for w in range(devices)))
    elapsed = time.perf_counter() - started
    return {
        "devices": devices, "scans_per_device_per_s": per_device_rate, "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1), "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95),
        "p99_ms": pct(latencies, 99), "errors": errors, "verdicts": verdicts,
    }


async def _one_connection_each(port, make_request, n, warm, window_s=0.0):
    """N requests, one keep-alive connection each (opened and warmed with `warm`, a (path, body,
    headers) request, before the clock starts). window_s=0: all at once; window_s>0: open loop,
    request i is sent at i * window_s / n whatever the server is doing, and its latency counts
    from that planned time (a late generator cannot hide server queueing).
    Returns ([(latency s, outcome), ...], elapsed s, outcome counts)."""
    conns = [Conn(port) for _ in range(n)]
    await asyncio.gather(*(c.post(*warm) for c in conns))
    results = []

    async def one(i):
        path, body, headers, parse = make_request(0, i)
        if window_s:
            t0 = started + i * window_s / n
            await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
        else:
            t0 = time.perf_counter()
        try:
            status, payload = await conns[i].post(path, body, headers)
            outcome = parse(status, payload)
        except Exception as exc:  # noqa: BLE001 - counted
            outcome = type(exc).__name__
        results.append((time.perf_counter() - t0, outcome))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    outcomes: dict[str, int] = {}
    for _, o in results:
        outcomes[o] = outcomes.get(o, 0) + 1
    return results, elapsed, outcomes


async def burst(port, make_request, n, warm):
    """N requests sent at once (`_one_connection_each`): the shape of the on-sale burst, for any
    endpoint. Its p99 is bounded below by the work of all N requests over the machine's cores."""
    results, elapsed, outcomes = await _one_connection_each(port, make_request, n, warm)
    lat = [r[0] for r in results]
    return {"requests": n, "arrival": "all at once", "elapsed_s": round(elapsed, 3), "requests_per_s": round(n / elapsed, 1),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99), "answers": outcomes}


async def rush(port, tokens, type_id, window_s: float = 0.0):
    """One createCheckout per buyer (`_one_connection_each`): window_s=0 all buyers at once
    (the burst), window_s>0 arriving evenly over that many seconds, open loop."""
    n = len(tokens)
    body = json.dumps({"query": CHECKOUT, "variables": {"lines": [{"ticketTypeId": type_id, "quantity": 1}]}}).encode()
    warm = ("/graphql/", json.dumps({"query": "{ __typename }"}).encode(), {})

    def make(w, i):
        return "/graphql/", body, {"Authorization": f"Bearer {tokens[i]}"}, lambda s, p: _gql_verdict("createCheckout", s, p)

    results, elapsed, outcomes = await _one_connection_each(port, make, n, warm, window_s)
    lat = [r[0] for r in results]
    by = {o: [r[0] for r in results if r[1] == o] for o in ("OK", "SOLD_OUT")}
    return {"buyers": n, "arrival": f"evenly over {window_s:g} s (open loop)" if window_s else "all at once",
            "elapsed_s": round(elapsed, 3), "requests_per_s": round(n / elapsed, 1),
            "reservations": outcomes.get("OK", 0), "reservations_per_s": round(outcomes.get("OK", 0) / elapsed, 1),
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99), "outcomes": outcomes,
            "ok_p50_p99_ms": [pct(by["OK"], 50), pct(by["OK"], 99)],
            "sold_out_p50_p99_ms": [pct(by["SOLD_OUT"], 50), pct(by["SOLD_OUT"], 99)],
            "errors": sum(v for k, v in outcomes.items() if k not in ("OK", "SOLD_OUT"))}


# --------------------------------------------------------------------------- in-process operations


def inprocess_operation(op: str, client, n: int = 10):
    """A callable doing one `op` ("scan", "read", "checkout") through the real GraphQL view
    with Django's test client (for SQL counts and profiles). Seeds what it needs."""
    if op == "read":
        body = json.dumps({"query": READ})
        return lambda: client.post("/graphql/", body, content_type="application/json")
    if op == "scan":
        data = seed_gate(n, 1)
        cred = data["scanners"][0]
        codes = iter(data["codes"])
        headers = {"HTTP_AUTHORIZATION": f"Bearer {cred['token']}", "HTTP_X_DEVICE_TOKEN": cred["device_token"]}

        def scan():
            body = json.dumps({"query": SCAN, "variables": {"code": next(codes), "deviceId": cred["device_id"], "nonce": uuid.uuid4().hex}})
            r = client.post("/graphql/", body, content_type="application/json", **headers)
            assert b"ADMITTED" in r.content, r.content[:300]
            return r

        return scan
    if op == "checkout":
        data = seed_buyers(n, n)
        tokens = iter(data["tokens"])
        body = json.dumps({"query": CHECKOUT, "variables": {"lines": [{"ticketTypeId": data["type_id"], "quantity": 1}]}})

        def checkout():
            r = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {next(tokens)}")
            assert b"clientSecret" in r.content and b'"errors": []' in r.content.replace(b'"errors":[]', b'"errors": []'), r.content[:300]
            return r

        return checkout
    if op == "checkout_sold_out":
        data = seed_buyers(0, n)
        tokens = iter(data["tokens"])
        body = json.dumps({"query": CHECKOUT, "variables": {"lines": [{"ticketTypeId": data["type_id"], "quantity": 1}]}})

        def sold_out():
            r = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {next(tokens)}")
            assert b"SOLD_OUT" in r.content, r.content[:300]
            return r

        return sold_out
    raise ValueError(op)


def count_queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()  # warm (first-use lookups)
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)
