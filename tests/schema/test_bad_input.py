"""Bad input gets a clear 4xx or a validation/payload error, never a 500, and writes nothing."""

from __future__ import annotations

import json

import pytest

from domains.accounts.models import AuthSession, User
from domains.events.models import ContactMessage
from domains.notifications.models import OutboundEmail

REGISTER = "mutation($e: String!, $p: String!, $n: String!) { register(email: $e, password: $p, fullName: $n) { ok errors { code field } } }"


@pytest.fixture(autouse=True)
def nothing_written(db):
    yield
    assert not User.objects.exists()
    assert not AuthSession.objects.exists()
    assert not ContactMessage.objects.exists()
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"null", 400),
        (b'"a string"', 400),
        (b"42", 400),
        (b"\xff\xfe{}", 400),
        (b'{"query": 5}', 400),
        (b'{"query": "{ festival { name } }", "variables": "x"}', 400),
        (b'{"query": "{ festival { name } }", "variables": [1]}', 400),
        (b'{"query": "{ festival { name } }", "operationName": "Nope"}', 400),
        (b'{"variables": {}}', 400),
        (b"[]", 400),
    ],
)
def test_malformed_bodies_get_a_4xx(gql, body, status):
    response = gql.post_raw(body)
    assert response.status_code == status, response.text[:300]
    assert "Traceback" not in response.text


def test_an_empty_query_is_a_400(gql):
    assert gql.post_raw(json.dumps({"query": ""})).status_code == 400


def test_a_one_megabyte_body_is_refused_with_413(gql):
    body = json.dumps({"query": REGISTER, "variables": {"e": "a@example.test", "p": "x" * 1_000_000, "n": ""}})
    response = gql.post_raw(body)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def errors_of(response) -> str:
    assert response.status_code == 200, response.text if hasattr(response, "text") else response.body
    assert response.data is None, response.body
    return " ".join(e["message"] for e in response.errors)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"e": 5, "p": "long-enough-passphrase", "n": ""}, "String cannot represent a non string value"),
        ({"e": None, "p": "long-enough-passphrase", "n": ""}, "not to be None"),
        ({"e": ["a"], "p": "long-enough-passphrase", "n": ""}, "String cannot represent"),
        ({"e": {"a": 1}, "p": "long-enough-passphrase", "n": ""}, "String cannot represent"),
        ({"p": "long-enough-passphrase", "n": ""}, "to be provided"),
    ],
)
def test_wrong_variable_types_are_validation_errors(gql, variables, expected):
    assert expected in errors_of(gql.execute(REGISTER, variables))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ festival { name secretField } }", "Cannot query field 'secretField'"),
        ('{ festival(slug: "x", admin: true) { name } }', "Unknown argument 'admin'"),
        ("{ nothing }", "Cannot query field 'nothing'"),
        ('mutation { register(email: "a@example.test") { ok } }', "'Mutation.register(password:)' of type 'String!' is required"),
        ("mutation { submitContactForm { ok } }", "is required"),
        ('mutation { submitContactForm(input: {name: "a", email: "a@example.test", subject: "s"}) { ok } }', "to include required field 'message'"),
        ('{ schedule(day: "not-a-date") { days { date } } }', "Date"),
        ("{ festival { name }", "Syntax Error"),
        ("subscription { nothing }", ""),
    ],
)
def test_unknown_fields_arguments_and_missing_arguments_are_validation_errors(gql, document, expected):
    response = gql.execute(document)
    assert response.status_code in (200, 400), response.body
    assert response.data is None and response.errors, response.body
    assert expected.lower() in errors_of(response).lower() if response.status_code == 200 else True


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"e": "x" * 10_000 + "@example.test", "p": "long-enough-passphrase", "n": ""}, "INVALID_EMAIL", "email"),
        ({"e": "ok@example.test", "p": "long-enough-passphrase", "n": "n" * 10_000}, "INVALID_INPUT", "fullName"),
        ({"e": "ok@example.test", "p": "p" * 10_000, "n": ""}, "PASSWORD_TOO_WEAK", "password"),
    ],
)
def test_oversized_strings_are_payload_errors(gql, variables, code, field):
    payload = gql.execute(REGISTER, variables).payload("register")
    assert payload["ok"] is False
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {(code, field)}


@pytest.mark.parametrize("where", ["literal", "variable"])
def test_nul_characters_are_refused(gql, where):
    if where == "literal":
        response = gql.execute('mutation { register(email: "a\\u0000@example.test", password: "long-enough-passphrase") { ok } }')
    else:
        response = gql.execute(REGISTER, {"e": "a\x00@example.test", "p": "long-enough-passphrase", "n": "a\x00b"})
    assert "NUL" in errors_of(response)


def test_nul_characters_in_an_input_object_are_refused(gql):
    doc = "mutation($i: ContactFormInput!) { submitContactForm(input: $i) { ok } }"
    response = gql.execute(doc, {"i": {"name": "A\x00", "email": "a@example.test", "subject": "s", "message": "m"}})
    assert "NUL" in errors_of(response)


def test_login_with_a_nul_character_is_refused_not_crashed(gql):
    response = gql.execute("mutation($e: String!) { login(email: $e, password: \"x\") { accessToken } }", {"e": "\x00"})
    assert "NUL" in errors_of(response)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_refused_with_413_over_asgi():
    """Sent without a Content-Length (chunked, through uvicorn), the body is measured as Django
    reads it; it was Django's 400 page for RequestDataTooBig, not the API's typed 413."""
    import asyncio

    from festival.asgi import application

    chunk = b" " * 65536
    chunks = [b'{"query": "{ __typename }", "pad": "'] + [chunk] * 6 + [b'"}']
    sent: list[dict] = []
    answered = None

    async def receive():
        if chunks:
            body = chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(chunks)}
        await answered.wait()  # the body is complete: the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    async def call():
        nonlocal answered
        answered = asyncio.Event()
        await application(scope, receive, send)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql/", "raw_path": b"/graphql/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    asyncio.run(call())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413, body[:300]
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
