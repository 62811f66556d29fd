"""Every HTTP surface other than GraphQL's documents (the Stripe webhook, signed downloads, the
.pkpass link, Apple's PassKit web service, health, metrics, the admin, unknown paths) and the
/graphql/ transport itself, attacked with bad methods, bodies, content types, query strings,
path parameters and headers. Each answer: never a 5xx, the status the view documents, no
traceback/SQL/path/settings in the body, the security headers every response carries, and no
row written. Through Django's test client (the WSGI handler and every middleware), and with raw
sockets against a real gunicorn (festival.wsgi, as deployed) for what a client cannot express
through it: lying Content-Length, chunked bodies, Host oddities. (Schemathesis on the REST
shim: test_fuzz.py; GraphQL documents and variables: test_schema_fuzz.py, test_variable_fuzz.py.)"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.test import Client

from tests.accounts.test_adversarial_doors import two_apple_passes  # noqa: F401 - a fixture

LEAKS = re.compile(
    r"Traceback|File \"/|psycopg|sqlite3|IntegrityError|OperationalError|ProgrammingError|DataError|"
    r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b \S+ \bSET\b|django\.|/work/|/tmp/|\.py\b|SECRET_KEY",
    re.IGNORECASE,
)
BINARY = ("application/pdf", "application/vnd.apple.pkpass")

GRAPHQL = "/graphql/"
HEALTH = "/api/health/"
METRICS = "/api/metrics/"
STRIPE = "/api/payments/webhook/stripe/"
DOWNLOAD = "/api/downloads/{}/"
PKPASS = "/api/wallet/passes/{}.pkpass"
REGISTRATION = "/api/wallet/passkit/v1/devices/{}/registrations/{}/{}"
SERIALS = "/api/wallet/passkit/v1/devices/{}/registrations/{}"
LATEST = "/api/wallet/passkit/v1/passes/{}/{}"
LOG = "/api/wallet/passkit/v1/log"

METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "FROBNICATE"]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE", "FROBNICATE"}  # CSRF applies to all but GET/HEAD/OPTIONS/TRACE


def _expected_for_method(route: str, method: str) -> set[int]:
    """The documented answer to an empty request with this method."""
    # Not csrf_exempt; an unknown path has no view, and so no CSRF check: 404 for every method.
    csrf_protected = route in ("health", "metrics", "download", "pkpass", "serials", "latest", "admin")
    if csrf_protected and method in UNSAFE:
        return {403}  # CsrfViewMiddleware refuses before any view runs (no cookie, no token)
    allowed = {
        # GET: no query; POST: no body, so no Content-Type (415); HEAD, OPTIONS: strawberry's 405
        "graphql": {"GET": {400}, "POST": {415}},
        "graphql-noslash": {"GET": {400}, "POST": {415}},
        "health": {m: {200} for m in METHODS},  # a load balancer's probe: any method, read-only
        "metrics": {"GET": {200}, "HEAD": {405}},
        "stripe": {"POST": {400}},  # no signature
        "download": {"GET": {403}},
        "pkpass": {"GET": {404}},
        "registration": {"POST": {401}, "DELETE": {401}},
        "serials": {"GET": {204}},  # another pass type: nothing to report
        "latest": {"GET": {401}},
        "log": {"POST": {200}},  # an empty body is an empty report
        "admin": {"GET": {200}, "HEAD": {200}, "OPTIONS": {200}},
        "unknown": {m: {404} for m in METHODS},
    }[route]
    return allowed.get(method, {405})


ROUTES = {
    "graphql": GRAPHQL,
    "graphql-noslash": "/graphql",
    "health": HEALTH,
    "metrics": METRICS,
    "stripe": STRIPE,
    "download": DOWNLOAD.format("invoice.x.1.y"),
    "pkpass": PKPASS.format("pkpass.x.1.y"),
    "registration": REGISTRATION.format("abcdef0123", "pass.example.other", "serial"),
    "serials": SERIALS.format("abcdef0123", "pass.example.other"),
    "latest": LATEST.format("pass.example.other", "serial"),
    "log": LOG,
    "admin": "/admin/login/",
    "unknown": "/no/such/route/",
}


def _counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}


@pytest.fixture
def unchanged(db):
    """Asserts at the end of the test that no table gained or lost a row."""
    before = _counts()
    yield
    after = _counts()
    assert {k: (before[k], v) for k, v in after.items() if before.get(k) != v} == {}


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def check(response, expected: set[int], what: str = "") -> None:
    status = response.status_code
    assert status in expected, f"{what}: {status} (expected {sorted(expected)}) {response.content[:300]!r}"
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith(BINARY):
        text = response.content.decode("utf-8", "replace")
        leak = LEAKS.search(text)
        assert leak is None, f"{what}: the answer leaks {leak.group(0)!r}: {text[:300]}"
        assert django_settings.SECRET_KEY not in text
    # The headers every answer carries (festival.middleware, SecurityMiddleware, XFrameOptions).
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("X-Frame-Options") == "DENY", what
    assert response.headers.get("Referrer-Policy"), what
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers.get("X-Request-Id", "")), what


def send(client, method, path, body=b"", content_type="application/json", **extra):
    return client.generic(method, path, body, content_type=content_type, **extra)


# --- methods ------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_every_method_on_every_route(client, unchanged, route):
    for n, method in enumerate(METHODS):
        response = send(client, method, ROUTES[route], REMOTE_ADDR=f"192.0.2.{n + 1}")
        check(response, _expected_for_method(route, method), f"{method} {route}")


# --- bodies and content types on every POST surface ---------------------------------------------

DEEP = b"[" * 100_000
JSONISH = {
    "empty": b"",
    "not-json": b"{not json",
    "list": b"[]",
    "string": b'"text"',
    "number": b"12",
    "null": b"null",
    "deep": DEEP,
    "deep-object": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    "not-utf8": b'{"logs": ["\xff\xfe"]}',
    "nul": b'{"logs": "\\u0000", "query": "\\u0000"}',
    "gzip": gzip.compress(b'{"logs": []}'),
}
HUGE = b'{"logs": ["' + b"x" * (256 * 1024) + b'"]}'  # just past DATA_UPLOAD_MAX_MEMORY_SIZE
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "application/json;charset=utf-8;foo=bar",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data",  # no boundary
    "",
    "application/json; charset=nosuchcodec",
]


def _post_expectation(route: str, body_name: str, content_type: str) -> set[int]:
    if route == "graphql":
        # Django lower-cases the main type; the test client sends no Content-Type without a body
        if content_type.split(";")[0].strip().lower() != "application/json" or body_name == "empty":
            return {415}
        # nothing here is a GraphQL request object, but for the NUL one: a document's syntax error
        return {200} if body_name == "nul" else {400}
    if route == "stripe":
        return {400}  # never signed
    if route == "log":  # an empty body (and gzip's text) is an empty report; an object without logs too
        return {200} if body_name == "empty" else {400}
    raise AssertionError(route)


@pytest.mark.parametrize("route", ["graphql", "stripe", "log"])
def test_bodies_and_content_types_on_every_post_surface(client, unchanged, route):
    path = {"graphql": GRAPHQL, "stripe": STRIPE, "log": LOG}[route]
    n = 0
    for body_name, body in JSONISH.items():
        for content_type in CONTENT_TYPES:
            n += 1  # a fresh address each time: the PassKit log's per-address limit stays out of the way
            extra = {"HTTP_CONTENT_ENCODING": "gzip"} if body_name == "gzip" else {}
            response = send(client, "POST", path, body, content_type, REMOTE_ADDR=f"10.{n // 250}.{n % 250}.1", **extra)
            check(response, _post_expectation(route, body_name, content_type), f"{route} {body_name} {content_type!r}")
    huge = send(client, "POST", path, HUGE, REMOTE_ADDR="10.99.0.1")
    # Over MAX_BODY_SIZE: a typed 413 on every route (festival/errors.py for the REST shim).
    check(huge, {413}, f"{route} huge")
    if route != "graphql":
        assert huge.json() == {"error": "request body too large"}, huge.content[:200]


def test_a_huge_body_with_a_form_content_type_is_refused_before_csrf_or_view(client, unchanged):
    # Django parses a form body for the CSRF token on a view that is not exempt: bounded too.
    for path in (HEALTH, METRICS, "/admin/login/"):
        for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ"):
            response = send(client, "POST", path, b"a=" + b"x" * (300 * 1024), content_type,
                            HTTP_COOKIE="csrftoken=" + "a" * 32)
            # too large (413), a CSRF refusal (403), or multipart that is no multipart (400)
            check(response, {413, 403} if "urlencoded" in content_type else {400, 403, 413}, f"{path} {content_type}")
        many = "&".join(f"k{i}=v" for i in range(10_000)).encode()
        check(send(client, "POST", path, many, "application/x-www-form-urlencoded", HTTP_COOKIE="csrftoken=" + "a" * 32),
              {400, 403}, f"{path} 10,000 fields")


# --- query strings --------------------------------------------------------------------------------

QUERY_STRINGS = {
    "repeated": "query=%7B__typename%7D&query=%7B__typename%7D&passesUpdatedSince=1&passesUpdatedSince=2",
    "nul": "query=%00&passesUpdatedSince=%00&variables=%00&operationName=%00",
    "10000-params": "&".join(f"p{i}=1" for i in range(10_000)),
    "huge-value": "query=" + "a" * 1_000_000,
    "garbage": "%ZZ=%FF%FE&%C0%AF=%E2%80%AE&=&&&=x",
    "variables-not-json": "query=%7B__typename%7D&variables=%7Bnope",
    "variables-list": "query=%7B__typename%7D&variables=%5B1%5D",
    "variables-deep": "query=%7B__typename%7D&variables=" + "%5B" * 5000,
}


def _get_expectation(route: str, name: str) -> set[int]:
    if route == "graphql":
        # 10,000 fields: Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (TooManyFieldsSent) is a 400
        # a million characters of query: GraphQL's syntax error, a 200 like any other
        return {200} if name in ("repeated", "huge-value") else {400}
    if route == "serials":  # repeated: the last value counts, a tag of ours
        return {400} if name in ("nul", "10000-params") else {204}
    if route == "admin" and name == "10000-params":
        return {400}  # the login view reads the query string (`next`)
    return {"health": {200}, "metrics": {200}, "download": {403}, "pkpass": {404}, "latest": {401}, "admin": {200}}[route]


@pytest.mark.parametrize("route", ["graphql", "health", "metrics", "download", "pkpass", "serials", "latest", "admin"])
def test_query_strings(client, two_apple_passes, unchanged, route):  # noqa: F811
    from domains.wallet.credentials import apple_credentials

    pass_type = apple_credentials().pass_type_identifier
    path = {**ROUTES, "serials": SERIALS.format("abcdef0123", pass_type)}[route]
    for name, query in QUERY_STRINGS.items():
        response = client.get(f"{path}?{query}", HTTP_ACCEPT="application/json")
        check(response, _get_expectation(route, name), f"{route} {name}")


# --- path parameters and headers -----------------------------------------------------------------

GARBAGE_SEGMENTS = ["%00", "..", "%2e%2e", "a" * 5000, "%C3%A9t%C3%A9", "%F0%9F%8E%AB", "%FF%FE", "%0A",
                    "%25", "%E2%80%AE", "a%00b", "%20", "%ED%A0%80"]  # the last: an encoded lone surrogate


def test_garbage_path_parameters(client, two_apple_passes, unchanged):  # noqa: F811
    from domains.wallet import render
    from domains.wallet.credentials import apple_credentials

    apple = two_apple_passes[0]
    pass_type = apple_credentials().pass_type_identifier
    token = render.authentication_token(apple.serial_number)
    auth = {"HTTP_AUTHORIZATION": f"ApplePass {token}"}
    for g in GARBAGE_SEGMENTS:
        check(client.get(DOWNLOAD.format(g)), {403, 404}, f"download {g}")  # 404: Django's own for %2F-like
        check(client.get(PKPASS.format(g)), {404}, f"pkpass {g}")
        check(client.get(LATEST.format(g, apple.serial_number), **auth), {401}, f"latest type {g}")
        check(client.get(LATEST.format(pass_type, g), **auth), {401}, f"latest serial {g}")
        check(client.get(SERIALS.format(g, "other")), {204}, f"serials other type {g}")
        # "..": a shape a device id may have (no registration: nothing to report)
        check(client.get(SERIALS.format(g, pass_type)), {204} if g in ("..", "%2e%2e") else {400}, f"serials device {g}")
        check(client.get(SERIALS.format("abcdef0123", g)), {204}, f"serials type {g}")
        for method in ("POST", "DELETE"):
            path = REGISTRATION.format(g, pass_type, apple.serial_number)
            # POST: the push token is no APNs token; DELETE of "..": a well-shaped id, nothing to remove
            expected = {200} if method == "DELETE" and g in ("..", "%2e%2e") else {400}
            check(send(client, method, path, b'{"pushToken": "ab"}', **auth), expected, f"{method} device {g}")
            path = REGISTRATION.format("abcdef0123", pass_type, g)
            check(send(client, method, path, b'{"pushToken": "ab"}', **auth), {401}, f"{method} serial {g}")


AUTHORIZATIONS = ["", "ApplePass", "ApplePass ", "applepass {t}", "ApplePass  {t}x", "Bearer {t}", "ApplePass {t}\x00",
                  "ApplePass " + "a" * 10_000, "ApplePass \xe9\xe8", "ApplePass {t} {t}", "Basic Zm9vOmJhcg=="]


def test_passkit_authorization_and_if_modified_since_variants(client, two_apple_passes, unchanged):  # noqa: F811
    from domains.wallet import render
    from domains.wallet.credentials import apple_credentials

    apple = two_apple_passes[0]
    pass_type = apple_credentials().pass_type_identifier
    token = render.authentication_token(apple.serial_number)
    latest = LATEST.format(pass_type, apple.serial_number)
    for value in AUTHORIZATIONS:
        header = value.replace("{t}", token)
        check(client.get(latest, HTTP_AUTHORIZATION=header), {401}, repr(header[:40]))
        check(send(client, "DELETE", REGISTRATION.format("abcdef0123", pass_type, apple.serial_number),
                   HTTP_AUTHORIZATION=header), {401}, repr(header[:40]))
    for since in ["garbage", "", "\x00", "Sun, 06 Nov 1994 08:49:37 GMT" * 100, "Mon, 99 Foo 99999 99:99:99 GMT",
                  "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "-1", "1e309"]:
        response = client.get(latest, HTTP_AUTHORIZATION=f"ApplePass {token}", HTTP_IF_MODIFIED_SINCE=since)
        check(response, {200, 304}, f"If-Modified-Since {since[:40]!r}")
        assert response.status_code == (304 if since.startswith("Fri, 31 Dec 9999") else 200), since[:40]


def test_metrics_authorization_variants(client, settings, unchanged):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    for header in ["", "Bearer", "Bearer ", "bearer wrong", "Bearer s3cret-metrics-token-longer", "Basic czNjcmV0",
                   "Bearer \xe9\xe8", "Bearer s3cret-metrics-token\x00", "Bearer " + "a" * 100_000, "Token s3cret-metrics-token"]:
        response = client.get(METRICS, HTTP_AUTHORIZATION=header)
        check(response, {401}, repr(header[:40]))
        assert response.headers["WWW-Authenticate"] == "Bearer"
    check(client.get(METRICS, HTTP_AUTHORIZATION="bearer  s3cret-metrics-token "), {200}, "the control")


FORWARDED_GARBAGE = ["garbage", "1.2.3.4:x", "[::1]junk", "fe80::1%eth0", "\x00", "," * 5000, "1.2.3.4, garbage",
                     "999.1.1.1", "unknown", "a" * 50_000, "2001:DB8:0::1"]


def test_forwarded_for_garbage_behind_a_trusted_proxy_is_no_address(client, settings, db):
    """Behind a trusted proxy, text in X-Forwarded-For that is no address (a client in the
    proxies' own range wrote it, or a proxy that appends `ip:port`) never becomes the client's
    address: the PassKit log stores it in an inet column, and a device's report was refused."""
    from domains.wallet.models import PassKitLog

    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "not-a-network"]
    for forwarded in FORWARDED_GARBAGE:
        response = send(client, "POST", LOG, b'{"logs": ["hello"]}', HTTP_X_FORWARDED_FOR=forwarded)
        check(response, {200}, repr(forwarded[:40]))
        check(client.get(HEALTH, HTTP_X_FORWARDED_FOR=forwarded), {200}, repr(forwarded[:40]))
    stored = list(PassKitLog.objects.values_list("client_ip", flat=True))
    assert len(stored) == len(FORWARDED_GARBAGE)
    # the peer (the proxy) when the hop is no address; an address in its one canonical spelling
    assert set(stored) == {"127.0.0.1", "2001:db8::1"}



