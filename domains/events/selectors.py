"""Reads of festival configuration."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from domains.common import readcache
from domains.events.models import Festival, Performance, Sponsor, Stage

FESTIVALS_SCOPE = "festivals"  # which festival a slug (or "current") names, and its fields

PUBLIC_STATUSES = [Festival.Status.ANNOUNCED, Festival.Status.ON_SALE, Festival.Status.LIVE, Festival.Status.ENDED]
# Tickets are sold while a festival is on sale and while it runs (day tickets); not before it
# is announced for sale, not once it ended.
SELLING_STATUSES = [Festival.Status.ON_SALE, Festival.Status.LIVE]


def organiser_email(festival: Festival | None) -> str:
    """Where messages for the organisers go (contact messages, dispute alerts): the festival's
    contact address, else ORGANISER_EMAIL."""
    return (festival.contact_email if festival else "") or settings.ORGANISER_EMAIL


def festival_get(slug: str | None = None) -> Festival | None:
    """The festival by slug, or the current one; drafts are never public."""
    qs = Festival.objects.filter(status__in=PUBLIC_STATUSES)
    if slug:
        return qs.filter(slug=slug).first()
    return qs.filter(is_current=True).first() or qs.order_by("-starts_on").first()


def festival_get_public(slug: str | None = None) -> Festival | None:
    """festival_get, cached until a festival changes (domains/events/signals.py). The instance
    is shared by the requests of this process: read it, never change or save it."""
    return readcache.cached(
        FESTIVALS_SCOPE, f"festival:{slug or ''}", lambda: festival_get(slug), max_stale_ms=settings.PUBLIC_READ_MAX_STALE_MS
    )


def sponsor_list(festival: Festival) -> QuerySet[Sponsor]:
    return Sponsor.objects.filter(festival=festival, is_active=True).order_by("sort_order", "name")


def stage_list_with_performances(festival: Festival) -> list[Stage]:
    performances = Performance.objects.order_by("starts_at")
    return list(
        Stage.objects.filter(festival=festival)
        .order_by("sort_order", "name")
        .prefetch_related(Prefetch("performances", queryset=performances))
    )
