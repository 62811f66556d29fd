"""Reading the environment, and refusing to run production on unsafe settings."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, *, default: list[str], environ=None) -> list[str]:
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


REQUIRED_IN_PRODUCTION = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SENDGRID_API_KEY",
    "QR_SIGNING_SECRET",
    "FRONTEND_URL",
)


def prepare_threshold(*, pooled: bool) -> int | None:
    """psycopg's prepare_threshold for the gate scan's statements (DB_PREPARE_THRESHOLD): 5
    by default with Django's own pool, whose connections keep their prepared statements; none
    by default without it (an external pooler in transaction mode may hand the server
    connection to another client between transactions); "off" for none either way."""
    raw = os.environ.get("DB_PREPARE_THRESHOLD", "").strip().lower()
    if raw in ("off", "none") or (not raw and not pooled):
        return None
    threshold = env_int("DB_PREPARE_THRESHOLD", 5)
    if threshold < 0:
        raise ImproperlyConfigured(f"DB_PREPARE_THRESHOLD must be 0 or more, or off, not {raw!r}")
    return threshold


def production_problems(settings: dict, environ: os._Environ | dict = os.environ) -> list[str]:
    """Every reason the given settings are not fit for production, in one list.

    A missing variable, a development default, debug on, SQLite or a short secret are
    each named; the caller reports them all at once so an operator fixes them in one go.
    """
    problems = [f"{name} is not set" for name in REQUIRED_IN_PRODUCTION if not environ.get(name, "").strip()]
    if settings.get("DEBUG"):
        problems.append("DJANGO_DEBUG must be false")
    secret = environ.get("DJANGO_SECRET_KEY", "")
    if secret and (secret == settings.get("DEV_SECRET_KEY") or len(secret) < 50):
        problems.append("DJANGO_SECRET_KEY must be a random value of at least 50 characters")
    qr_secret = environ.get("QR_SIGNING_SECRET", "")
    if qr_secret and (qr_secret.startswith("dev-") or len(qr_secret) < 32):
        problems.append("QR_SIGNING_SECRET must be a random value of at least 32 characters")
    if qr_secret and secret and qr_secret == secret:
        problems.append("QR_SIGNING_SECRET must differ from DJANGO_SECRET_KEY")
    previous = env_list("QR_SIGNING_PREVIOUS_SECRETS", default=[], environ=environ)
    if any(p.startswith("dev-") or len(p) < 32 for p in previous):
        problems.append("QR_SIGNING_PREVIOUS_SECRETS must hold only random values of at least 32 characters")
    if qr_secret and qr_secret in previous:
        problems.append("QR_SIGNING_PREVIOUS_SECRETS must not repeat QR_SIGNING_SECRET")
    if secret and secret in previous:
        problems.append("QR_SIGNING_PREVIOUS_SECRETS must not hold DJANGO_SECRET_KEY")
    engine = settings.get("DATABASES", {}).get("default", {}).get("ENGINE", "")
    if environ.get("DATABASE_URL") and "postgresql" not in engine:
        problems.append("DATABASE_URL must point at PostgreSQL (SQLite is for development only)")
    if "*" in settings.get("ALLOWED_HOSTS", []):
        problems.append("DJANGO_ALLOWED_HOSTS must name the hosts, not '*'")
    stripe_key = environ.get("STRIPE_SECRET_KEY", "")
    if stripe_key and settings.get("STRIPE_API_BASE"):
        problems.append("STRIPE_API_BASE must be empty in production (it points the SDK away from Stripe)")
    frontend = environ.get("FRONTEND_URL", "")
    if frontend and not frontend.startswith("https://"):
        problems.append("FRONTEND_URL must be an https:// URL")
    return problems


def check_production_settings(settings: dict) -> None:
    problems = production_problems(settings)
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start in production: " + "; ".join(problems) + ". See README, Configuration."
        )