def test_a_forwarded_hop_with_a_port_is_its_address(client, settings, db):
    """A load balancer that appends `ip:port` (or `[ipv6]:port`): the client is the address,
    whatever port its connection came from."""
    from schema.context import client_ip

    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    for forwarded, address in (
        ("198.51.100.1, 203.0.113.7:5678", "203.0.113.7"), ("203.0.113.7:61000", "203.0.113.7"),
        ("[2001:DB8::1]:443", "2001:db8::1"), ("[2001:db8::1]", "2001:db8::1"),
    ):
        request = client.get(HEALTH, HTTP_X_FORWARDED_FOR=forwarded).wsgi_request
        assert client_ip(request) == address, forwarded


# --- the GraphQL transport ---------------------------------------------------------------------------

TYPENAME = "{ __typename }"
GRAPHQL_BODIES = {
    "batch-of-2": [{"query": TYPENAME}] * 2,
    "batch-of-1000": [{"query": TYPENAME}] * 1000,
    "empty-batch": [],
    "operationName-number": {"query": TYPENAME, "operationName": 1},
    "operationName-list": {"query": TYPENAME, "operationName": ["a"]},
    "operationName-object": {"query": TYPENAME, "operationName": {"a": 1}},
    "variables-string": {"query": TYPENAME, "variables": "{}"},
    "variables-list": {"query": TYPENAME, "variables": [1]},
    "variables-number": {"query": TYPENAME, "variables": 1},
    "query-number": {"query": 1},
    "query-list": {"query": [TYPENAME]},
    "query-null": {"query": None},
    "query-empty": {"query": ""},
    "extensions-string": {"query": TYPENAME, "extensions": "x"},
    "extensions-list": {"query": TYPENAME, "extensions": [1]},
    "pq-string": {"extensions": {"persistedQuery": "abc"}},
    "pq-list": {"extensions": {"persistedQuery": [1]}},
    "pq-null": {"extensions": {"persistedQuery": None}},
    "pq-hash-number": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": 12}}},
    "pq-hash-list": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": ["a" * 64]}}},
    "pq-hash-upper": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "A" * 64}}},
    "pq-hash-65": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 65}}},
    "pq-hash-huge": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 200_000}}},
    "pq-version-2": {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}}},
    "pq-version-string": {"extensions": {"persistedQuery": {"version": "1", "sha256Hash": "a" * 64}}},
    "pq-query-wrong-type": {"query": 5, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}},
    "pq-query-mismatch": {"query": TYPENAME, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}},
}
GRAPHQL_EXPECTED = {"operationName-number": {400}, "operationName-list": {400}, "operationName-object": {400},
                    "pq-query-wrong-type": {200}}  # an unknown hash: PERSISTED_QUERY_NOT_FOUND (APQ's 200)


