"""Demo data for a believable festival. Safe to run again: it updates instead of duplicating.

Demo accounts (development only; README lists them):
  admin@festival.example / admin-demo-password      (admin)
  staff@festival.example / staff-demo-password      (staff: scanning, refunds)
  vendor@festival.example / vendor-demo-password    (vendor)
  attendee@festival.example / attendee-demo-password
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEMO_ACCOUNTS = [
    ("admin@festival.example", "admin-demo-password", "admin", "Ada Admin"),
    ("staff@festival.example", "staff-demo-password", "staff", "Sam Staff"),
    ("vendor@festival.example", "vendor-demo-password", "vendor", "Vera Vendor"),
    ("attendee@festival.example", "attendee-demo-password", "attendee", "Alex Attendee"),
]

# Areas add their demo data here as `module:function(festival)`; missing modules are skipped.
AREA_SEEDERS = [
    "domains.tickets.demo:seed_ticket_types",
    "domains.vendors.demo:seed_vendors",
    "domains.scanning.demo:seed_gates",
]


class Command(BaseCommand):
    help = "Create or update the demo festival, accounts and area demo data."

    def handle(self, *args, **options):
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates accounts with published passwords; not in production.")
        from domains.accounts.models import User
        from domains.events.demo import seed_festival

        with transaction.atomic():
            festival = seed_festival()
            for email, password, role, name in DEMO_ACCOUNTS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(email=email, password=password, role=role, full_name=name)
                user.role, user.full_name = role, name
                user.is_staff = role == "admin"
                user.is_superuser = role == "admin"
                user.save()
            for spec in AREA_SEEDERS:
                module_name, func = spec.split(":")
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError:
                    continue
                getattr(module, func)(festival)
        self.stdout.write(self.style.SUCCESS(f"demo festival '{festival.name}' ready"))
