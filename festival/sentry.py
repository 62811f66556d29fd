"""Sentry, when SENTRY_DSN is set: Django and Dramatiq integrations, no personal data.

`send_default_pii=False` keeps cookies, user addresses and bodies out; `scrub_event` also
removes Authorization/Cookie/X-Device-Token headers, the query string (a GraphQL GET carries
its document and variables there: a staff search by email, a mistyped login), any GraphQL
variable (or other key) whose name says it is a password or a token, and the token of a
signed download or wallet-pass link, wherever it appears in the event.
"""

from __future__ import annotations

import re

from festival.logging import redact_signed_links

SECRET_KEYS = re.compile(r"(password|token|secret|authorization|cookie|qr|signature|clientsecret)", re.IGNORECASE)
SECRET_HEADERS = {"authorization", "cookie", "x-device-token", "stripe-signature", "x-api-key"}
FILTERED = "[Filtered]"


def _scrub(value, depth: int = 0, *, secret_keys: bool = True):
    """`value` with signed links' tokens redacted in every string and, with `secret_keys`, the
    values of keys that name a secret filtered."""
    if depth > 30:
        return value
    if isinstance(value, str):
        return redact_signed_links(value)
    if isinstance(value, dict):
        return {
            k: FILTERED if secret_keys and isinstance(k, str) and SECRET_KEYS.search(k) else _scrub(v, depth + 1, secret_keys=secret_keys)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, depth + 1, secret_keys=secret_keys) for v in value)
    return value


def scrub_event(event, hint=None):
    request = event.get("request") or {}
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
    elif isinstance(headers, list):
        request["headers"] = [pair for pair in headers if str(pair[0]).lower() not in SECRET_HEADERS]
    request.pop("cookies", None)
    if request.get("query_string"):
        request["query_string"] = FILTERED
    if "data" in request:
        data = request["data"]
        if isinstance(data, str):  # a raw body: drop it, it may hold GraphQL variables
            request["data"] = FILTERED
        else:
            request["data"] = _scrub(data)
    if request:
        event["request"] = request
    for key in ("extra", "contexts"):
        if key in event:
            event[key] = _scrub(event[key])
    for breadcrumb in (event.get("breadcrumbs") or {}).get("values", []) if isinstance(event.get("breadcrumbs"), dict) else []:
        if "data" in breadcrumb:
            breadcrumb["data"] = _scrub(breadcrumb["data"])
    event.pop("user", None)
    return _scrub(event, secret_keys=False)  # links anywhere: messages, exception values, frames


def init_sentry(dsn: str, *, environment: str = "", traces_sample_rate: float = 0.0, transport=None):
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.strawberry import StrawberryIntegration

    options = dict(
        dsn=dsn,
        environment=environment or None,
        send_default_pii=False,
        max_request_body_size="never",  # GraphQL bodies carry passwords and tokens as variables
        include_local_variables=False,  # frames' locals would too
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        integrations=[DjangoIntegration(), DramatiqIntegration(), LoggingIntegration()],
        default_integrations=True,
        # Strawberry's integration reports errors after MaskErrors replaced them ("Internal
        # server error."). festival.graphql logs the original exception with its traceback at
        # ERROR, which the logging integration sends; refusals are INFO, breadcrumbs only
        # (schema/extensions.py `log_errors`).
        disabled_integrations=[StrawberryIntegration()],
    )
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return sentry_sdk.get_client()
