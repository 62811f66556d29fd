from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Write the GraphQL SDL to schema.graphql (or --check that it is current)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit 1 when schema.graphql differs")

    def handle(self, *args, check=False, **options):
        from schema.schema import schema

        path = Path(settings.BASE_DIR) / "schema.graphql"
        sdl = schema.as_str().rstrip() + "\n"
        if check:
            if not path.exists() or path.read_text() != sdl:
                self.stderr.write("schema.graphql is out of date: run `python manage.py print_schema`")
                raise SystemExit(1)
            self.stdout.write("schema.graphql is current")
            return
        path.write_text(sdl)
        self.stdout.write(f"wrote {path}")
