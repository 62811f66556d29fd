"""Item 23 (PostgreSQL half): PostgreSQL restarted while gate scanners commit scans through a
live server. Every answer is a verdict or a clean retryable error (RETRY_LATER in the payload,
or HTTP 503 JSON with RETRY_LATER): never a 500, a traceback or "Internal server error."; the
scanner retries with the same nonce, and no ticket is admitted twice."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest

from schema.scanning.documents import SCAN_COMMIT
from tests.faults.services import django_script, start_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases=[])]

TICKETS = 48
# The gate pool answers the same scans several times faster: enough of them that the load is
# still running when PostgreSQL restarts.
GATE_POOL_TICKETS = 400
# Run once per document against the same private cluster: names carry the run's suffix.
SEED = """
import datetime as dt, json
from domains.accounts.models import User
from domains.accounts.services.authentication import session_start
from domains.events.models import Festival
from domains.scanning.services import gate_create, scanner_device_register
from domains.tickets.models import Ticket, TicketType
from domains.tickets.qr import qr_encode
today = dt.date.today()
fest = Festival.objects.create(slug="pgfest-SUFFIX", name="PG Fest", starts_on=today - dt.timedelta(days=1),
    ends_on=today + dt.timedelta(days=1), timezone="UTC", venue_name="Field", status=Festival.Status.LIVE)
tt = TicketType.objects.create(festival=fest, name="Pass", price_amount=5000, currency="EUR", capacity=1000)
holder = User.objects.create_user(email="holder-SUFFIX@example.test", password="x-long-password-1")
staff = User.objects.create_user(email="gate-SUFFIX@example.test", password="x-long-password-1", role="staff")
gate = gate_create(festival=fest, name="North")
devices = [scanner_device_register(gate_id=gate.public_id, name=f"phone {n}", registered_by=staff) for n in range(4)]
codes = [qr_encode(Ticket.objects.create(ticket_type=tt, holder=holder)) for _ in range(TICKETS)]
print(json.dumps({"codes": codes, "token": session_start(user=staff).access_token,
    "devices": [[str(d.device.public_id), d.token] for d in devices]}))
