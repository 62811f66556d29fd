from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from domains.events import models
from schema.errors import Error

FestivalStatus = strawberry.enum(
    Enum("FestivalStatus", {s.name: s.value for s in models.Festival.Status}),
    description="DRAFT: not public, its ticket types do not exist for buyers. ANNOUNCED: public, not selling. "
    "ON_SALE and LIVE (while it runs, for day tickets): tickets sell. ENDED: public, not selling.",
)
SponsorTier = strawberry.enum(Enum("SponsorTier", {t.name: t.value for t in models.Sponsor.Tier}))


@strawberry.type(name="Festival")
class FestivalType:
    id: uuid.UUID
    slug: str
    name: str
    tagline: str
    starts_on: dt.date
    ends_on: dt.date
    timezone: str
    venue_name: str
    venue_address: str
    latitude: float | None
    longitude: float | None
    status: FestivalStatus
    currency: str
    contact_email: str
    website_url: str
    public_settings: JSON

    @classmethod
    def from_model(cls, f: models.Festival) -> FestivalType:
        return cls(
            id=f.public_id,
            slug=f.slug,
            name=f.name,
            tagline=f.tagline,
            starts_on=f.starts_on,
            ends_on=f.ends_on,
            timezone=f.timezone,
            venue_name=f.venue_name,
            venue_address=f.venue_address,
            latitude=float(f.latitude) if f.latitude is not None else None,
            longitude=float(f.longitude) if f.longitude is not None else None,
            status=FestivalStatus(f.status),
            currency=f.currency,
            contact_email=f.contact_email,
            website_url=f.website_url,
            public_settings=f.public_settings,
        )


@strawberry.type(name="Sponsor")
class SponsorType:
    id: uuid.UUID
    name: str
    tier: SponsorTier
    sort_order: int
    logo_url: str
    link_url: str

    @classmethod
    def from_model(cls, s: models.Sponsor) -> SponsorType:
        return cls(
            id=s.public_id, name=s.name, tier=SponsorTier(s.tier), sort_order=s.sort_order, logo_url=s.logo_url, link_url=s.link_url
        )


@strawberry.type(name="Stage")
class StageType:
    id: uuid.UUID
    name: str
    description: str


@strawberry.type(name="Performance")
class PerformanceType:
    id: uuid.UUID
    artist: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    image_url: str
    stage: StageType


@strawberry.type
class ScheduleDay:
    date: dt.date = strawberry.field(description="The festival-local day.")
    performances: list[PerformanceType]


@strawberry.type
class Schedule:
    stages: list[StageType]
    days: list[ScheduleDay]


@strawberry.input
class ContactFormInput:
    name: str
    email: str
    subject: str
    message: str


@strawberry.type
class ContactFormPayload:
    ok: bool = False
    errors: list[Error] = strawberry.field(default_factory=list)
