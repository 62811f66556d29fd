"""Reference for bench/gate_throughput.py: a bare Django JSON view doing the SQL of one admission
(lock the ticket, read its entry state, upsert it, insert a log row) behind the same Django
ASGI handler and middleware as the real app, without GraphQL, auth, rules or the stats prompt.

    uvicorn bench.gate_bare_asgi:application --workers 2
    gunicorn bench.gate_bare_asgi:wsgi_application -k gthread --workers 2 --threads 8
"""

from __future__ import annotations

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

ADMIT_SQL = [
    "SELECT t.id, t.status, t.secret_version, tt.festival_id FROM tickets_ticket t "
    "JOIN tickets_tickettype tt ON tt.id = t.ticket_type_id WHERE t.public_id = %s FOR UPDATE OF t",
    "SELECT admissions, inside FROM scanning_ticketentrystate WHERE ticket_id = %s",
    "INSERT INTO scanning_ticketentrystate (ticket_id, first_admitted_at, first_gate_id, day, day_first_admitted_at, "
    "day_first_gate_id, inside, admissions, days_admitted, last_scan_at, updated_at) "
    "VALUES (%s, now(), %s, current_date, now(), %s, true, 1, '[]', now(), now()) "
    "ON CONFLICT (ticket_id) DO UPDATE SET admissions = scanning_ticketentrystate.admissions + 1, updated_at = now()",
    "INSERT INTO scanning_scanlog (public_id, festival_id, ticket_id, gate_id, verdict, reason, direction, method, "
    "scanned_at, received_at, offline, conflict, undone, note) "
    "VALUES (gen_random_uuid(), %s, %s, %s, %s, '', 'ENTRY', 'camera', now(), now(), false, false, false, '')",
]


@csrf_exempt
def admit(request):
    body = json.loads(request.body)
    gate_id = int(body["gate"])
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(ADMIT_SQL[0], [body["ticket"]])
        row = cur.fetchone()
        if row is None:
            return JsonResponse({"verdict": "INVALID"})
        ticket_id, _status, _version, festival_id = row
        cur.execute(ADMIT_SQL[1], [ticket_id])
        state = cur.fetchone()
        verdict = "ALREADY_USED" if state and state[0] > 0 else "ADMITTED"
        if verdict == "ADMITTED":
            cur.execute(ADMIT_SQL[2], [ticket_id, gate_id, gate_id])
        cur.execute(ADMIT_SQL[3], [festival_id, ticket_id, gate_id, verdict])
    return JsonResponse({"verdict": verdict})


urlpatterns = [path("bare/admit/", admit)]
settings.ROOT_URLCONF = __name__
application = get_asgi_application()
wsgi_application = get_wsgi_application()

# The same process setup as the app's entry points (festival/wsgi.py, festival/asgi.py).
from festival.gc_tuning import settle_after_start  # noqa: E402

settle_after_start()