"""
# The scanner app's document runs pre-validated (schema/prevalidated.py); any other text takes
# the general path: both must turn a database gone away into a clean retryable answer.
DOCUMENTS = {
    "scanner-app-document": SCAN_COMMIT,
    "general-path": """mutation($code: String!, $deviceId: ID!, $nonce: String) { scanCommit(code: $code, deviceId: $deviceId,
  nonce: $nonce) { result { verdict replayed } errors { code retryAfter } } }""",
}


# The gate pool (deploy/gunicorn_gate.py) keeps one connection per process instead of a pool:
# each process must notice its connection died, answer retryably and connect again.
CASES = {
    "scanner-app-document": ("uvicorn", DOCUMENTS["scanner-app-document"]),
    "general-path": ("uvicorn", DOCUMENTS["general-path"]),
    "gate-pool": ("gate", DOCUMENTS["scanner-app-document"]),
}


@pytest.mark.parametrize(("server_kind", "document"), CASES.values(), ids=CASES.keys())
def test_a_postgres_restart_under_gate_load_gives_clean_retryable_errors_and_no_double_admission(stack, server_kind, document):
    pg, redis_, env, var_dir = stack
    suffix = uuid.uuid4().hex[:8]
    tickets = GATE_POOL_TICKETS if server_kind == "gate" else TICKETS
    script = f"TICKETS = {tickets}\n" + SEED.replace("SUFFIX", suffix)
    seed = json.loads(django_script(env, script).strip().splitlines()[-1])
    env = {**env, "SCAN_RATE_PER_DEVICE": "1000000", "SCAN_RATE_PER_STAFF": "1000000", "DB_POOL_TIMEOUT": "2"}
    if server_kind == "gate":  # the pool's own settings, not ones inherited from this process
        env = {k: v for k, v in env.items() if k not in ("DB_POOL", "DB_CONN_MAX_AGE", "DB_PREPARE_THRESHOLD")}
    server, base = start_server(env, var_dir, kind=server_kind)
    answers: list[tuple[int, str]] = []
    retryable = {"n": 0}
    problems: list[str] = []
    lock = threading.Lock()
    # every ticket is scanned by two scanners (two physical scans, so two nonces)
    work = [(code, n) for code in seed["codes"] for n in range(2)]
    chunks = [work[i::8] for i in range(8)]
    barrier = threading.Barrier(len(chunks) + 1)

    def scanner(index: int, items):
        device_id, device_token = seed["devices"][index % len(seed["devices"])]
        headers = {"Authorization": f"Bearer {seed['token']}", "X-Device-Token": device_token}
        with httpx.Client(base_url=base, timeout=15, headers=headers) as http:
            barrier.wait()
            for code, _ in items:
                nonce = uuid.uuid4().hex
                for _attempt in range(60):
                    try:
                        response = http.post("/graphql/", json={"query": document, "variables": {"code": code, "deviceId": device_id, "nonce": nonce}})
                    except httpx.TransportError as exc:  # the server itself stays up: this would be a problem
                        with lock:
                            problems.append(f"transport: {exc!r}")
                        time.sleep(0.2)
                        continue
                    text = response.text
                    with lock:
                        answers.append((response.status_code, text))
                    if "Traceback" in text or "Internal server error" in text or response.status_code >= 500 and response.status_code != 503:
                        with lock:
                            problems.append(f"{response.status_code}: {text[:300]}")
                    body = response.json()
                    if response.status_code == 503:
                        assert body["errors"][0]["extensions"]["code"] == "RETRY_LATER", text
                        assert response.headers.get("retry-after") == "1"
                        with lock:
                            retryable["n"] += 1
                        time.sleep(0.2)
                        continue
                    payload = (body.get("data") or {}).get("scanCommit")
                    if payload and payload["result"]:
                        break
                    codes = [e["code"] for e in (payload or {}).get("errors", [])] or [
                        (e.get("extensions") or {}).get("code") for e in body.get("errors") or []
                    ]
                    if codes and set(codes) <= {"RETRY_LATER"}:
                        with lock:
                            retryable["n"] += 1
                        time.sleep(0.2)
                        continue
                    with lock:
                        problems.append(f"unexpected: {text[:300]}")
                    break

    threads = [threading.Thread(target=scanner, args=(i, chunk)) for i, chunk in enumerate(chunks)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
        time.sleep(0.4)  # load is running
        restarted = time.monotonic()
        pg.restart()
        restart_seconds = time.monotonic() - restarted
        for thread in threads:
            thread.join(120)
    finally:
        server.stop()
    assert not any(t.is_alive() for t in threads)
    assert not problems, problems[:5]
    assert "Traceback" not in "".join(text for _, text in answers)
    this_run = (
        "FROM tickets_ticket t JOIN tickets_tickettype tt ON tt.id = t.ticket_type_id "
        f"JOIN events_festival f ON f.id = tt.festival_id AND f.slug = 'pgfest-{suffix}' "
    )
    admitted = pg.query(
        "SELECT t.public_id, count(*) FILTER (WHERE l.verdict = 'ADMITTED') "
        + this_run
        + "LEFT JOIN scanning_scanlog l ON l.ticket_id = t.id GROUP BY t.public_id"
    )
    assert len(admitted) == tickets
    assert all(n == 1 for _, n in admitted), [row for row in admitted if row[1] != 1]
    states = pg.query("SELECT count(*), sum(s.admissions) " + this_run + "JOIN scanning_ticketentrystate s ON s.ticket_id = t.id")
    assert states == [(tickets, tickets)]
    assert retryable["n"] >= 1, f"the restart ({restart_seconds:.1f}s) was not felt by any scan"
