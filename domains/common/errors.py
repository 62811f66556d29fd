"""The one application error hierarchy. The GraphQL edge maps it to payload errors.

Each area declares its codes as a `StrEnum` in `domains/<area>/errors.py`; the schema
exposes the union of all of them as the `ErrorCode` enum (schema/errors.py). Codes are a
contract with clients: add new ones, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CommonErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RATE_LIMITED = "RATE_LIMITED"
    # A lock or the database was busy; the same request may simply be sent again.
    RETRY_LATER = "RETRY_LATER"


@dataclass(frozen=True)
class ErrorDetail:
    code: StrEnum
    message: str
    field: str | None = None


class DomainError(Exception):
    """An expected failure: the client gets it as a typed payload error, nothing is written."""

    def __init__(self, code: StrEnum, message: str, field: str | None = None, *, retry_after: int | None = None):
        super().__init__(message)
        self.details = [ErrorDetail(code, message, field)]
        self.retry_after = retry_after

    @classmethod
    def many(cls, details: list[ErrorDetail]) -> DomainError:
        err = cls(details[0].code, details[0].message, details[0].field)
        err.details = list(details)
        return err

    @property
    def code(self) -> StrEnum:
        return self.details[0].code


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = None):
        super().__init__(CommonErrorCode.NOT_FOUND, f"{what} not found.", field)


class RateLimited(DomainError):
    def __init__(self, retry_after: int, message: str = "Too many attempts; try again later."):
        super().__init__(CommonErrorCode.RATE_LIMITED, message, None, retry_after=retry_after)
