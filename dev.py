#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing but Python 3.11 installed:

    python3 dev.py serve   # install, migrate, load demo data, run the server (SQLite,
                           # in-process job worker, local Stripe) on http://127.0.0.1:8000/graphql/
    python3 dev.py test    # install and run the test suite (SQLite unless DATABASE_URL is set)

Both create .venv/ and install the pinned requirements on first use (and again when the
requirements files change). Extra arguments go to pytest (`dev.py test -k scan`) or to the
server (`dev.py serve --port 9000`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]


def ensure_venv() -> None:
    if sys.version_info[:2] != (3, 11):
        print(f"warning: tested with Python 3.11, this is {sys.version.split()[0]}", file=sys.stderr)
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in REQUIREMENTS)).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("installing pinned requirements ...", flush=True)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(ROOT / "requirements-dev.txt")],
        check=True,
    )
    stamp.write_text(digest)


def run(args: list[str], env: dict | None = None) -> int:
    return subprocess.call([str(PY), *args], cwd=ROOT, env={**os.environ, **(env or {})})


def serve(extra: list[str]) -> int:
    for step in (["manage.py", "migrate", "--noinput", "-v", "0"], ["manage.py", "seed_demo"]):
        code = run(step)
        if code:
            return code
    return run(["manage.py", "serve", *extra])


def test(extra: list[str]) -> int:
    args = ["-m", "pytest"]
    if not any(a.startswith("-n") for a in extra):
        args += ["-n", os.environ.get("TEST_WORKERS", "2")]
    return run([*args, *extra])


def main() -> int:
    command, extra = (sys.argv[1] if len(sys.argv) > 1 else "help"), sys.argv[2:]
    if command not in ("serve", "test"):
        print(__doc__)
        return 2
    ensure_venv()
    return serve(extra) if command == "serve" else test(extra)


if __name__ == "__main__":
    sys.exit(main())
