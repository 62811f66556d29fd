"""Run a real localstripe server as a subprocess, for tests and the development runner.

Rules:
* by default we run localstripe's app through ``domains/payments/localstripe_main.py``, not
  its console script: the stock server pickles its whole store to disk twice per write, so
  its CPU per PaymentIntent grew from 1.2 ms to 9 ms over a 2,500-create sale (see that
  module); ours keeps the store in memory only and logs no line per request (``access_log``);
* always ``--from-scratch``: localstripe otherwise reloads ``/tmp/localstripe.pickle``, a
  fixed path shared by every localstripe on the machine (it rewrites it after each write);
* its output goes to a temporary file, never a pipe: it logs every request, and a pipe
  nobody reads fills up and freezes the server;
* start-up is bounded: we poll until it answers HTTP, and fail with its log if it exits or
  does not answer in time;
* stop is bounded too: SIGTERM, then SIGKILL.

localstripe listens on ``::`` (IPv6, dual stack), so ``127.0.0.1`` reaches it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

# Talk to the local server directly, even when HTTP(S)_PROXY is set in the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalStripeError(RuntimeError):
    """localstripe could not be started or configured."""


def free_port() -> int:
    """A TCP port free on the wildcard address localstripe binds to (``::``, or 0.0.0.0).

    Another process may take it before localstripe binds; ``LocalStripe.start`` retries.
    """
    for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((address, 0))
                return sock.getsockname()[1]
        except OSError:
            continue
    raise LocalStripeError("no free TCP port")


def default_executable() -> Path:
    """The ``localstripe`` console script of the running interpreter's environment."""
    return Path(sys.executable).parent / "localstripe"


#: The project root, from which ``python -m domains.payments.localstripe_main`` runs.
_ROOT = Path(__file__).resolve().parent.parent.parent


class LocalStripe:
    """A localstripe subprocess; use as a context manager or call start() / stop()."""

    def __init__(
        self,
        port: int | None = None,
        *,
        executable: Path | str | None = None,
        startup_timeout: float = 20.0,
        host: str = "127.0.0.1",
        access_log: bool = False,
    ):
        """``executable``: a ``localstripe`` console script to run as it is (the stock server,
        with its per-write pickling); by default our entry point runs localstripe's app.
        ``access_log``: print one line per request (webhook deliveries are always printed)."""
        self.requested_port = port
        self.port: int | None = None
        self.host = host
        self.executable = Path(executable) if executable else None
        self.access_log = access_log
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def api_base(self) -> str:
        if self.port is None:
            raise LocalStripeError("localstripe is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalStripe:
        if self.process is not None:
            raise LocalStripeError("localstripe is already started")
        if self.executable is not None and not self.executable.exists():
            raise LocalStripeError(f"localstripe executable not found: {self.executable}")
        if self.executable is None and importlib.util.find_spec("localstripe") is None:
            raise LocalStripeError(f"localstripe is not installed for {sys.executable}")
        # A picked port can be stolen before localstripe binds it: try a few.
        attempts = 1 if self.requested_port else 3
        last_error: LocalStripeError | None = None
        for _ in range(attempts):
            try:
                self._start_once(self.requested_port or free_port())
                return self
            except LocalStripeError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _start_once(self, port: int) -> None:
        self.port = port
        self._log = tempfile.TemporaryFile(prefix="localstripe-")
        if self.executable is not None:
            command = [str(self.executable), "--port", str(port), "--from-scratch"]
        else:
            command = [sys.executable, "-m", "domains.payments.localstripe_main", "--port", str(port)]
            if self.access_log:
                command.append("--access-log")
        self.process = subprocess.Popen(
            command,
            cwd=_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalStripeError(f"localstripe exited with code {self.process.returncode}:\n{self.read_log()}")
            if self._answers():
                return
            time.sleep(0.05)
        raise LocalStripeError(
            f"localstripe did not answer on port {port} within {self.startup_timeout:.0f}s:\n{self.read_log()}"
        )

    def _answers(self) -> bool:
        # Any HTTP status (401 without a key) proves the server is serving.
        try:
            with _opener.open(self.api_base + "/v1/balance", timeout=0.5):
                return True
        except urllib.error.HTTPError as exc:
            exc.close()
            return True
        except OSError:
            return False

    def read_log(self) -> str:
        """Everything localstripe has printed so far (requests, webhook deliveries, errors)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(0, 2)
        return text

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate (then kill) the process; safe to call twice."""
        process, self.process = self.process, None
        self.port = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- configuration

    def register_webhook(self, webhook_id: str, url: str, secret: str, events: list[str] | None = None) -> None:
        """Send events (all of them when ``events`` is None) to ``url``, signed with ``secret``.

        Registering the same id again replaces it. Registrations survive ``reset()``.
        """
        body: dict[str, object] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = list(events)  # localstripe refuses anything but a list
        self._config("POST", f"/_config/webhooks/{webhook_id}", body)

    def reset(self) -> None:
        """Forget every object (PaymentIntents, charges, events, ...)."""
        self._config("DELETE", "/_config/data", None)

    def _config(self, method: str, path: str, body: dict | None) -> None:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            self.api_base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with _opener.open(request, timeout=5) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise LocalStripeError(f"{method} {path} answered {exc.code}: {exc.read()!r}") from exc
        except OSError as exc:
            raise LocalStripeError(f"{method} {path} failed: {exc}") from exc
