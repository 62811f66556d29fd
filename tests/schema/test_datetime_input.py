"""DateTime inputs (schema/scalars.py): an offset is required, the value is held in UTC, and a
time that exists only with its offset is refused, all as coercion errors before any resolver.
Without this, a naive time reached code comparing it with aware times: a masked error."""

from __future__ import annotations

import datetime as dt

import pytest

from schema.scalars import parse_datetime

pytestmark = pytest.mark.django_db

LOGS = "query($since: DateTime, $until: DateTime) { scanLogs(since: $since, until: $until) { edges { node { verdict } } } }"


@pytest.fixture
def staff(as_user):
    return as_user("staff")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-06-20T12:00:00", "It needs a UTC offset"),
        ("2026-06-20", "It needs a UTC offset"),
        ("0001-01-01T00:00:00+14:00", "It is out of range."),
        ("9999-12-31T23:59:59-14:00", "It is out of range."),
        ("2026-06-20T25:00:00Z", "Value cannot represent a DateTime"),
        ("yesterday", "Value cannot represent a DateTime"),
    ],
)
def test_bad_datetimes_are_refused_before_the_resolver(staff, monkeypatch, value, message):
    import domains.scanning.selectors as selectors

    def never(**kwargs):
        raise AssertionError("the resolver ran")

    monkeypatch.setattr(selectors, "scan_logs_page", never, raising=False)
    response = staff.execute(LOGS, {"since": value})
    assert response.status_code < 500
    assert response.body.get("data") is None
    (error,) = response.errors
    assert message in error["message"] and "Internal server error." not in error["message"]


def test_a_naive_literal_is_refused_too(staff):
    response = staff.execute('{ scanLogs(since: "2026-06-20T12:00:00") { edges { node { verdict } } } }')
    assert response.body.get("data") is None
    assert "It needs a UTC offset" in response.errors[0]["message"]


def test_the_ends_of_the_range_run(staff):
    from tests.scanning import factories

    festival = factories.festival()
    query = LOGS.replace("$until: DateTime)", "$until: DateTime, $e: ID)").replace("until: $until)", "until: $until, eventId: $e)")
    response = staff.execute(query, {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59.999999Z", "e": str(festival.public_id)})
    assert response.errors in (None, []), response.errors
    assert response.data["scanLogs"]["edges"] == []


def test_values_are_held_in_utc():
    parsed = parse_datetime("2026-06-20T18:30:00+02:00")
    assert parsed == dt.datetime(2026, 6, 20, 16, 30, tzinfo=dt.UTC)
    assert parsed.utcoffset() == dt.timedelta(0)
    assert parse_datetime("2026-06-20T16:30:00Z") == parsed
