"""Structured JSON logs carrying the request id, user id and GraphQL operation name."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Read-only default: bind() always sets a new dict, so the default can never be changed by
# one request and seen by the next.
request_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("request_context", default=MappingProxyType({}))


# The signed links of a ticket PDF and a wallet pass are bearer credentials (whoever has one
# downloads the ticket and its QR code until it expires): their token never goes to a log or
# to Sentry. django.request names the path of a failed request.
_SIGNED_LINK = re.compile(r"(/api/(?:downloads|wallet/passes)/)[^/\s?#\"']+")


def redact_signed_links(text: str) -> str:
    return _SIGNED_LINK.sub(r"\1[token]", text)


def bind(**values) -> None:
    """Add values (request_id, user_id, operation) to this request's log context."""
    request_context.set({**request_context.get(), **values})


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in request_context.get().items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    _fields = ("request_id", "user_id", "operation", "transport", "actor", "message_id", "redelivered")

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_signed_links(record.getMessage()),
        }
        for key in self._fields:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = redact_signed_links(self.formatException(record.exc_info))
        return json.dumps(out, default=str)
