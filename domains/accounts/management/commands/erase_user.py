"""Staff: export or erase a person's data on request (item 25).

    manage.py erase_user ana@example.test --export     # print everything we hold, as JSON
    manage.py erase_user ana@example.test --yes        # anonymise (orders and invoices stay)
"""

import json

from django.core.management.base import BaseCommand, CommandError

from domains.accounts.models import User, normalize_email
from domains.accounts.privacy import user_erase, user_export


class Command(BaseCommand):
    help = "Export (--export) or erase (--yes) the account with this email address."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--export", action="store_true")
        parser.add_argument("--yes", action="store_true", help="really erase")

    def handle(self, *args, email, export, yes, **options):
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError("no account with that email address")
        if export:
            self.stdout.write(json.dumps(user_export(user=user), indent=2))
            return
        if not yes:
            raise CommandError("add --yes to erase (or --export to see the data)")
        user = user_erase(user=user, check_password=False)
        self.stdout.write(f"erased {user.public_id}")
