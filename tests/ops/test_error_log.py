"""What the server log keeps of a GraphQL error (schema/extensions.py `log_errors`).

A refusal the client caused is logged at INFO by its code and position, never with its
message: graphql-core's messages quote the client's document and variable values, so a login
with a misspelt field or a password sent with the wrong type put the password in the log
(and, at ERROR, in Sentry). An unexpected exception is still logged at ERROR with its
traceback (tests/schema/test_error_masking.py)."""

from __future__ import annotations

from schema.scanning.documents import SCAN_COMMIT

PASSWORD = "Canary-Pw-log-7731"


def graphql_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["logger"] == "festival.graphql"]


def assert_nowhere(secret: str, lines: list[str]) -> None:
    assert lines and not [line for line in lines if secret in line], lines


def test_an_invalid_document_is_logged_without_the_values_it_quotes(gql, db, json_logs):
    document = f'mutation {{ login(email: "a@example.test", password: "{PASSWORD}") {{ noSuchField }} }}'
    response = gql.execute(document)
    assert "noSuchField" in response.errors[0]["message"]  # the client is told what is wrong
    assert_nowhere(PASSWORD, json_logs.lines)
    logs = json_logs.parsed()
    [record] = graphql_records(logs)
    assert record["level"] == "INFO"
    column = document.index("noSuchField") + 1
    assert record["message"] == f"GraphQL request refused: GRAPHQL_VALIDATION_FAILED at line 1, column {column}"


def test_a_syntax_error_is_logged_without_the_document(gql, db, json_logs):
    response = gql.execute(f'mutation {{ login(email: "a@example.test", password: "{PASSWORD}") {{ accessToken }}')
    assert response.errors[0]["message"].startswith("Syntax Error")
    assert_nowhere(PASSWORD, json_logs.lines)
    logs = json_logs.parsed()
    [record] = graphql_records(logs)
    assert record["level"] == "INFO"
    assert "GRAPHQL_PARSE_FAILED" in record["message"]


def test_a_variable_of_the_wrong_type_is_logged_without_its_value(gql, db, json_logs):
    response = gql.execute(
        "mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        {"e": "a@example.test", "p": {"value": PASSWORD}},
    )
    assert PASSWORD in response.errors[0]["message"]  # graphql-core's message quotes the value
    assert_nowhere(PASSWORD, json_logs.lines)
    logs = json_logs.parsed()
    [record] = graphql_records(logs)
    assert record["level"] == "INFO" and "GRAPHQL_VALIDATION_FAILED" in record["message"]


def test_a_permission_refusal_is_info_with_its_code_and_field(gql, db, json_logs):
    response = gql.execute("{ me { email } }")
    assert response.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    logs = json_logs.parsed()
    [record] = graphql_records(logs)
    assert (record["level"], record["message"]) == ("INFO", "GraphQL request refused: UNAUTHENTICATED at me")
    assert not [r for r in logs if r["level"] in ("ERROR", "CRITICAL")]


def test_the_scanner_apps_prevalidated_documents_log_the_same_way(gql, db, json_logs):
    response = gql.execute(SCAN_COMMIT, {"code": "x", "deviceId": "1"})
    assert response.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    logs = json_logs.parsed()
    assert [(r["level"], r["message"]) for r in graphql_records(logs)] == [
        ("INFO", "GraphQL request refused: UNAUTHENTICATED at scanCommit")
    ]


def test_an_unexpected_exception_is_an_error_with_its_traceback(gql, db, json_logs, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("selector exploded")

    monkeypatch.setattr("domains.events.selectors.festival_get", boom)
    response = gql.execute("{ festival { name } }")
    assert response.errors[0]["message"] == "Internal server error."
    logs = json_logs.parsed()
    [record] = graphql_records(logs)
    assert record["level"] == "ERROR"
    assert record["message"] == "GraphQL resolver failed at festival: selector exploded"
    assert "RuntimeError: selector exploded" in record["exc"]
