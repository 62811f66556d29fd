"""Item 4: with production settings, introspection is refused, errors carry no "Did you mean",
and GET with Accept: text/html serves no GraphiQL. The flags are read per request."""

from __future__ import annotations

import pytest

INTROSPECTION = "{ __schema { queryType { name } types { name } } }"


@pytest.fixture
def production(settings):
    settings.GRAPHQL_INTROSPECTION = False
    settings.GRAPHQL_GRAPHIQL = False
    return settings


def all_messages(response) -> str:
    return " ".join(e["message"] for e in response.errors or [])


def test_introspection_is_refused(gql, db, production, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = gql.execute(INTROSPECTION)
    assert response.data is None
    assert "introspection has been disabled" in all_messages(response)
    typename = gql.execute('{ __type(name: "User") { fields { name } } }')
    assert typename.data is None and "introspection has been disabled" in all_messages(typename)


def test_introspection_works_in_development(gql, db, settings):
    assert settings.GRAPHQL_INTROSPECTION is True
    assert gql.execute(INTROSPECTION).data["__schema"]["queryType"] == {"name": "Query"}


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ("{ festivl { name } }", None),
        ("{ festival(slg: \"x\") { name } }", None),
        ("{ festival { nme } }", None),
        ("mutation { registr(email: \"a\", password: \"b\") { ok } }", None),
        (
            "mutation($i: ContactFormInput!) { submitContactForm(input: $i) { ok } }",
            {"i": {"nme": "A", "email": "a@example.test", "subject": "s", "message": "m"}},
        ),
        ("query($d: Strin) { festival(slug: $d) { name } }", None),
    ],
)
def test_no_suggestions_in_production(gql, db, production, document, variables):
    response = gql.execute(document, variables)
    assert response.errors, response.body
    assert "Did you mean" not in all_messages(response)
    assert "Did you mean" not in str(response.body)


def test_suggestions_stay_in_development(gql, db):
    assert "Did you mean 'festival'?" in all_messages(gql.execute("{ festivl { name } }"))


def test_no_graphiql_in_production(gql, db, production):
    response = gql.get("/graphql/", headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
    assert response.status_code == 400
    assert not response.headers.get("content-type", "").startswith("text/html")


def test_graphiql_in_development(gql, db):
    response = gql.get("/graphql/", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_production_environment_turns_the_flags_off():
    """The settings module itself: DJANGO_ENVIRONMENT=production defaults both flags off."""
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='festival.settings';"
        "import festival.config_check as c; c.check_production_settings = lambda s: None;"
        "from django.conf import settings as s; print(s.GRAPHQL_INTROSPECTION, s.GRAPHQL_GRAPHIQL, s.DEBUG)"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_ENVIRONMENT": "production", "FESTIVAL_TESTING": "0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "False"], out.stderr[-2000:]
