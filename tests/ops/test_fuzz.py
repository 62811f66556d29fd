"""Item 8 / issue 8 item 4: schemathesis against the GraphQL schema (every root field, as an
admin so the resolvers really run) and against the REST shim (tests/ops/rest_openapi.yaml).
Bounded: a few examples per operation, no shrinking. Every answer must be a non-5xx, must not
leak a traceback or SQL, and must come back quickly."""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.core import NOT_SET

ROOT = Path(__file__).resolve().parents[2]
GRAPHQL = schemathesis.graphql.from_path(ROOT / "schema.graphql")
REST = schemathesis.openapi.from_path(ROOT / "tests" / "ops" / "rest_openapi.yaml")

LEAKS = re.compile(
    r"Traceback|File \"/|psycopg|sqlite3|IntegrityError|OperationalError|ProgrammingError|"
    r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b \S+ \bSET\b|django\.|/work/|\.py\b",
    re.IGNORECASE,
)
MAX_SECONDS = 5.0
# CI runs 3 fixed examples per operation; FUZZ_EXAMPLES=200 (say) hunts longer, with new examples
# on every run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ = hsettings(
    max_examples=EXAMPLES or 3,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure's first example is enough
    suppress_health_check=list(HealthCheck),
    derandomize=not EXAMPLES,
    database=None,  # no .hypothesis/ folder in the checkout
)


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


def _check(status: int, text: str, elapsed: float, what: str):
    assert status < 500, f"{what}: {status} {text[:300]}"
    # A masked error is an exception our code did not expect: a bug a client could trigger.
    assert "Internal server error." not in text, f"{what}: an unexpected exception: {text[:300]}"
    leak = LEAKS.search(text)
    assert leak is None, f"{what}: the answer leaks {leak.group(0)!r}: {text[:300]}"
    assert elapsed < MAX_SECONDS, f"{what}: {elapsed:.1f}s"


@pytest.fixture
def admin(as_user):
    return as_user("admin")


@pytest.mark.parametrize("operation", _operations(GRAPHQL), ids=lambda op: op.label)
def test_graphql_operation_fuzz(operation, admin, gql):
    @FUZZ
    @given(case=operation.as_strategy())
    def run(case):
        client = admin if zlib.crc32(case.body.encode()) % 2 else gql  # as admin and anonymously
        started = time.monotonic()
        response = client.post_raw(json.dumps({"query": case.body}))
        elapsed = time.monotonic() - started
        _check(response.status_code, response.text, elapsed, f"{operation.label} {case.body[:200]!r}")

    run()


@pytest.mark.parametrize("operation", _operations(REST), ids=lambda op: op.label)
def test_rest_shim_fuzz(operation, gql, db):
    @FUZZ
    @given(case=operation.as_strategy())
    def run(case):
        path = case.formatted_path
        headers = {k: v for k, v in (case.headers or {}).items() if isinstance(v, str) and v.isascii()}
        body = b""
        if case.body is not None and case.body is not NOT_SET:
            try:
                body = json.dumps(case.body).encode()
            except (TypeError, ValueError):
                body = b"{}"
        method = case.method.upper()
        query = ""
        if case.query:
            from urllib.parse import urlencode

            query = "?" + urlencode(case.query, doseq=True)
        started = time.monotonic()
        response = gql.post_raw(body, method=method, path=path + query, headers=headers, content_type="application/json")
        elapsed = time.monotonic() - started
        _check(response.status_code, response.text if "pkpass" not in response.headers.get("content-type", "") else "", elapsed, f"{method} {path}")

    run()
