"""Entry point that runs localstripe's own aiohttp app the way we need it (``LocalStripe`` starts it).

    python -m domains.payments.localstripe_main --port PORT [--access-log]

Why not the ``localstripe`` console script: measured with 500 simultaneous PaymentIntent
creates per burst (bench/run_all.py, ``localstripe_alone``), the stock server's CPU per create
grows with the number of objects it stores (1.2 ms with an empty store, 9 ms after 2,000
PaymentIntents), so every burst is slower than the one before. The cause is its persistence:
``Store.__setitem__`` and a middleware after every POST both pickle the WHOLE store to
``/tmp/localstripe.pickle``, synchronously, inside the single-threaded event loop (two full
dumps per create: O(objects) per write, O(n^2) over a sale). We always start from scratch and
never reload that file (it is shared by every localstripe on the machine, see
domains/payments/gateway.py), so the dump is pure cost: here it is a no-op, and a create
costs ~0.45 ms of CPU however many objects exist.

Everything else is localstripe's unchanged code (its installed files are not touched): the
same routes, objects, webhooks (still sent ~1 s after the call from a background task, never
inside the API request). The per-request access log is off unless asked for; webhook
delivery lines are still printed.
"""

from __future__ import annotations

import argparse
import logging
import socket


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localstripe_main")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--access-log", action="store_true", help="print one line per request")
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    # No persistence: nothing is ever reloaded (we never read the pickle file back).
    resources.Store.dump_to_disk = lambda self: None

    # Webhook deliveries are logged on this logger at INFO (localstripe's webhooks.py).
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler())

    # Listen on both IPv4 and IPv6, as localstripe's own start() does.
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", args.port))
    web.run_app(server.app, sock=sock, access_log=logger if args.access_log else None, backlog=1024)


if __name__ == "__main__":
    main()
