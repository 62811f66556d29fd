FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_ENVIRONMENT=development python manage.py collectstatic --noinput -v 0 || true
EXPOSE 8000
CMD ["uvicorn", "festival.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
