"""Demo festival: 3 days, 4 stages, 60 performances, sponsors. Idempotent (keyed by slug/name)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from domains.events.models import Festival, Performance, Sponsor, Stage

DEMO_SLUG = "sunwave-2027"
STAGES = ["Main Stage", "Desert Tent", "Palm Grove", "Night Garden"]
ARTISTS = [
    "Nour Collective", "Amira & The Tides", "Kalimba Kid", "Oud Electric", "Saffron Skies", "The Dunes",
    "Layla Noor", "Cedar Sound System", "Mirage Machine", "Zaytoun Brass", "Falafel Funk", "Blue Medina",
    "Tarab Revival", "Jasmine Echo", "Atlas Avenue", "Rumi Rhythm", "Sahara Static", "Basma Beats",
    "Levant Lights", "Qamar", "The Souk Sessions", "Golden Hour Trio", "Henna Haze", "Camel Club",
]
SPONSORS = [
    ("Oasis Telecom", "headline"), ("Palm Bank", "gold"), ("Citrus Cola", "gold"),
    ("Dune Rideshare", "silver"), ("Sandstone Coffee", "silver"), ("Local Radio 101", "partner"),
]


def seed_festival() -> Festival:
    start = dt.date(2027, 4, 16)
    festival, _ = Festival.objects.update_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Sunwave Festival 2027",
            "tagline": "Three days of music under the palms",
            "starts_on": start,
            "ends_on": start + dt.timedelta(days=2),
            "timezone": "America/Los_Angeles",
            "venue_name": "Harbor Regional Park",
            "venue_address": "1 Festival Way, Costa Mesa, CA",
            "status": Festival.Status.ON_SALE,
            "currency": "USD",
            "contact_email": "hello@sunwave.example",
            "website_url": "https://sunwave.example",
            "public_settings": {"primaryColor": "#F26B1D", "showLineup": True},
            "is_current": True,
        },
    )
    Festival.objects.exclude(pk=festival.pk).filter(is_current=True).update(is_current=False)
    for order, (name, tier) in enumerate(SPONSORS):
        Sponsor.objects.update_or_create(
            festival=festival,
            name=name,
            defaults={"tier": tier, "sort_order": order, "logo_url": f"https://sunwave.example/sponsors/{order}.png"},
        )
    zone = ZoneInfo(festival.timezone)
    artist = 0
    for s_order, stage_name in enumerate(STAGES):
        stage, _ = Stage.objects.update_or_create(festival=festival, name=stage_name, defaults={"sort_order": s_order})
        for day in range(3):
            for slot in range(5):
                begins = dt.datetime.combine(start + dt.timedelta(days=day), dt.time(14 + slot * 2, 0), zone)
                name = f"{ARTISTS[artist % len(ARTISTS)]}"
                artist += 1
                Performance.objects.update_or_create(
                    stage=stage,
                    starts_at=begins,
                    defaults={"artist": name, "ends_at": begins + dt.timedelta(minutes=90)},
                )
    return festival
