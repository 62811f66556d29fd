import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")
django_application = get_wsgi_application()

# Anonymous public catalogue queries are answered from memory while their data has not
# changed (schema/response_cache.py); everything else goes to Django.
from schema.response_cache import PublicResponseCache  # noqa: E402

application = PublicResponseCache(django_application)

from festival.gc_tuning import settle_after_start  # noqa: E402

settle_after_start()
