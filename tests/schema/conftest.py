from __future__ import annotations

import pytest


@pytest.fixture
def festival(db):
    """A public festival with one stage and two performances (Europe/Lisbon)."""
    import datetime as dt

    from domains.events.models import Festival, Performance, Stage

    fest = Festival.objects.create(
        slug="sunwave", name="Sunwave", starts_on=dt.date(2027, 7, 9), ends_on=dt.date(2027, 7, 11),
        timezone="Europe/Lisbon", venue_name="Riverside", status=Festival.Status.ON_SALE, is_current=True,
        contact_email="hello@sunwave.example",
    )
    stage = Stage.objects.create(festival=fest, name="Main")
    start = dt.datetime(2027, 7, 9, 18, 0, tzinfo=dt.UTC)
    for n in range(2):
        Performance.objects.create(
            stage=stage, artist=f"Band {n}", starts_at=start + dt.timedelta(hours=2 * n),
            ends_at=start + dt.timedelta(hours=2 * n + 1),
        )
    return fest
