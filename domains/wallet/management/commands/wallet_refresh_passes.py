"""Make every installed wallet pass fetch itself again (after the QR signing key changed)."""

from django.core.management.base import BaseCommand

from domains.wallet.services import wallet_passes_refresh


class Command(BaseCommand):
    help = (
        "Give every live wallet pass a new update tag and push it to its devices (Apple) or "
        "PATCH it (Google), so that it shows the code signed with the current QR key. Run it after "
        "dropping a QR signing secret (README, Rotating the QR key). The pushes go through the workers."
    )

    def handle(self, *args, **options):
        n = wallet_passes_refresh()
        self.stdout.write(f"{n} wallet passes refreshed; their updates are queued for the workers")