@pytest.mark.parametrize("name", GRAPHQL_BODIES)
def test_graphql_transport_refuses_malformed_requests(client, unchanged, name):
    from domains.accounts.models import AuthSession

    body = json.dumps(GRAPHQL_BODIES[name]).encode()
    response = send(client, "POST", GRAPHQL, body)
    check(response, GRAPHQL_EXPECTED.get(name, {400}), name)
    assert not AuthSession.objects.exists()


# --- raw sockets against a real server ---------------------------------------------------------------


@pytest.fixture
def live(transactional_db):
    """uvicorn serving festival.asgi in a thread (as tests/scanning/conftest.py does)."""
    import socket
    import threading
    import time

    import uvicorn

    from festival.asgi import application

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)


def _raw(port: int, data: bytes, *, half_close: bool = True) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def _statuses(answer: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"^HTTP/1\.[01] (\d{3})", answer, re.MULTILINE)]


BODY = b'{"query": "{ __typename }"}'
RAW = {
    "length-longer-than-body": b"POST /graphql/ HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n" + BODY,
    "length-shorter-than-body": b"POST /graphql/ HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n" + BODY,
    "length-negative": b"POST /graphql/ HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n" + BODY,
    "length-not-a-number": b"POST /api/payments/webhook/stripe/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n" + BODY,
    "two-lengths": b"POST /api/wallet/passkit/v1/log HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 12\r\n\r\n{}",
    "length-and-chunked": b"POST /graphql/ HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 4\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "no-host": b"GET /api/health/ HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET /api/health/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "host-garbage-port": b"GET /api/health/ HTTP/1.1\r\nHost: a:b:c\r\n\r\n",
    "host-bad-chars": b"GET /api/health/ HTTP/1.1\r\nHost: ev/il@x\xff\r\n\r\n",
    "host-long": b"GET /api/health/ HTTP/1.1\r\nHost: " + b"a" * 10_000 + b"\r\n\r\n",
    "absolute-form": b"GET http://elsewhere.example/api/health/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "raw-non-utf8-path": b"GET /api/downloads/\xff\xfe/ HTTP/1.1\r\nHost: a\r\n\r\n",
    "header-non-latin": b"GET /api/metrics/ HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    "http10-no-host": b"GET /graphql/?query=%7B__typename%7D HTTP/1.0\r\n\r\n",
    "unknown-method": b"BREW /graphql/ HTTP/1.1\r\nHost: a\r\n\r\n",
}


