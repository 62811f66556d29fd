"""The /graphql/ HTTP view (sync: the same code runs under WSGI and under ASGI)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView
from cross_web import HTTPException

from schema.context import FestivalContext


# CSRF protects cookie authority; this endpoint honours only the Authorization header
# (a browser never adds it by itself), so a cross-site form cannot act as anyone.
@method_decorator(csrf_exempt, name="dispatch")
class FestivalGraphQLView(GraphQLView):
    allow_queries_via_get = True  # queries only: strawberry refuses mutations over GET

    def get_context(self, request, response) -> FestivalContext:
        return FestivalContext(request=request, response=response)

    def should_render_graphql_ide(self, request) -> bool:
        # Read per request, so that the setting (and tests overriding it) decide.
        return settings.GRAPHQL_GRAPHIQL and super().should_render_graphql_ide(request)

    def decode_json(self, data):
        try:
            decoded = super().decode_json(data)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(decoded, (dict, list)):  # lists are refused as batches later
            raise HTTPException(400, "The request body must be a JSON object.")
        return decoded

    def dispatch(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return JsonResponse(
                {"errors": [{"message": "Request body too large.", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
                status=413,
            )
        if request.method == "POST":
            content_type = request.content_type or ""
            if content_type != "application/json":
                return JsonResponse(
                    {"errors": [{"message": "Send GraphQL as application/json.", "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"}}]},
                    status=415,
                )
            try:
                request.body.decode("utf-8")
            except UnicodeDecodeError:
                return JsonResponse(
                    {"errors": [{"message": "The request body must be UTF-8 JSON.", "extensions": {"code": "BAD_REQUEST"}}]},
                    status=400,
                )
        elif request.method not in ("GET", "OPTIONS", "HEAD"):
            return HttpResponse(status=405)
        return super().dispatch(request, *args, **kwargs)


def graphql_view():
    from schema.schema import schema

    # GRAPHQL_GRAPHIQL is read per request (should_render_graphql_ide).
    return FestivalGraphQLView.as_view(schema=schema, graphql_ide="graphiql")
