"""The /graphql/ HTTP view (sync: the same code runs under WSGI and under ASGI)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView

from schema.context import FestivalContext


# CSRF protects cookie authority; this endpoint honours only the Authorization header
# (a browser never adds it by itself), so a cross-site form cannot act as anyone.
@method_decorator(csrf_exempt, name="dispatch")
class FestivalGraphQLView(GraphQLView):
    allow_queries_via_get = True  # queries only: strawberry refuses mutations over GET

    def get_context(self, request, response) -> FestivalContext:
        return FestivalContext(request=request, response=response)

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            content_type = request.content_type or ""
            if content_type != "application/json":
                return JsonResponse(
                    {"errors": [{"message": "Send GraphQL as application/json.", "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"}}]},
                    status=415,
                )
        elif request.method not in ("GET", "OPTIONS", "HEAD"):
            return HttpResponse(status=405)
        return super().dispatch(request, *args, **kwargs)


def graphql_view():
    from schema.schema import schema

    return FestivalGraphQLView.as_view(
        schema=schema, graphql_ide="graphiql" if settings.GRAPHQL_GRAPHIQL else None
    )
