"""Domain errors -> payload errors. One `Error` type, one `ErrorCode` enum for all areas.

To add an area's codes, append its StrEnum to CODE_ENUMS. Code values are unique across
areas (a test checks); the enum is built from them so a rule's code has one name from the
domain to the client.
"""

from __future__ import annotations

import functools
import logging
from enum import Enum

import strawberry
from django.db import DatabaseError, OperationalError
from strawberry.exceptions import StrawberryGraphQLError

from domains.accounts.errors import AccountErrorCode
from domains.common.errors import CommonErrorCode, DomainError
from domains.events.errors import EventErrorCode
from domains.orders.errors import OrderErrorCode
from domains.orders.staff_errors import StaffOrderErrorCode
from domains.scanning.errors import ScanningErrorCode
from domains.tickets.errors import TicketErrorCode
from domains.transfers.errors import TransferErrorCode
from domains.upgrades.errors import UpgradeErrorCode
from domains.vendors.errors import VendorErrorCode
from domains.wallet.errors import WalletErrorCode

log = logging.getLogger(__name__)

CODE_ENUMS: list[type[Enum]] = [CommonErrorCode, AccountErrorCode, EventErrorCode, TicketErrorCode, OrderErrorCode, ScanningErrorCode, WalletErrorCode, VendorErrorCode, TransferErrorCode, UpgradeErrorCode, StaffOrderErrorCode]


def _merge(enums: list[type[Enum]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for enum in enums:
        for member in enum:
            if merged.get(member.name, member.value) != member.value:
                raise RuntimeError(f"error code {member.name} declared twice with different values")
            merged[member.name] = member.value
    return merged


ErrorCode = strawberry.enum(
    Enum("ErrorCode", _merge(CODE_ENUMS)),
    description="Stable machine-readable error codes. New codes may be added; none is renamed.",
)


@strawberry.type(description="An expected failure of a mutation. Nothing was changed.")
class Error:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input path at fault, or null.")
    retry_after: int | None = strawberry.field(default=None, description="Seconds to wait before trying again.")


def graphql_error_from(exc: DomainError) -> StrawberryGraphQLError:
    """A field without a payload (a query, a subscription) reports an expected failure as a
    GraphQL error carrying its code."""
    return StrawberryGraphQLError(str(exc), extensions={"code": exc.code.value, "field": exc.details[0].field})


def errors_from(exc: DomainError) -> list[Error]:
    return [
        Error(code=ErrorCode(d.code.value), message=d.message, field=d.field, retry_after=exc.retry_after)
        for d in exc.details
    ]


def _is_lock_timeout(exc: Exception) -> bool:
    cause = getattr(exc, "__cause__", None)
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate in ("55P03", "40001", "40P01") or "database is locked" in str(exc)


def _set_retry_after(args, kwargs, seconds: int | None) -> None:
    """HTTP clients and proxies read Retry-After; the payload's retryAfter says the same."""
    if seconds is None:
        return
    from schema.ratelimits import find_info

    info = find_info(args, kwargs)
    response = getattr(getattr(info, "context", None), "response", None) if info is not None else None
    if response is not None:  # WebSocket operations have no HTTP response
        response["Retry-After"] = str(int(seconds))


def payload_errors(payload_cls):
    """Decorate a mutation resolver: a DomainError becomes `payload_cls(errors=[...])`.

    A lock wait that ran out (PostgreSQL lock_timeout, serialization failure, SQLite busy)
    becomes RETRY_LATER: the transaction rolled back, so the client may simply retry.
    """

    def decorate(resolver):
        @functools.wraps(resolver)
        def wrapper(*args, **kwargs):
            try:
                return resolver(*args, **kwargs)
            except DomainError as exc:
                _set_retry_after(args, kwargs, exc.retry_after)
                return payload_cls(errors=errors_from(exc))
            except (OperationalError, DatabaseError) as exc:
                if not _is_lock_timeout(exc):
                    raise
                log.warning("lock wait ended", exc_info=True)
                _set_retry_after(args, kwargs, 1)
                return payload_cls(
                    errors=[
                        Error(
                            code=ErrorCode("RETRY_LATER"),
                            message="Busy right now; please try again.",
                            field=None,
                            retry_after=1,
                        )
                    ]
                )

        return wrapper

    return decorate
