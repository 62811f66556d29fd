"""Addresses saved before User.save() normalised them (through the admin or a shell) are
lower-cased and trimmed like every other: the case-insensitive unique constraint guarantees
no two differ only in case."""

from django.db import migrations


def normalise(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for user in User.objects.only("pk", "email").iterator():
        email = (user.email or "").strip().lower()
        if email != user.email:
            User.objects.filter(pk=user.pk).update(email=email)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_invoiceparty")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
