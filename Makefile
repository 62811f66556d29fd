# Shortcuts; each calls the same commands the README documents.
.PHONY: serve test ci schema lint worker scheduler web gate ws bench
serve:
	python3 dev.py serve
test:
	python3 dev.py test
ci:
	bash .ci/run
schema:
	.venv/bin/python manage.py print_schema
lint:
	.venv/bin/ruff check .
worker:
	.venv/bin/python manage.py rundramatiq --processes 1 --threads 4
# The periodic jobs (expired checkout and upgrade holds, pending emails): ONE per deployment.
scheduler:
	.venv/bin/python manage.py run_periodic
# Production serving (README, "Running it for real"): HTTP on gunicorn, the scanner app's HTTP
# on a second gunicorn pool of sync workers, WebSocket on uvicorn; a load balancer sends
# Upgrade requests to uvicorn and requests carrying X-Device-Token to the gate pool
# (deploy/nginx.conf).
web:
	.venv/bin/gunicorn festival.wsgi:application --bind 0.0.0.0:8000 --worker-class gthread --workers $${WEB_WORKERS:-4} --threads $${WEB_THREADS:-8} --keep-alive 30 --max-requests 100000 --max-requests-jitter 10000
gate:
	.venv/bin/gunicorn -c deploy/gunicorn_gate.py festival.wsgi:application --bind 0.0.0.0:8002
ws:
	.venv/bin/uvicorn festival.asgi:application --host 0.0.0.0 --port 8001 --workers $${WS_WORKERS:-1} --no-access-log
# Every benchmark in one JSON document (docs/PERFORMANCE.md)
bench:
	.venv/bin/python bench/run_all.py
