"""The scanner app's documents run pre-validated (schema/prevalidated.py): the same scenarios
sent once as the registered document and once as a copy with one more space (not registered,
so the general path with every schema extension answers) must get the same answer: body,
status, Retry-After, log and metrics."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError

from domains.scanning.models import ScanLog
from domains.tickets.qr import qr_encode
from schema import prevalidated
from schema.persisted import document_hash
from schema.scanning.documents import SCAN_COMMIT, SCAN_VALIDATE

pytestmark = pytest.mark.django_db

GENERAL = SCAN_COMMIT + " "  # the same operation, a document that is not registered
VOLATILE = ("scanId", "ticketId", "firstUsedAt")


@pytest.fixture
def taken(monkeypatch):
    """Which path answered each request: True pre-validated, False declined or not registered."""
    seen: list[bool] = []
    real = prevalidated.execute_prevalidated

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(prevalidated, "execute_prevalidated", spy)
    return seen


def send(env, document, variables, *, token=None, device_token=None, operation_name=None, client=None):
    client = client or env.staff_client
    headers = {"X-Device-Token": env.device_token if device_token is None else device_token}
    if token is not None:
        headers["Authorization"] = token
    body = {"query": document, "variables": variables}
    if operation_name:
        body["operationName"] = operation_name
    response = client.post_raw(json.dumps(body), headers=headers)
    try:
        body = response.json()
    except ValueError:  # strawberry answers some HTTP 400s in plain text
        body = response.text
    return response.status_code, response.headers.get("Retry-After"), _normal(body)


def _normal(body):
    """Answers about two different tickets differ only in ids and times."""
    if isinstance(body, dict):
        return {k: ("<v>" if k in VOLATILE and v is not None else _normal(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_normal(v) for v in body]
    return body


def both(env, variables_for, taken, **kwargs):
    """(pre-validated answer, general answer); variables_for(i) gives each its own ticket."""
    fast = send(env, SCAN_COMMIT, variables_for(0), **kwargs)
    assert taken[-1] is True, "the registered document did not run pre-validated"
    count = len(taken)
    general = send(env, GENERAL, variables_for(1), **kwargs)
    assert len(taken) == count, "the unregistered copy must take the general path"
    return fast, general


def scan_vars(env, codes, **extra):
    return lambda i: {"code": codes[i], "deviceId": str(env.device.public_id), **extra}


def test_admitted_then_already_used_the_same_on_both_paths(env, taken):
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    fast, general = both(env, scan_vars(env, codes), taken)
    assert fast == general
    assert fast[2]["data"]["scanCommit"]["result"]["verdict"] == "ADMITTED"
    fast, general = both(env, scan_vars(env, codes), taken)
    assert fast == general
    assert fast[2]["data"]["scanCommit"]["result"]["verdict"] == "ALREADY_USED"
    assert ScanLog.objects.count() == 4


@pytest.mark.parametrize(
    "variables",
    [
        {"code": "not-a-code"},  # INVALID verdict, nothing about a ticket
        {"code": "x", "direction": "EXIT"},
        {"code": "x", "nonce": None},
    ],
    ids=["invalid-code", "exit", "null-nonce"],
)
def test_refusals_the_same_on_both_paths(env, taken, variables):
    fast, general = both(env, lambda i: {"deviceId": str(env.device.public_id), **variables}, taken)
    assert fast == general
    assert fast[2]["data"]["scanCommit"]["result"]["verdict"] == "INVALID"


@pytest.mark.parametrize(
    "variables",
    [
        {"deviceId": "d"},  # code missing
        {"code": 42, "deviceId": "d"},
        {"code": "x", "deviceId": "d", "direction": "SIDEWAYS"},
        {"code": ["x"], "deviceId": {"id": 1}},
    ],
    ids=["missing", "wrong-type", "bad-enum", "objects"],
)
def test_variable_errors_the_same_on_both_paths(env, taken, variables):
    fast, general = both(env, lambda i: variables, taken)
    assert fast == general
    assert fast[0] == 200 and fast[2]["errors"] and fast[2].get("data") is None
    assert ScanLog.objects.count() == 0


def test_wrong_device_token_and_unknown_variable_the_same_on_both_paths(env, taken):
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    fast, general = both(env, scan_vars(env, codes), taken, device_token="wrong")
    assert fast == general
    assert fast[2]["data"]["scanCommit"]["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
    # A variable the document does not declare is ignored (GraphQL's rule), on both paths.
    fast, general = both(env, scan_vars(env, codes, extra=1), taken)
    assert fast == general
    assert fast[2]["data"]["scanCommit"]["result"]["verdict"] == "ADMITTED"


@pytest.mark.parametrize("who", ["anonymous", "attendee", "expired"])
def test_permission_refusals_the_same_on_both_paths(env, taken, who, as_user, gql):
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    client = {"anonymous": gql, "attendee": as_user("attendee"), "expired": gql}[who]
    token = "Bearer not-a-token" if who == "expired" else None
    fast, general = both(env, scan_vars(env, codes), taken, client=client, token=token)
    assert fast == general
    [error] = fast[2]["errors"]
    assert error["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    assert fast[2]["data"] is None
    assert ScanLog.objects.count() == 0


def test_rate_limit_the_same_on_both_paths_with_retry_after(env, taken, monkeypatch):
    import domains.scanning.services.commit as commit

    monkeypatch.setattr(commit, "DEVICE_LIMIT", 0)
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    fast, general = both(env, scan_vars(env, codes), taken)
    # The seconds left in the window may tick between the two requests: compare them apart.
    waits = [int(answer[1]) for answer in (fast, general)]
    assert max(waits) - min(waits) <= 1 and min(waits) >= 1
    for answer, wait in zip((fast, general), waits, strict=True):
        [error] = answer[2]["data"]["scanCommit"]["errors"]
        assert error["code"] == "RATE_LIMITED" and error["retryAfter"] == wait
        error["retryAfter"] = "<wait>"
    assert fast[2] == general[2] and fast[0] == general[0]


def test_unexpected_exception_masked_and_logged_the_same_on_both_paths(env, taken, monkeypatch, caplog):
    def boom(**kwargs):
        raise RuntimeError("secret detail: SELECT * FROM accounts_user")

    monkeypatch.setattr("domains.scanning.services.scan_commit", boom)
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    with caplog.at_level(logging.ERROR):
        fast, general = both(env, scan_vars(env, codes), taken)
    assert fast == general
    assert fast[2]["errors"][0]["message"] == "Internal server error."
    assert "secret detail" not in json.dumps(fast[2])
    logged = [r for r in caplog.records if r.exc_info and "secret detail" in str(r.exc_info[1])]
    assert len(logged) == 2  # once per path: the original error is kept in the log


def test_database_gone_is_503_retry_later_on_both_paths(env, taken, monkeypatch):
    def gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("domains.scanning.services.scan_commit", gone)
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    fast, general = both(env, scan_vars(env, codes), taken)
    assert fast == general
    assert fast[0] == 503 and fast[1] == "1"
    assert fast[2]["errors"][0]["extensions"]["code"] == "RETRY_LATER"


@pytest.mark.parametrize(
    "limit", [{"GRAPHQL_MAX_DEPTH": 2}, {"GRAPHQL_MAX_TOKENS": 10}, {"GRAPHQL_MAX_ALIASES": 0, "GRAPHQL_MAX_DEPTH": 2}],
    ids=["depth", "tokens", "depth-and-aliases"],
)
def test_lowered_limits_decline_and_the_general_path_refuses(env, taken, settings, limit):
    for name, value in limit.items():
        setattr(settings, name, value)
    codes = [qr_encode(env.ticket())]
    status, _, body = send(env, SCAN_COMMIT, scan_vars(env, codes)(0))
    assert taken == [False]
    assert body["errors"] and not body.get("data")
    assert ScanLog.objects.count() == 0


def test_nul_in_variables_and_another_operation_name_are_declined(env, taken):
    nul = send(env, SCAN_COMMIT, {"code": "a\x00b", "deviceId": str(env.device.public_id)})
    other = send(env, SCAN_COMMIT, {"code": "x", "deviceId": str(env.device.public_id)}, operation_name="Other")
    assert taken == [False, False]
    assert "NUL" in nul[2]["errors"][0]["message"]
    assert other[0] == 400 and "Unknown operation" in other[2]
    assert ScanLog.objects.count() == 0


def test_metrics_count_both_paths_under_the_same_label(env, taken):
    from festival.metrics import REQUESTS

    def count():
        return REQUESTS.labels("scanCommit", "mutation", "ok")._value.get()

    before = count()
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    both(env, scan_vars(env, codes), taken)
    assert count() == before + 2


def test_scanner_documents_are_known_persisted_queries(env, taken):
    code = qr_encode(env.ticket())
    body = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(SCAN_COMMIT)}},
        "variables": {"code": code, "deviceId": str(env.device.public_id)},
    }
    response = env.staff_client.post_raw(json.dumps(body), headers={"X-Device-Token": env.device_token})
    assert response.json()["data"]["scanCommit"]["result"]["verdict"] == "ADMITTED"
    assert taken == [True]
    validate = env.staff_client.post_raw(
        json.dumps({"query": SCAN_VALIDATE, "variables": {"code": code, "gate": str(env.gate.public_id)}})
    )
    assert validate.json()["data"]["scanValidate"]["result"]["verdict"] == "ALREADY_USED"
    assert taken == [True, True]



def test_only_valid_single_operation_documents_can_be_registered():
    from schema.schema import schema

    with pytest.raises(ValueError, match="not valid"):
        prevalidated.register(schema, "query Nope { nothing }")
    with pytest.raises(ValueError, match="exactly one operation"):
        prevalidated.register(schema, "query A { festival { name } } query B { festival { name } }")
    with pytest.raises(ValueError, match="exactly one operation"):
        prevalidated.register(schema, "query A { festival { ...F } } fragment F on Festival { name }")
    assert prevalidated.lookup("query Nope { nothing }") is None


def test_a_failure_of_the_execution_itself_is_a_masked_error_on_both_paths(env, taken, monkeypatch):
    import strawberry.schema.schema as strawberry_schema

    def broken(*args, **kwargs):
        raise RuntimeError("internal state: secret")

    # The general path calls graphql-core's execute through strawberry's module, ours directly.
    monkeypatch.setattr(prevalidated, "execute", broken)
    monkeypatch.setattr(strawberry_schema, "execute", broken, raising=False)
    codes = [qr_encode(env.ticket()), qr_encode(env.ticket())]
    fast, general = both(env, scan_vars(env, codes), taken)
    assert fast == general
    assert fast[0] == 200
    assert fast[2]["errors"][0]["message"] == "Internal server error."
    assert "secret" not in json.dumps(fast[2])
    assert ScanLog.objects.count() == 0
