"""The answers to errors Django raises before or around a view (festival/urls.py handler400,
handler403, handler404, handler500): JSON like the rest of the REST shim (`{"error": ...}`),
never an HTML page, and a body over MAX_BODY_SIZE is a 413, as /graphql/ answers it, not a
400. The admin keeps Django's pages."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults


def _admin(request) -> bool:
    return request.path.startswith("/admin/")


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"error": "request body too large"}, status=413)
    if _admin(request):
        return defaults.bad_request(request, exception)
    return JsonResponse({"error": "bad request"}, status=400)


def permission_denied(request, exception=None):
    if _admin(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"error": "forbidden"}, status=403)


def page_not_found(request, exception=None):
    if _admin(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"error": "not found"}, status=404)


def server_error(request):
    if _admin(request):
        return defaults.server_error(request)
    return JsonResponse({"error": "internal error"}, status=500)
