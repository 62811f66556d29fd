"""festival, sponsors, schedule (days in festival-local time) and submitContactForm."""

from __future__ import annotations

import datetime as dt

import pytest

from domains.events.models import ContactMessage, Festival, Performance, Sponsor, Stage
from domains.notifications.models import OutboundEmail

FESTIVAL = "query($slug: String) { festival(slug: $slug) { id slug name timezone status startsOn endsOn currency contactEmail publicSettings } }"
SPONSORS = "query($slug: String) { sponsors(festivalSlug: $slug) { name tier sortOrder logoUrl linkUrl } }"
SCHEDULE = """query($slug: String, $day: Date) { schedule(festivalSlug: $slug, day: $day) {
  stages { name } days { date performances { artist startsAt stage { name } } } } }"""
CONTACT = "mutation($i: ContactFormInput!) { submitContactForm(input: $i) { ok errors { code field retryAfter } } }"
FORM = {"name": "Ana", "email": "ana@example.test", "subject": "Accessibility", "message": "Is there step-free access?"}


def test_festival_current_and_by_slug(gql, festival):
    current = gql.execute(FESTIVAL).data["festival"]
    assert current["slug"] == "sunwave" and current["status"] == "ON_SALE" and current["timezone"] == "Europe/Lisbon"
    assert current["id"] == str(festival.public_id)
    assert gql.execute(FESTIVAL, {"slug": "sunwave"}).data["festival"]["name"] == "Sunwave"
    assert gql.execute(FESTIVAL, {"slug": "nope"}).data["festival"] is None


def test_draft_festivals_are_not_public(gql, festival):
    Festival.objects.filter(pk=festival.pk).update(status=Festival.Status.DRAFT)
    assert gql.execute(FESTIVAL).data["festival"] is None
    assert gql.execute(FESTIVAL, {"slug": "sunwave"}).data["festival"] is None
    assert gql.execute(SPONSORS).data["sponsors"] == []
    assert gql.execute(SCHEDULE).data["schedule"] == {"stages": [], "days": []}


def test_sponsors_in_order_without_inactive_ones(gql, festival):
    Sponsor.objects.create(festival=festival, name="Zeta", tier="gold", sort_order=2)
    Sponsor.objects.create(festival=festival, name="Alpha", tier="headline", sort_order=1)
    Sponsor.objects.create(festival=festival, name="Beta", tier="silver", sort_order=2)
    Sponsor.objects.create(festival=festival, name="Hidden", sort_order=0, is_active=False)
    sponsors = gql.execute(SPONSORS).data["sponsors"]
    assert [(s["name"], s["tier"]) for s in sponsors] == [("Alpha", "HEADLINE"), ("Beta", "SILVER"), ("Zeta", "GOLD")]


def test_schedule_groups_by_festival_local_day(gql, festival):
    stage = Stage.objects.get(festival=festival)
    second = Stage.objects.create(festival=festival, name="Forest", sort_order=1)
    # 23:30 UTC on 9 July is 00:30 on 10 July in Lisbon (UTC+1 in summer)
    Performance.objects.create(
        stage=second, artist="Late Set", starts_at=dt.datetime(2027, 7, 9, 23, 30, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 7, 10, 1, 0, tzinfo=dt.UTC),
    )
    Performance.objects.create(
        stage=stage, artist="Opening", starts_at=dt.datetime(2027, 7, 9, 14, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 7, 9, 15, 0, tzinfo=dt.UTC),
    )
    schedule = gql.execute(SCHEDULE).data["schedule"]
    assert [s["name"] for s in schedule["stages"]] == ["Main", "Forest"]
    days = {d["date"]: [p["artist"] for p in d["performances"]] for d in schedule["days"]}
    assert days == {"2027-07-09": ["Opening", "Band 0", "Band 1"], "2027-07-10": ["Late Set"]}
    only = gql.execute(SCHEDULE, {"day": "2027-07-10"}).data["schedule"]["days"]
    assert [d["date"] for d in only] == ["2027-07-10"]


