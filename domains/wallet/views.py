"""HTTP endpoints of the wallet: the signed .pkpass download and Apple's PassKit web service.

Thin: parse the request, call domains/wallet/passkit.py or render.py, shape the response.
CSRF does not apply (no cookie authority: a signed URL, or the pass's own token).
"""

from __future__ import annotations

import json
import logging

from django.http import HttpResponse, JsonResponse
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from domains.common.errors import DomainError
from domains.common.ratelimit import hit
from domains.common.signing import verify_download
from domains.wallet import passkit, render
from domains.wallet.selectors import wallet_pass_for_download

log = logging.getLogger(__name__)

PKPASS_TYPE = "application/vnd.apple.pkpass"
DOWNLOAD_KIND = "pkpass"


def _pkpass_response(wallet_pass) -> HttpResponse:
    try:
        data = render.apple_pkpass(wallet_pass)
    except DomainError:  # credentials removed since the pass was issued
        return HttpResponse(status=503)
    response = HttpResponse(data, content_type=PKPASS_TYPE)
    response["Content-Disposition"] = f'attachment; filename="ticket-{wallet_pass.serial_number[:12]}.pkpass"'
    response["Last-Modified"] = http_date(wallet_pass.last_updated.timestamp())
    # The bundle holds the ticket's code: no shared cache may keep it.
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET"])
def pkpass_download(request, token: str):
    """GET /api/wallet/passes/<signed token>.pkpass: the pass named by a signed, expiring token."""
    verified = verify_download(token)
    if verified is None or verified[0] != DOWNLOAD_KIND:
        return HttpResponse(status=404)
    wallet_pass = wallet_pass_for_download(public_id=verified[1])
    if wallet_pass is None:
        return HttpResponse(status=404)
    return _pkpass_response(wallet_pass)


def _apple_token(request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme == "ApplePass" and token.strip() else None


def _json_body(request):
    """The request body as JSON ({} when empty); InvalidRequest (400) when it cannot be read.

    RecursionError too: a body nested ~1000 deep exhausts the parser's stack, and that is the
    client's bad input, not our failure (it would otherwise be a 500).
    """
    try:
        return json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # ValueError: not JSON, or not UTF-8
        raise passkit.InvalidRequest("the body is not JSON") from None


def _client_ip(request) -> str | None:
    from schema.context import client_ip  # the one place that knows about trusted proxies

    ip = client_ip(request)
    return None if ip == "unknown" else ip


@csrf_exempt
@require_http_methods(["POST", "DELETE"])
def passkit_registration(request, device_id: str, pass_type_id: str, serial: str):
    """POST registers the device for the pass (201 new, 200 known), DELETE unregisters (200)."""
    wallet_pass = passkit.authorised_pass(pass_type_identifier=pass_type_id, serial_number=serial,
                                          token=_apple_token(request))
    if wallet_pass is None:
        return HttpResponse(status=401)
    if request.method == "DELETE":
        try:
            passkit.device_unregister(wallet_pass=wallet_pass, device_library_identifier=device_id)
        except passkit.InvalidRequest:
            return HttpResponse(status=400)
        return HttpResponse(status=200)
    try:
        body = _json_body(request)
        created = passkit.device_register(wallet_pass=wallet_pass, device_library_identifier=device_id,
                                          push_token=body.get("pushToken") if isinstance(body, dict) else None)
    except (ValueError, passkit.InvalidRequest):
        return HttpResponse(status=400)
    return HttpResponse(status=201 if created else 200)


@require_http_methods(["GET"])
def passkit_serials(request, device_id: str, pass_type_id: str):
    """GET ?passesUpdatedSince=<tag>: serials of this device's passes updated since; 204 if none."""
    try:
        found = passkit.serials_updated_since(device_library_identifier=device_id, pass_type_identifier=pass_type_id,
                                              since=request.GET.get("passesUpdatedSince"))
    except passkit.InvalidRequest:
        return HttpResponse(status=400)
    if found is None:
        return HttpResponse(status=204)
    serials, tag = found
    return JsonResponse({"serialNumbers": serials, "lastUpdated": tag})


@require_http_methods(["GET"])
def passkit_latest_pass(request, pass_type_id: str, serial: str):
    """GET the pass as it is now; 304 when unchanged since If-Modified-Since."""
    wallet_pass = passkit.authorised_pass(pass_type_identifier=pass_type_id, serial_number=serial,
                                          token=_apple_token(request))
    if wallet_pass is None:
        return HttpResponse(status=401)
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if since is not None and int(wallet_pass.last_updated.timestamp()) <= since:
        response = HttpResponse(status=304)
        response["Last-Modified"] = http_date(wallet_pass.last_updated.timestamp())
        return response
    return _pkpass_response(wallet_pass)


@csrf_exempt
@require_http_methods(["POST"])
def passkit_log(request):
    """POST {"logs": [...]}: what Wallet on a device says went wrong with our service."""
    ip = _client_ip(request)
    if not hit(f"wallet-passkit-log:{ip}", limit=60, window=3600).allowed:
        return HttpResponse(status=429)
    try:
        body = _json_body(request)
        lines = passkit.log_messages(messages=body.get("logs", []) if isinstance(body, dict) else None, client_ip=ip)
    except (ValueError, passkit.InvalidRequest):
        return HttpResponse(status=400)
    for line in lines:  # as stored: no NUL or lone surrogate for a log handler to choke on either
        log.warning("wallet: PassKit device log: %s", line[:500])
    return HttpResponse(status=200)
