"""Demo vendors and booths for a festival. Idempotent: keyed by email and booth code.

- 15 booths in three zones (Food Court F-01..F-06, Makers Market M-01..M-06, Sponsor Village S-01..S-03);
- vendors in every status (approved ones with a review history), the demo account
  vendor@festival.example (when seed_demo created it) approved with booth F-01;
- two more approved vendors on booths; one approved vendor still waiting for a booth.

Vendor accounts made here log in with DEMO_VENDOR_PASSWORD (development only).
"""

from __future__ import annotations

from django.db import transaction

from domains.accounts.models import Role, User
from domains.events.models import Festival
from domains.vendors.models import Booth, BoothAssignment, BoothSize, VendorProfile, VendorReview
from domains.vendors.services.assignment import default_setup_window

DEMO_VENDOR_PASSWORD = "vendor-demo-password"
DEMO_VENDOR_EMAIL = "vendor@festival.example"

ZONES = [
    # zone, prefix, count, size, power (A), price (minor units), map row
    ("Food Court", "F", 6, BoothSize.MEDIUM, 32, 60_000, 200.0),
    ("Makers Market", "M", 6, BoothSize.SMALL, 16, 25_000, 450.0),
    ("Sponsor Village", "S", 3, BoothSize.XLARGE, 63, 250_000, 700.0),
]

# email, business name, category, status, description, highlights, booth code
VENDORS = [
    (DEMO_VENDOR_EMAIL, "Palm Grove Tacos", "food", "approved", "Street tacos from a 1968 truck.", ["Al pastor", "Horchata"], "F-01"),
    ("vendor-juice@festival.example", "Citrus Press", "drink", "approved", "Cold-pressed juice and lemonade.", ["Blood orange", "Mint lemonade"], "F-02"),
    ("vendor-prints@festival.example", "Dune Print Co.", "merchandise", "approved", "Screen-printed festival tees.", ["Limited tee", "Tote bags"], "M-01"),
    ("vendor-charge@festival.example", "Oasis Telecom Lounge", "sponsor_activation", "approved", "Phone charging and shade.", ["Free charging"], None),
    ("vendor-henna@festival.example", "Henna Haze", "services", "submitted", "Henna and face paint.", [], None),
    ("vendor-bao@festival.example", "Bao Down", "food", "rejected", "Steamed buns.", ["Pork belly bao"], None),
    ("vendor-vinyl@festival.example", "Crate Diggers", "merchandise", "suspended", "Second-hand vinyl.", [], None),
    ("vendor-draft@festival.example", "Untitled Coffee Cart", "drink", "draft", "", [], None),
]


def _vendor_user(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_VENDOR_PASSWORD, role=Role.VENDOR, full_name=name)
    return user


def _history(profile: VendorProfile, status: str) -> None:
    if profile.reviews.exists() or status == VendorProfile.Status.DRAFT:
        return
    steps = [("submit", "draft", "submitted", "")]
    if status in ("approved", "suspended"):
        steps.append(("approve", "submitted", "approved", "Welcome to the festival!"))
    if status == "suspended":
        steps.append(("suspend", "approved", "suspended", "Missing electrical safety certificate."))
    if status == "rejected":
        steps.append(("reject", "submitted", "rejected", "We already have enough bao; try again next year."))
    for action, from_status, to_status, note in steps:
        VendorReview.objects.create(profile=profile, action=action, from_status=from_status, to_status=to_status, note=note)
    profile.review_note = steps[-1][3]
    profile.save(update_fields=["review_note"])


def seed_vendors(festival: Festival) -> None:
    with transaction.atomic():
        booths = {}
        for zone, prefix, count, size, power, price, map_y in ZONES:
            for n in range(1, count + 1):
                code = f"{prefix}-{n:02d}"
                booths[code], _ = Booth.objects.update_or_create(
                    festival=festival,
                    code=code,
                    defaults={
                        "zone": zone,
                        "size": size,
                        "power_amps": power,
                        "price_amount": price,
                        "currency": festival.currency,
                        "map_x": 100.0 + n * 120.0,
                        "map_y": map_y,
                    },
                )
        starts, ends = default_setup_window(festival)
        for email, name, category, status, description, highlights, booth_code in VENDORS:
            user = _vendor_user(email, name)
            profile, created = VendorProfile.objects.get_or_create(
                owner=user,
                defaults={
                    "business_name": name,
                    "category": category,
                    "status": status,
                    "description": description,
                    "highlights": highlights,
                    "contact_email": email,
                    "contact_phone": "+1 555 0100",
                    "website_url": "https://sunwave.example/vendors",
                    "power_amps": 16,
                    "space_size": BoothSize.SMALL,
                    "crew_size": 3,
                },
            )
            if created:
                _history(profile, status)
            if booth_code and profile.status == VendorProfile.Status.APPROVED:
                booth = booths[booth_code]
                live = BoothAssignment.objects.filter(ended_at__isnull=True)
                if not live.filter(booth=booth).exists() and not live.filter(vendor=profile, festival=festival).exists():
                    BoothAssignment.objects.create(
                        booth=booth,
                        vendor=profile,
                        festival=festival,
                        setup_starts_at=starts,
                        setup_ends_at=ends,
                        crew_limit=profile.crew_size,
                        setup_instructions="Enter by the service road off Festival Way; unload within 30 minutes.",
                    )
