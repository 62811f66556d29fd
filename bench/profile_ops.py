"""Profile one GraphQL operation in-process (Django test client through the real view).

    DATABASE_URL=postgres://.../festival_perf REDIS_URL=redis://127.0.0.1:6379/10 \
        .venv/bin/python bench/profile_ops.py scan|read|checkout [--n 300] [--html out.html]

Prints SQL queries per operation (CaptureQueriesContext), the mean time per call, and a
pyinstrument text profile of N calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("op", choices=["scan", "read", "checkout"])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--html")
    args = ap.parse_args()

    import django

    django.setup()
    from django.test import Client

    from bench import workloads

    client = Client()
    call = workloads.inprocess_operation(args.op, client, n=args.n + 5)
    counts = workloads.count_queries(call)
    print("queries per call:", counts)
    for _ in range(3):
        call()
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    profiler.start()
    for _ in range(args.n):
        call()
    profiler.stop()
    elapsed = time.perf_counter() - started
    print(f"{args.n} calls, {elapsed / args.n * 1000:.2f} ms per call (profiled)")
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())


if __name__ == "__main__":
    main()
