from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.events import selectors
from schema.events.types import FestivalType, PerformanceType, Schedule, ScheduleDay, SponsorType, StageType
from schema.permissions import public


@strawberry.type
class EventQuery:
    @strawberry_django.field(extensions=public(), description="The festival by slug, or the current one.")
    def festival(self, info: Info, slug: str | None = None) -> FestivalType | None:
        festival = selectors.festival_get_public(slug)
        return FestivalType.from_model(festival) if festival else None

    @strawberry_django.field(extensions=public())
    def sponsors(self, info: Info, festival_slug: str | None = None) -> list[SponsorType]:
        festival = selectors.festival_get(festival_slug)
        if festival is None:
            return []
        return [SponsorType.from_model(s) for s in selectors.sponsor_list(festival)]

    @strawberry_django.field(extensions=public(), description="Stages and performances, grouped by festival-local day.")
    def schedule(self, info: Info, festival_slug: str | None = None, day: dt.date | None = None) -> Schedule:
        festival = selectors.festival_get(festival_slug)
        if festival is None:
            return Schedule(stages=[], days=[])
        zone = ZoneInfo(festival.timezone)
        stages = selectors.stage_list_with_performances(festival)
        by_day: dict[dt.date, list[PerformanceType]] = {}
        stage_types = []
        for stage in stages:
            stage_type = StageType(id=stage.public_id, name=stage.name, description=stage.description)
            stage_types.append(stage_type)
            for p in stage.performances.all():
                local_day = p.starts_at.astimezone(zone).date()
                if day is not None and local_day != day:
                    continue
                by_day.setdefault(local_day, []).append(
                    PerformanceType(
                        id=p.public_id,
                        artist=p.artist,
                        description=p.description,
                        starts_at=p.starts_at,
                        ends_at=p.ends_at,
                        image_url=p.image_url,
                        stage=stage_type,
                    )
                )
        days = [
            ScheduleDay(date=d, performances=sorted(perfs, key=lambda p: (p.starts_at, p.stage.name)))
            for d, perfs in sorted(by_day.items())
        ]
        return Schedule(stages=stage_types, days=days)
