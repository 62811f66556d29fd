"""Item 6: mutations do not run over GET, form posts or multipart, and a Django session
cookie alone authenticates nobody (the API honours only the Authorization header)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from domains.accounts.models import AuthSession, User
from tests.conftest import PASSWORD

LOGIN = f'mutation {{ login(email: "ana@example.test", password: "{PASSWORD}") {{ accessToken }} }}'


@pytest.fixture
def ana(make_user):
    return make_user(email="ana@example.test")


def test_a_mutation_sent_as_get_is_refused(gql, ana):
    response = gql.get("/graphql/?" + urlencode({"query": LOGIN}))
    assert response.status_code in (400, 405)
    assert not AuthSession.objects.exists()


def test_a_query_over_get_works(gql, db):
    response = gql.get("/graphql/?" + urlencode({"query": "{ festival { name } }"}))
    assert response.status_code == 200 and response.json() == {"data": {"festival": None}}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", urlencode({"query": LOGIN})),
        ("multipart/form-data; boundary=XyZ", f'--XyZ\r\nContent-Disposition: form-data; name="query"\r\n\r\n{LOGIN}\r\n--XyZ--\r\n'),
        ("text/plain", json.dumps({"query": LOGIN})),
        ("application/graphql", LOGIN),
        ("", json.dumps({"query": LOGIN})),
    ],
)
def test_non_json_posts_are_refused_and_do_not_run(gql, ana, content_type, body):
    response = gql.post_raw(body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not AuthSession.objects.exists()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_refused(gql, ana, method):
    response = gql.post_raw(json.dumps({"query": LOGIN}), method=method)
    assert response.status_code == 405
    assert not AuthSession.objects.exists()


def _session_cookie(user: User) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


def test_a_session_cookie_alone_is_anonymous(gql, make_user):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    cookie = {"Cookie": f"sessionid={_session_cookie(admin)}", "Origin": "https://evil.example"}
    me = gql.execute("{ me { email } }", headers=cookie)
    assert me.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    # the same cookie does log into Django admin, so it is a real session
    admin_page = gql.get("/admin/", headers={"Cookie": cookie["Cookie"]})
    assert admin_page.status_code == 200
    logout = gql.execute("mutation { logout { ok } }", headers=cookie)
    assert logout.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_cors_allows_only_the_frontend(gql, db, settings):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    evil = gql.post_raw(b"", method="OPTIONS", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in evil.headers
    good = gql.post_raw(b"", method="OPTIONS", headers={"Origin": settings.FRONTEND_URL, **preflight})
    assert good.headers["access-control-allow-origin"] == settings.FRONTEND_URL
    assert good.headers.get("access-control-allow-credentials") == "true"