def test_schedule_costs_a_fixed_number_of_queries(gql, festival, django_assert_max_num_queries):
    stage = Stage.objects.get(festival=festival)
    for n in range(20):
        Performance.objects.create(
            stage=Stage.objects.create(festival=festival, name=f"S{n}"), artist=f"A{n}",
            starts_at=dt.datetime(2027, 7, 10, 12, tzinfo=dt.UTC), ends_at=dt.datetime(2027, 7, 10, 13, tzinfo=dt.UTC),
        )
    assert stage
    with django_assert_max_num_queries(4):
        gql.execute(SCHEDULE)


def test_contact_form_is_stored_and_emailed_to_the_organisers(gql, festival, run_jobs, outbox):
    response = gql.execute(CONTACT, {"i": {**FORM, "name": "  Ana O'Brien "}})
    assert response.payload("submitContactForm") == {"ok": True, "errors": []}
    message = ContactMessage.objects.get()
    assert message.festival == festival and message.name == "Ana O'Brien" and message.email == "ana@example.test"
    run_jobs()
    [email] = outbox.messages()
    assert email["To"] == "hello@sunwave.example"
    assert "Accessibility" in email["Subject"]
    assert "Is there step-free access?" in email.get_content()
    assert "Ana O'Brien" in email.get_content(), "plain-text emails are not HTML-escaped"


def test_contact_form_without_a_festival_goes_to_the_default_address(gql, db, run_jobs, outbox, settings):
    assert gql.execute(CONTACT, {"i": FORM}).payload("submitContactForm")["ok"] is True
    run_jobs()
    assert [m["To"] for m in outbox.messages()] == [settings.ORGANISER_EMAIL]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"name": "  "}, "name", "INVALID_INPUT"),
        ({"subject": ""}, "subject", "INVALID_INPUT"),
        ({"message": ""}, "message", "INVALID_INPUT"),
        ({"message": "m" * 5001}, "message", "INVALID_INPUT"),
        ({"name": "n" * 10_000}, "name", "INVALID_INPUT"),
        ({"subject": "s" * 201}, "subject", "INVALID_INPUT"),
        ({"email": "not-an-email"}, "email", "INVALID_EMAIL"),
        ({"email": "e" * 10_000}, "email", "INVALID_EMAIL"),
    ],
)
def test_contact_form_validation(gql, festival, change, field, code):
    response = gql.execute(CONTACT, {"i": {**FORM, **change}})
    assert response.payload("submitContactForm")["ok"] is False
    assert [(e["code"], e["field"]) for e in response.payload("submitContactForm")["errors"]] == [(code, field)]
    assert not ContactMessage.objects.exists() and not OutboundEmail.objects.exists()


def test_contact_form_is_rate_limited_per_address(gql, festival, settings):
    settings.CONTACT_FORM_PER_HOUR = 3
    for _ in range(3):
        assert gql.execute(CONTACT, {"i": FORM}).payload("submitContactForm")["ok"] is True
    refused = gql.execute(CONTACT, {"i": FORM}).payload("submitContactForm")
    assert refused["ok"] is False
    assert refused["errors"][0]["code"] == "RATE_LIMITED" and refused["errors"][0]["retryAfter"] >= 1
    assert ContactMessage.objects.count() == 3
    other = type(gql)()
    other.client_ip = "198.51.100.9"
    assert other.execute(CONTACT, {"i": FORM}).payload("submitContactForm")["ok"] is True


def test_invalid_submissions_do_not_use_up_the_rate_limit(gql, festival, settings):
    settings.CONTACT_FORM_PER_HOUR = 1
    for _ in range(3):
        gql.execute(CONTACT, {"i": {**FORM, "email": "bad"}})
    assert gql.execute(CONTACT, {"i": FORM}).payload("submitContactForm")["ok"] is True


def test_a_subject_with_line_breaks_cannot_inject_headers(gql, festival, run_jobs, outbox):
    form = {**FORM, "subject": "Hello\r\nBcc: victim@example.test\nX-Evil: 1"}
    assert gql.execute(CONTACT, {"i": form}).payload("submitContactForm")["ok"] is True
    run_jobs()
    [email] = outbox.messages()
    assert email["Bcc"] is None and email["X-Evil"] is None
    assert email["Subject"] == "[Contact] Hello Bcc: victim@example.test X-Evil: 1"
    assert OutboundEmail.objects.get().status == "sent"
