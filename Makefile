# Shortcuts; each calls the same commands the README documents.
.PHONY: serve test ci schema lint worker
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
