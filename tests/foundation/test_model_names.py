"""Every model of ours names itself (the Django admin, its change log, error reports) without
a database query and without a secret: `__str__` uses the row's own columns and the ids of
related rows, never a token hash."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

MODELS = [m for m in apps.get_models() if m.__module__.startswith("domains.")]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_names_itself_without_a_query_or_a_secret(model, db):
    assert model.__str__ is not Model.__str__, f"{model.__name__} has no __str__"
    instance = model()
    for field in model._meta.concrete_fields:
        if field.name.endswith("hash"):
            setattr(instance, field.attname, "SECRET-HASH-VALUE")
    with CaptureQueriesContext(connection) as queries:
        name = str(instance)
    assert len(queries) == 0
    assert isinstance(name, str) and "SECRET-HASH-VALUE" not in name
