"""Persisted queries, Apollo APQ style (schema/persisted.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from schema.persisted import document_hash

QUERY = "query Name { festival { name } }"


def post(body):
    return Client().post("/graphql/", json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_unknown_hash_asks_for_the_document_then_the_hash_alone_works(festival):
    sha = document_hash(QUERY)
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    first = post({"extensions": ext}).json()
    assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert post({"query": QUERY, "extensions": ext}).json()["data"]["festival"]["name"] == "Test Fest"
    assert post({"extensions": ext}).json()["data"]["festival"]["name"] == "Test Fest"


@pytest.mark.django_db
def test_a_hash_that_does_not_match_its_document_is_refused(festival):
    ext = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = post({"query": QUERY, "extensions": ext})
    assert response.status_code == 400
    assert post({"extensions": ext}).json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
