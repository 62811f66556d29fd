"""A minimal fake Stripe HTTP server for benchmarks: answers PaymentIntent creates at once.

    with FakeStripe() as stripe:          # in this process, on a free port
        env["STRIPE_API_BASE"] = stripe.api_base

Real HTTP (keep-alive HTTP/1.1, one thread per connection), so the web processes run the
whole gateway path (stripe SDK, shared requests session, error mapping) exactly as against
Stripe or localstripe; only the provider's own work is taken out. That separates our share of
a createCheckout rush from localstripe's. Understands what a checkout needs:
``POST /v1/payment_intents`` (form-encoded, as the SDK sends it) and
``GET /v1/payment_intents/<id>``; anything else answers a Stripe-shaped 404. Not a test double
for behaviour (tests use localstripe or tests/payments_gateway's fakes).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects
    # Headers and body leave in one segment: with separate small writes, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(404, {"error": {"type": "invalid_request_error", "message": f"No such route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        if self.path.split("?")[0] != "/v1/payment_intents":
            return self._not_found()
        fields = dict(form)
        metadata = {k[len("metadata["):-1]: v for k, v in form if k.startswith("metadata[")}
        pi_id = "pi_fake" + secrets.token_hex(8)
        pi = {
            "id": pi_id, "object": "payment_intent", "amount": int(fields.get("amount", 0)),
            "currency": fields.get("currency", "eur"), "status": "requires_payment_method",
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}", "metadata": metadata,
            "latest_charge": None, "livemode": False, "created": int(time.time()),
        }
        with self.server.lock:
            self.server.objects[pi_id] = pi
            self.server.creates += 1
        self._send(200, pi)

    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["v1", "payment_intents"] and parts[2] in self.server.objects:
            return self._send(200, self.server.objects[parts[2]])
        return self._not_found()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.objects: dict[str, dict] = {}
        self.creates = 0


class FakeStripe:
    """The server in a background thread of this process; a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.server = _Server((host, port))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def api_base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def creates(self) -> int:
        return self.server.creates

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
