"""deploy/nginx.conf, run by a real nginx in front of three stand-in pools: the scanner app's
requests (they carry X-Device-Token) reach the gate pool, WebSocket upgrades the ws pool,
everything else the web pool; the access log keeps neither query strings nor link tokens;
bodies over 2 MB stop at the proxy.

The stand-ins answer with their pool's name and the headers they were sent, so each test
asserts where a request really went. nginx comes from Debian's packages (`.ci/run` installs it
where it is missing)."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")


class _Pool(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"pool": self.server.pool_name, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render(conf: str, ports: dict[str, int], listen: int, access_log: Path) -> str:
    """deploy/nginx.conf with the compose services' addresses replaced by local ports. Each
    replacement must match exactly once: a changed config fails here, not silently."""
    replacements = [
        (r"server web:8000;", f"server 127.0.0.1:{ports['web']};"),
        (r"server gate:8000;", f"server 127.0.0.1:{ports['gate']};"),
        (r"server ws:8001;", f"server 127.0.0.1:{ports['ws']};"),
        (r"listen 80;", f"listen 127.0.0.1:{listen};"),
        (r"access_log /var/log/nginx/access.log festival;", f"access_log {access_log} festival;"),
    ]
    for old, new in replacements:
        assert conf.count(old) == 1, f"deploy/nginx.conf no longer has exactly one {old!r}"
        conf = conf.replace(old, new)
    return conf


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    servers = {}
    for name in ("web", "gate", "ws"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Pool)
        server.pool_name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name] = server
    listen = _free_port()
    access_log = tmp / "access.log"
    site = _render((ROOT / "deploy" / "nginx.conf").read_text(),
                   {k: s.server_address[1] for k, s in servers.items()}, listen, access_log)
    (tmp / "site.conf").write_text(site)
    temp_paths = "\n".join(f"    {d}_temp_path {tmp / d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp / "nginx.conf").write_text(
        f"daemon off;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n{temp_paths}\n    include {tmp / 'site.conf'};\n}}\n")
    process = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", listen), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"nginx did not start: {process.stdout.read().decode()}") from None
            time.sleep(0.05)
    try:
        yield {"port": listen, "access_log": access_log}
    finally:
        process.terminate()
        process.wait(10)
        for server in servers.values():
            server.shutdown()


def _request(proxy, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", proxy["port"], timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if response.getheader("Content-Type") == "application/json" else data)
    finally:
        conn.close()


GRAPHQL = json.dumps({"query": "{ __typename }"}).encode()


def test_public_and_staff_http_goes_to_the_web_pool(proxy):
    status, answer = _request(proxy, "POST", "/graphql/", {"Content-Type": "application/json"}, GRAPHQL)
    assert (status, answer["pool"]) == (200, "web")
    status, answer = _request(proxy, "POST", "/graphql/", {"Authorization": "Bearer staff"}, GRAPHQL)
    assert answer["pool"] == "web"
    assert answer["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_the_scanner_apps_requests_go_to_the_gate_pool_with_their_token(proxy):
    status, answer = _request(proxy, "POST", "/graphql/", {"Authorization": "Bearer staff", "X-Device-Token": "sdt_abc"},
                              GRAPHQL)
    assert (status, answer["pool"]) == (200, "gate")
    assert answer["headers"]["x-device-token"] == "sdt_abc"
    assert answer["headers"]["authorization"] == "Bearer staff"


def test_an_empty_device_token_is_no_scanner(proxy):
    _, answer = _request(proxy, "POST", "/graphql/", {"X-Device-Token": ""}, GRAPHQL)
    assert answer["pool"] == "web"


@pytest.mark.parametrize("upgrade", ["websocket", "WebSocket"])
def test_websocket_upgrades_go_to_the_ws_pool_even_from_a_scanner(proxy, upgrade):
    headers = {"Upgrade": upgrade, "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "X-Device-Token": "sdt_abc"}
    _, answer = _request(proxy, "GET", "/graphql/", headers)
    assert answer["pool"] == "ws"
    assert answer["headers"]["upgrade"] == upgrade


def test_the_access_log_keeps_no_query_string_and_no_link_token(proxy):
    secret = "canary-query-8f3a"
    token = "canary-token-51bd"
    _request(proxy, "GET", f"/graphql/?query=%7B__typename%7D&variables=%7B%22s%22%3A%22{secret}%22%7D")
    _request(proxy, "GET", f"/api/downloads/{token}/")
    _request(proxy, "GET", f"/api/wallet/passes/{token}.pkpass")
    deadline = time.time() + 5
    while proxy["access_log"].read_text().count("\n") < 3 and time.time() < deadline:
        time.sleep(0.05)
    log = proxy["access_log"].read_text()
    assert '"GET /graphql/"' in log
    assert "/api/downloads/[token]/" in log and "/api/wallet/passes/[token].pkpass" in log
    assert secret not in log and token not in log
    assert not re.search(r"\?query=", log)


def test_a_body_over_two_megabytes_stops_at_the_proxy(proxy):
    status, _ = _request(proxy, "POST", "/graphql/", {"Content-Type": "application/json", "X-Device-Token": "sdt_abc"},
                         b"x" * (2 * 1024 * 1024 + 1))
    assert status == 413
