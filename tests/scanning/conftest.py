from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection

from schema.scanning.documents import SCAN_COMMIT
from tests.scanning import factories

BERLIN = ZoneInfo("Europe/Berlin")

# The scanner app's own document: these tests go through the pre-validated path
# (schema/prevalidated.py); tests/scanning/test_prevalidated.py compares it with the general path.
SCAN = SCAN_COMMIT


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Berlin wall-clock time on July `day` 2026 (festival days are the 3rd to the 5th)."""
    return dt.datetime(2026, 7, day, hour, minute, tzinfo=BERLIN)


@dataclass
class Env:
    festival: object
    ticket_type: object
    gate: object
    gate_b: object
    staff: object
    staff_client: object
    device: object
    device_token: str
    device_b: object
    device_b_token: str
    holder: object
    extra: dict = field(default_factory=dict)

    def ticket(self, tt=None, **kw):
        return factories.ticket(tt or self.ticket_type, self.holder, **kw)

    def scan(self, code, *, device=None, token=None, nonce=None, direction="ENTRY", client=None):
        device = device or self.device
        token = token if token is not None else (self.device_token if device == self.device else self.device_b_token)
        response = (client or self.staff_client).execute(
            SCAN,
            {"code": code, "deviceId": str(device.public_id), "nonce": nonce, "direction": direction},
            headers={"X-Device-Token": token},
        )
        return response.payload("scanCommit")


@pytest.fixture
def set_now(monkeypatch):
    """Move the scanning clock: set_now(local(3, 10))."""

    def move(when: dt.datetime):
        import domains.scanning.services.batch as batch
        import domains.scanning.services.commit as commit
        import domains.scanning.services.supervisor as supervisor

        monkeypatch.setattr(batch, "now", lambda: when)
        monkeypatch.setattr(commit, "now", lambda: when)
        monkeypatch.setattr(supervisor, "now", lambda: when)

    return move


@pytest.fixture
def env(as_user, make_user, set_now) -> Env:
    set_now(local(3, 12))
    fest = factories.festival()
    gate_a = factories.gate(fest, "North")
    gate_b = factories.gate(fest, "South")
    staff_client = as_user("staff")
    staff = staff_client.user
    dev_a, tok_a = factories.device(gate_a, staff)
    dev_b, tok_b = factories.device(gate_b, staff)
    holder = make_user("attendee", full_name="Ada Lovelace")
    tt = factories.ticket_type(fest, name="Weekend")
    return Env(fest, tt, gate_a, gate_b, staff, staff_client, dev_a, tok_a, dev_b, tok_b, holder)


def unused_id() -> uuid.UUID:
    return uuid.uuid4()


# --- WebSocket tests (test_subscription, test_websocket_robustness, test_websocket_revocation) ---


@pytest.fixture
def server(transactional_db):
    import uvicorn
    from channels.layers import channel_layers

    from festival.asgi import application

    # Each server runs its own event loop, and a Redis channel layer receives on one loop only
    # (as in production: one loop per process); a listener of the previous test's loop may
    # still be blocked in Redis for up to the socket timeout. A fresh layer for each server.
    channel_layers.backends.clear()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws="websockets-sansio")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started
    yield f"127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def setup(make_user, token_for):
    fest = factories.festival()
    gate = factories.gate(fest, "Main")
    staff = make_user("staff")
    device, device_token = factories.device(gate, staff)
    tt = factories.ticket_type(fest)
    holder = make_user("attendee")
    return {
        "festival": fest, "staff_token": token_for(staff), "device": device, "device_token": device_token,
        "tickets": [factories.ticket(tt, holder) for _ in range(12)], "attendee_token": token_for(holder),
    }


# --- another connection's transaction, held open across a scan (test_checked_scan) ---


def other_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None, dbname=s["NAME"])


@pytest.fixture
def held_open():
    """held_open(sql, params): run on another connection, in a transaction committed 0.5 s
    later (the scan's statement waits for it on the ticket's row lock meanwhile)."""
    threads = []

    def run(*statements):
        other = other_connection()
        for sql, params in statements:
            other.execute(sql, params)

        def commit_later():
            time.sleep(0.5)
            other.commit()
            other.close()

        threads.append(threading.Thread(target=commit_later))
        threads[-1].start()

    yield run
    for t in threads:
        t.join()
