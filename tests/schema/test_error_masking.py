"""Item 5: an unexpected exception in a query or mutation resolver reaches the client only as
"Internal server error." (no traceback, no SQL, no exception text); the log keeps the original."""

from __future__ import annotations

import logging

import pytest
from django.db import DatabaseError

SECRET = 'relation "accounts_user" does not exist LINE 1: SELECT password FROM accounts_user WHERE id = 42'


def boom(*args, **kwargs):
    raise RuntimeError(SECRET)


def db_boom(*args, **kwargs):
    raise DatabaseError(SECRET)


def assert_masked(response, field):
    assert response.status_code == 200
    [error] = response.errors
    assert error["message"] == "Internal server error."
    assert error["path"] == [field]
    text = str(response.body)
    for leak in ("SELECT", "accounts_user", "Traceback", "RuntimeError", "DatabaseError", ".py"):
        assert leak not in text, f"{leak!r} leaked: {text}"


@pytest.mark.parametrize("exc", [boom, db_boom], ids=["runtime", "database"])
def test_query_resolver_exception_is_masked_and_logged(gql, db, monkeypatch, caplog, exc):
    monkeypatch.setattr("domains.events.selectors.festival_get", exc)
    with caplog.at_level(logging.ERROR):
        response = gql.execute("{ festival { name } }")
    assert_masked(response, "festival")
    assert SECRET in caplog.text
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("exc", [boom, db_boom], ids=["runtime", "database"])
def test_mutation_resolver_exception_is_masked_and_logged(as_user, monkeypatch, caplog, exc):
    client = as_user()
    monkeypatch.setattr("domains.accounts.services.user_update_profile", exc)
    with caplog.at_level(logging.ERROR):
        response = client.execute('mutation { updateMe(fullName: "x") { user { email } errors { code } } }')
    assert_masked(response, "updateMe")
    assert SECRET in caplog.text


def test_a_public_mutation_exception_is_masked(gql, db, monkeypatch):
    monkeypatch.setattr("domains.accounts.services.session_login", boom)
    response = gql.execute('mutation { login(email: "a@example.test", password: "x") { accessToken } }')
    assert_masked(response, "login")


def test_masking_does_not_depend_on_debug(gql, db, settings, monkeypatch):
    """Masking is not a production switch that a flag (or an upgrade's new default) turns off."""
    from strawberry.extensions import MaskErrors

    from schema.schema import schema

    assert any(isinstance(ext, MaskErrors) for ext in schema.get_extensions())
    settings.DEBUG = True
    monkeypatch.setattr("domains.events.selectors.festival_get", boom)
    assert_masked(gql.execute("{ festival { name } }"), "festival")


def test_expected_refusals_are_not_masked(gql, db):
    response = gql.execute("{ me { email } }")
    assert response.errors[0]["message"] == "Authentication required."
    assert response.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_an_exception_outside_any_field_is_masked_and_logged(gql, db, monkeypatch, caplog):
    """strawberry turns an exception raised by graphql-core itself (or an extension's hook) into
    an error after the extensions have exited, past MaskErrors: the view masks it too."""
    import strawberry.schema.schema as strawberry_schema

    def broken(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(strawberry_schema, "execute", broken)
    with caplog.at_level(logging.ERROR):
        response = gql.execute("{ festival { name } }")
    assert response.status_code == 200
    assert [e["message"] for e in response.errors] == ["Internal server error."]
    for leak in ("SELECT", "accounts_user", "RuntimeError"):
        assert leak not in str(response.body)
    assert SECRET in caplog.text