def test_raw_requests_against_a_real_server(live):
    """Lies and oddities below what the test client can express: the server or Django refuses
    them (a 4xx, or the connection closes), never a 5xx, and nothing is written."""
    before = _counts()
    for name, data in RAW.items():
        answer = _raw(live, data)
        statuses = _statuses(answer)
        assert all(s < 500 for s in statuses), f"{name}: {answer[:300]!r}"
        assert not LEAKS.search(answer.decode("latin-1")), f"{name}: {answer[:300]!r}"
        if b"x-request-id" in answer.lower():  # answered by Django: its headers too
            assert b"x-content-type-options: nosniff" in answer.lower(), name
    assert _counts() == before


def test_errors_django_answers_itself_are_json_outside_the_admin(client, db):
    """A client of the API reads JSON: an unknown path, or a body over the limit on a REST route,
    is `{"error": ...}` (festival/errors.py); the admin keeps Django's pages."""
    missing = client.get("/api/no-such-thing/")
    assert (missing.status_code, missing["Content-Type"], missing.json()) == (404, "application/json", {"error": "not found"})
    assert client.get("/admin/no-such-thing/").status_code in (302, 404)  # Django's (a login redirect or its page)
    assert not client.get("/admin/no-such-thing/")["Content-Type"].startswith("application/json")
