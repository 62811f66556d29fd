"""A serving process freezes what it built at start (festival/gc_tuning.py), so that full
collections no longer walk Django's, the app's and the schema's objects; GC_TUNING=false
leaves the collector alone. Each case loads the real entry point in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import gc, importlib, json
importlib.import_module({module!r})
from schema.schema import schema
collectable = gc.get_objects()  # generations 0-2: what a full collection walks
print(json.dumps({{
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "schema_walked": any(o is schema for o in collectable),
}}))
"""


def _load(module: str, **env) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], env={**os.environ, **env},
        capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["festival.wsgi", "festival.asgi"])
def test_a_serving_process_freezes_what_it_built_at_start(module):
    tuned = _load(module)
    assert tuned["frozen"] > 100_000  # Django, the app and the GraphQL schema
    assert not tuned["schema_walked"]
    assert tuned["threshold"] == [700, 10, 10]  # Python's own thresholds are kept

    untouched = _load(module, GC_TUNING="false")
    assert untouched["frozen"] == 0
    assert untouched["schema_walked"]
