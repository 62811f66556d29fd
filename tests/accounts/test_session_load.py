"""The authentication look-up's fixed SQL (`_load_session`) loads what the ORM loads."""

from __future__ import annotations

import uuid

import pytest

from domains.accounts.models import AuthSession, User
from domains.accounts.services.authentication import _load_session, session_start
from domains.common.clock import now

pytestmark = pytest.mark.django_db


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_the_session_and_its_user_are_those_the_orm_loads(make_user, django_assert_num_queries):
    user = make_user("staff", full_name="Zoë Ñandú")
    user.email_verified_at = now()
    user.save()
    session_id = session_start(user=user, user_agent="scanner/1.0").session.id
    AuthSession.objects.filter(id=session_id).update(revoked_at=now(), revoked_reason="logout")

    with django_assert_num_queries(1):
        loaded = _load_session(session_id)
    expected = AuthSession.objects.select_related("user").get(id=session_id)
    assert _values(loaded) == _values(expected)
    assert _values(loaded.user) == _values(expected.user)
    assert isinstance(loaded.id, uuid.UUID) and isinstance(loaded.user.public_id, uuid.UUID)
    assert loaded.revoked_at.tzinfo is not None and loaded.user.is_active is True
    assert not loaded._state.adding and not loaded.user._state.adding
    with django_assert_num_queries(0):
        assert loaded.user.pk == user.pk  # the user came with the session


def test_an_unknown_session_is_none():
    assert _load_session(uuid.uuid4()) is None
    assert not User.objects.exists()
