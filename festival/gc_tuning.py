"""The cyclic garbage collector in a serving process (festival/wsgi.py, festival/asgi.py).

Under gate load a web process spent ~0.55 ms of CPU per scan in the collector, most of it in
full collections of ~120 ms each that walked the whole heap (Django's, the app's and the
GraphQL schema's objects, which live as long as the process) while holding the GIL, so every
thread of the process stalled behind them. Frozen, those objects are never walked again:
~0.29 ms per scan, the longest collection ~25 ms (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import gc

from festival.config_check import env_bool


def settle_after_start() -> None:
    """Once the application is loaded, move everything it built into the permanent
    generation (gc.freeze): never walked by a collection again, and never freed, which is
    what it would be anyway. GC_TUNING=false leaves the collector as Python sets it."""
    if not env_bool("GC_TUNING", default=True):
        return
    from django.urls import get_resolver

    import schema.schema  # noqa: F401  (the GraphQL schema, built now rather than on the first request)

    get_resolver().url_patterns  # noqa: B018  (the URLconf and the views it imports)
    gc.collect()
    gc.freeze()
