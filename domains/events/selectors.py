"""Reads of festival configuration."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from domains.events.models import Festival, Performance, Sponsor, Stage

PUBLIC_STATUSES = [Festival.Status.ANNOUNCED, Festival.Status.ON_SALE, Festival.Status.LIVE, Festival.Status.ENDED]


def festival_get(slug: str | None = None) -> Festival | None:
    """The festival by slug, or the current one; drafts are never public."""
    qs = Festival.objects.filter(status__in=PUBLIC_STATUSES)
    if slug:
        return qs.filter(slug=slug).first()
    return qs.filter(is_current=True).first() or qs.order_by("-starts_on").first()


def sponsor_list(festival: Festival) -> QuerySet[Sponsor]:
    return Sponsor.objects.filter(festival=festival, is_active=True).order_by("sort_order", "name")


def stage_list_with_performances(festival: Festival) -> list[Stage]:
    performances = Performance.objects.order_by("starts_at")
    return list(
        Stage.objects.filter(festival=festival)
        .order_by("sort_order", "name")
        .prefetch_related(Prefetch("performances", queryset=performances))
    )
