FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_ENVIRONMENT=development python manage.py collectstatic --noinput -v 0 || true
EXPOSE 8000
# One container serving HTTP and WebSocket. docker-compose.yml runs the measured setup instead
# (gunicorn for HTTP, uvicorn for WebSocket, docs/PERFORMANCE.md). No access log: URLs carry
# GraphQL GET variables and signed download links (deploy/nginx.conf logs a redacted path).
CMD ["uvicorn", "festival.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--no-access-log"]
