"""Whole-response cache for anonymous public catalogue queries (festival, ticketTypes).

The GraphQL view marks a response cacheable (header MARK, removed before it is sent) when the
request carried no Authorization, the operation is a query whose root fields are all in
CACHEABLE_FIELDS, there were no errors, and the data came from domains/common/readcache.py: the
mark lists the (scope, version) pairs read. `PublicResponseCache` (WSGI, festival/wsgi.py)
keeps such responses in process memory, keyed by the request (method, query string, body,
Origin), and serves one again only while every listed scope still has the same version: one
cache round trip per hit, no Django middleware, no GraphQL execution. A write anywhere bumps a
version (readcache.changed) and every process recomputes on its next request; entries also
expire with PUBLIC_READ_CACHE_SECONDS. As in readcache, a response whose data is younger than
PUBLIC_READ_MAX_STALE_MS is still served after a change, and so is the previous one while one
thread of the process recomputes it: a stream of writes costs one recomputation per interval.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid

from django.conf import settings

from domains.common import readcache
from domains.common.clock import now

MARK = "X-Public-Cache"
ENVIRON_FLAG = "festival.public_response_cache"  # set by the middleware: the view may mark
CACHEABLE_FIELDS = frozenset({"festival", "ticketTypes", "__typename"})
MAX_BODY = 8192
MAX_ENTRIES = 512
# key -> (versions, valid until, status, headers, body, when its oldest data was computed)
_store: dict[tuple, tuple[dict[str, str], dt.datetime, str, list, bytes, dt.datetime]] = {}
_lock = threading.Lock()


_TIMES = (readcache.UNTIL, readcache.COMPUTED)


def mark_value(seen: dict) -> str:
    """scope=version,...,@until=<epoch seconds>,@computed=<epoch seconds> (readcache.seen())."""
    parts = [f"{scope}={version}" for scope, version in sorted(seen.items()) if scope not in _TIMES]
    for name in _TIMES:
        if seen.get(name) is not None:
            parts.append(f"{name}={seen[name].timestamp():.3f}")
    return ",".join(parts)


def _parse_mark(value: str) -> tuple[dict[str, str], dt.datetime | None, dt.datetime | None]:
    pairs = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    until, computed = (pairs.pop(name, None) for name in _TIMES)
    return pairs, *(dt.datetime.fromtimestamp(float(t), tz=dt.UTC) if t else None for t in (until, computed))


def is_cacheable_document(document, operation_name: str | None) -> bool:
    """A query (not a mutation/subscription) whose root fields are all public catalogue fields."""
    from graphql.language import FieldNode, OperationDefinitionNode

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation.value != "query":
        return False
    if len(operations) != len(document.definitions):  # fragments: keep it simple, do not cache
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_FIELDS and not s.directives for s in selections)


class PublicResponseCache:
    """WSGI middleware serving marked responses from memory (see the module docstring)."""

    def __init__(self, app, path: str = "/graphql/"):
        self.app = app
        self.path = path

    def _key(self, environ) -> tuple | None:
        if environ.get("PATH_INFO") != self.path or environ.get("HTTP_AUTHORIZATION"):
            return None
        if not getattr(settings, "PUBLIC_READ_CACHE_SECONDS", 0):
            return None
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            if environ.get("CONTENT_TYPE") != "application/json":
                return None
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return None
            if not 0 < length <= MAX_BODY:
                return None
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        elif method == "GET":
            if "text/html" in environ.get("HTTP_ACCEPT", ""):
                return None
            body = b""
        else:
            return None
        return (method, environ.get("QUERY_STRING", ""), body, environ.get("HTTP_ORIGIN", ""))

    def __call__(self, environ, start_response):
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        environ[ENVIRON_FLAG] = True
        entry = _store.get(key)
        claimed = False
        if entry is not None:
            versions, until, status, headers, body, computed = entry
            at = now()
            if until > at:
                if readcache.versions(list(versions)) == versions:
                    serve = True
                else:
                    max_stale = getattr(settings, "PUBLIC_READ_MAX_STALE_MS", 0)
                    serve, claimed = readcache.after_change(("response", *key), computed, at, max_stale)
                if serve:
                    request_id = environ.get("HTTP_X_REQUEST_ID", "")
                    request_id = request_id if request_id.isalnum() and len(request_id) <= 64 else uuid.uuid4().hex
                    start_response(status, [*headers, ("X-Request-Id", request_id)])
                    return [body]
        try:
            return self._recompute(key, environ, start_response)
        finally:
            if claimed:
                readcache.release(("response", *key))

    def _recompute(self, key, environ, start_response):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["mark"] = next((v for k, v in headers if k == MARK), None)
            kept = [(k, v) for k, v in headers if k != MARK]
            captured["status"], captured["headers"] = status, kept
            return start_response(status, kept, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        mark = captured.get("mark")
        if mark and captured["status"].startswith("200"):
            headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("x-request-id", "set-cookie")]
            versions, until, computed = _parse_mark(mark)
            at = now()
            latest = at + dt.timedelta(seconds=settings.PUBLIC_READ_CACHE_SECONDS)
            until = min(until, latest) if until else latest
            if versions:
                with _lock:
                    if len(_store) >= MAX_ENTRIES:
                        _store.clear()
                    _store[key] = (versions, until, captured["status"], headers, body, computed or at)
        return [body]


def clear() -> None:
    with _lock:
        _store.clear()
