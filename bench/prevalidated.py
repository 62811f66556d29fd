"""CPU per scanCommit in-process (Django's test client through the real view, one thread):
the scanner app's registered document, run pre-validated (schema/prevalidated.py), against
the same document with one more space, which takes the general path with every schema
extension. Alternated in small batches so that the machine's noise falls on both alike.
Not a test: prints one JSON line.

    DJANGO_DEBUG=false DATABASE_URL=postgres://postgres@127.0.0.1:5432/festival_perf \
        REDIS_URL=redis://127.0.0.1:6379/10 SCAN_RATE_PER_DEVICE=1000000 SCAN_RATE_PER_STAFF=1000000 \
        .venv/bin/python bench/prevalidated.py [--rounds 40 --batch 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "festival.settings")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--batch", type=int, default=40)
    args = ap.parse_args()

    import django

    django.setup()
    from django.test import Client

    from bench import workloads
    from schema.scanning.documents import SCAN_COMMIT

    warm = 20
    data = workloads.seed_gate(args.rounds * args.batch * 2 + 2 * warm, 1)
    cred = data["scanners"][0]
    codes = iter(data["codes"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {cred['token']}", "HTTP_X_DEVICE_TOKEN": cred["device_token"]}
    client = Client()

    def scanner(document: str):
        def scan():
            variables = {"code": next(codes), "deviceId": cred["device_id"], "nonce": uuid.uuid4().hex}
            body = json.dumps({"query": document, "variables": variables})
            response = client.post("/graphql/", body, content_type="application/json", **headers)
            assert b"ADMITTED" in response.content, response.content[:300]

        return scan

    paths = {"prevalidated": scanner(SCAN_COMMIT), "general": scanner(SCAN_COMMIT + " ")}
    for scan in paths.values():
        for _ in range(warm):
            scan()
    cpu_ms: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(args.rounds):
        order = list(paths.items()) if round_ % 2 else list(reversed(paths.items()))
        for name, scan in order:
            started = time.process_time()
            for _ in range(args.batch):
                scan()
            cpu_ms[name].append((time.process_time() - started) / args.batch * 1000)
    summary = {name: {"median_ms": round(statistics.median(v), 3), "min_ms": round(min(v), 3)} for name, v in cpu_ms.items()}
    summary["saved_median_ms"] = round(summary["general"]["median_ms"] - summary["prevalidated"]["median_ms"], 3)
    summary["ratio_median"] = round(summary["prevalidated"]["median_ms"] / summary["general"]["median_ms"], 3)
    print(json.dumps({"what": "scanCommit CPU per scan in-process", "rounds": args.rounds, "batch": args.batch, **summary}))


if __name__ == "__main__":
    main()
