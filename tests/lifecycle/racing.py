"""Run callables at the same instant on their own threads (and database connections)."""

from __future__ import annotations

import threading

from django.db import connection

from domains.common.errors import DomainError


def run_together(calls) -> list:
    """Each result is ("ok", value), ("error", domain error code) or ("crash", repr)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = ("ok", fn())
        except DomainError as exc:
            results[i] = ("error", str(exc.code))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = ("crash", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results
