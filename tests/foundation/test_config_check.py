"""Production refuses to start on missing or unsafe settings and names every problem at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings

from festival.config_check import REQUIRED_IN_PRODUCTION, production_problems

GOOD_ENV = {
    "DJANGO_SECRET_KEY": "k" * 30 + "Zx9!" * 10,
    "DJANGO_ALLOWED_HOSTS": "api.festival.example",
    "DATABASE_URL": "postgres://festival@db:5432/festival",
    "REDIS_URL": "redis://redis:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SENDGRID_API_KEY": "SG.x",
    "QR_SIGNING_SECRET": "q" * 40,
    "FRONTEND_URL": "https://festival.example",
}
GOOD_SETTINGS = {
    "DEBUG": False,
    "DEV_SECRET_KEY": "dev-insecure-secret-key-change-me",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql"}},
    "ALLOWED_HOSTS": ["api.festival.example"],
    "STRIPE_API_BASE": "",
}


def test_a_good_configuration_has_no_problems():
    assert production_problems(GOOD_SETTINGS, GOOD_ENV) == []


def test_every_missing_variable_is_named():
    problems = production_problems(GOOD_SETTINGS, {})
    assert problems == [f"{name} is not set" for name in REQUIRED_IN_PRODUCTION]
    assert set(REQUIRED_IN_PRODUCTION) >= {
        "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET", "SENDGRID_API_KEY", "QR_SIGNING_SECRET", "FRONTEND_URL",
    }


def test_blank_values_count_as_missing():
    problems = production_problems(GOOD_SETTINGS, {**GOOD_ENV, "REDIS_URL": "  ", "SENDGRID_API_KEY": ""})
    assert problems == ["REDIS_URL is not set", "SENDGRID_API_KEY is not set"]


def test_every_unsafe_value_is_named_at_once():
    unsafe_settings = {
        **GOOD_SETTINGS, "DEBUG": True, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3"}},
        "ALLOWED_HOSTS": ["*"], "STRIPE_API_BASE": "http://127.0.0.1:8420",
    }
    env = {
        **GOOD_ENV, "DJANGO_SECRET_KEY": "short", "QR_SIGNING_SECRET": "dev-insecure-qr-secret",
        "DATABASE_URL": "sqlite:///db.sqlite3", "FRONTEND_URL": "http://festival.example",
    }
    problems = " | ".join(production_problems(unsafe_settings, env))
    for fragment in (
        "DJANGO_DEBUG must be false", "DJANGO_SECRET_KEY must be a random value", "QR_SIGNING_SECRET must be a random value",
        "DATABASE_URL must point at PostgreSQL", "DJANGO_ALLOWED_HOSTS must name the hosts", "STRIPE_API_BASE must be empty",
        "FRONTEND_URL must be an https:// URL",
    ):
        assert fragment in problems


def test_the_development_secret_is_refused_however_long():
    env = {**GOOD_ENV, "DJANGO_SECRET_KEY": GOOD_SETTINGS["DEV_SECRET_KEY"]}
    assert any("DJANGO_SECRET_KEY" in p for p in production_problems(GOOD_SETTINGS, env))
    same = {**GOOD_ENV, "QR_SIGNING_SECRET": GOOD_ENV["DJANGO_SECRET_KEY"]}
    assert "QR_SIGNING_SECRET must differ from DJANGO_SECRET_KEY" in production_problems(GOOD_SETTINGS, same)


def run_production(env: dict) -> subprocess.CompletedProcess:
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'festival.settings'); django.setup(); print('started')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DJANGO_ENVIRONMENT": "production", **env},
    )


def test_production_with_nothing_set_refuses_to_start_naming_every_variable():
    result = run_production({})
    assert result.returncode != 0 and "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: Refusing to start in production")
    for name in REQUIRED_IN_PRODUCTION:
        assert f"{name} is not set" in last_line, last_line


def test_production_with_a_good_environment_starts():
    result = run_production({**GOOD_ENV, "DATABASE_URL": "postgres://festival@127.0.0.1:1/festival"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "started" in result.stdout


def test_scan_statements_are_prepared_by_default_only_with_djangos_pool(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from festival.config_check import prepare_threshold

    monkeypatch.delenv("DB_PREPARE_THRESHOLD", raising=False)
    assert prepare_threshold(pooled=True) == 5
    assert prepare_threshold(pooled=False) is None  # an external pooler may share the server connection
    monkeypatch.setenv("DB_PREPARE_THRESHOLD", "off")
    assert prepare_threshold(pooled=True) is None
    monkeypatch.setenv("DB_PREPARE_THRESHOLD", "2")
    assert prepare_threshold(pooled=False) == 2  # PgBouncer >= 1.21 with max_prepared_statements
    for bad in ("-1", "soon"):
        monkeypatch.setenv("DB_PREPARE_THRESHOLD", bad)
        with pytest.raises(ImproperlyConfigured, match="DB_PREPARE_THRESHOLD"):
            prepare_threshold(pooled=True)


def test_previous_qr_secrets_are_checked_like_the_current_one():
    good = {**GOOD_ENV, "QR_SIGNING_PREVIOUS_SECRETS": "p" * 40 + ", " + "r" * 40}
    assert production_problems(GOOD_SETTINGS, good) == []
    for value, fragment in (
        ("dev-insecure-qr-secret", "QR_SIGNING_PREVIOUS_SECRETS must hold only random values"),
        ("p" * 40 + ",short", "QR_SIGNING_PREVIOUS_SECRETS must hold only random values"),
        (GOOD_ENV["QR_SIGNING_SECRET"], "QR_SIGNING_PREVIOUS_SECRETS must not repeat QR_SIGNING_SECRET"),
        (GOOD_ENV["DJANGO_SECRET_KEY"], "QR_SIGNING_PREVIOUS_SECRETS must not hold DJANGO_SECRET_KEY"),
    ):
        assert fragment in " | ".join(production_problems(GOOD_SETTINGS, {**GOOD_ENV, "QR_SIGNING_PREVIOUS_SECRETS": value}))
