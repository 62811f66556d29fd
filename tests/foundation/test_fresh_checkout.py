"""A fresh clone has no var/ (git ignores it): the embedded defaults must still start there."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings


def test_migrate_on_the_embedded_defaults_creates_var(tmp_path):
    var = tmp_path / "var"
    assert not var.exists()
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=settings.BASE_DIR,
        capture_output=True, text=True, timeout=300,
        # No DATABASE_URL, REDIS_URL or DJANGO_ENVIRONMENT: what a newcomer's shell has.
        env={"PATH": "/usr/bin:/bin", "FESTIVAL_VAR_DIR": str(var)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (var / "festival.sqlite3").stat().st_size > 0
