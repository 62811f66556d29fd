"""Persisted queries, Apollo APQ style: a client may send
`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}, "variables": ...}`
without the query text. A hash is known when the document was sent once with it (stored in
the cache) or is one of our own clients' documents (PERSISTED_DOCUMENTS, registered at import).
An unknown hash answers `PERSISTED_QUERY_NOT_FOUND`; the client then sends query + hash once.
"""

from __future__ import annotations

import hashlib
import re

from django.core.cache import cache

_KNOWN: dict[str, str] = {}
CACHE_PREFIX = "apq:"
CACHE_TTL = 7 * 24 * 3600
MAX_DOCUMENT = 20_000  # characters; the token limit refuses longer ones anyway


_HASH = re.compile(r"[0-9a-f]{64}")


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def is_hash(sha: str) -> bool:
    """A sha256 as APQ clients send it: 64 lowercase hexadecimal characters."""
    return _HASH.fullmatch(sha) is not None


def register(*documents: str) -> None:
    for document in documents:
        _KNOWN[document_hash(document)] = document


def lookup(sha: str) -> str | None:
    document = _KNOWN.get(sha)
    if document is None:
        document = cache.get(CACHE_PREFIX + sha)
        if document is not None and len(_KNOWN) < 1000:
            _KNOWN[sha] = document
    return document


def remember(sha: str, query: str) -> bool:
    """Store query under its hash; False when the hash does not match the text."""
    if len(query) > MAX_DOCUMENT:
        return False
    try:
        if document_hash(query) != sha:
            return False
    except UnicodeEncodeError:  # an unpaired surrogate: no client's document, no UTF-8 either
        return False
    if sha not in _KNOWN:
        cache.set(CACHE_PREFIX + sha, query, CACHE_TTL)
    return True
