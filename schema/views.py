"""The /graphql/ HTTP view (sync: the same code runs under WSGI and under ASGI)."""

from __future__ import annotations

from functools import lru_cache

from cross_web import HTTPException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.django.views import GraphQLView

from domains.common import readcache
from schema import persisted, prevalidated, response_cache
from schema.context import FestivalContext
from schema.extensions import mask_errors


# CSRF protects cookie authority; this endpoint honours only the Authorization header
# (a browser never adds it by itself), so a cross-site form cannot act as anyone.
@method_decorator(csrf_exempt, name="dispatch")
class FestivalGraphQLView(GraphQLView):
    allow_queries_via_get = True  # queries only: strawberry refuses mutations over GET

    def get_context(self, request, response) -> FestivalContext:
        return FestivalContext(request=request, response=response)

    def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):
        # The scanner app's documents skip the per-request extension set-up when they can
        # (schema/prevalidated.py); otherwise, or for any other document, the general path.
        operation = prevalidated.lookup(request_data.query) if request_adapter.method == "POST" else None
        result = None
        if operation is not None and root_value is None:
            result = prevalidated.execute_prevalidated(
                self.schema, operation, variables=request_data.variables,
                operation_name=request_data.operation_name, context=context,
            )
        if result is None:
            if _is_subscription(request_data.query, request_data.operation_name):
                # strawberry would run it as an incremental HTTP stream, which this sync view
                # cannot send: the answer was a masked error. Subscriptions have their transport.
                raise SubscriptionOverHTTP()
            result = super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        if result.errors:
            # strawberry answers an exception raised outside any field (by an extension's hook,
            # by graphql-core itself) after the extensions have exited, so MaskErrors never saw
            # it and its text would reach the client: mask here too (already masked errors and
            # our own refusals pass unchanged).
            result.errors = mask_errors(result.errors)
        return result

    def should_render_graphql_ide(self, request) -> bool:
        # Read per request, so that the setting (and tests overriding it) decide.
        return settings.GRAPHQL_GRAPHIQL and super().should_render_graphql_ide(request)

    def decode_json(self, data):
        try:
            decoded = super().decode_json(data)
        # JSONDecodeError, bytes that are not UTF-8, or nesting deeper than Python's recursion
        # limit (a 2 kB body of brackets)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(decoded, (dict, list)):  # lists are refused as batches later
            raise HTTPException(400, "The request body must be a JSON object.")
        if isinstance(decoded, dict) and isinstance(decoded.get("extensions"), dict) and "persistedQuery" in decoded["extensions"]:
            decoded = self._persisted(decoded)
        self._operation = decoded if isinstance(decoded, dict) else None
        return decoded

    def _persisted(self, decoded: dict) -> dict:
        """Apollo APQ: a known sha256 stands for its document (schema/persisted.py)."""
        pq = decoded["extensions"]["persistedQuery"]
        sha = pq.get("sha256Hash") if isinstance(pq, dict) else None
        if not isinstance(sha, str) or pq.get("version", 1) != 1:
            raise HTTPException(400, "Unsupported persistedQuery extension.")
        if not persisted.is_hash(sha):
            raise HTTPException(400, "persistedQuery.sha256Hash must be 64 lowercase hexadecimal characters.")
        query = decoded.get("query")
        if isinstance(query, str) and query:
            if not persisted.remember(sha, query):
                raise HTTPException(400, "provided sha does not match query")
            return decoded
        query = persisted.lookup(sha)
        if query is None:
            raise PersistedQueryNotFound()
        return {**decoded, "query": query}

    def dispatch(self, request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return _too_large()
        if request.method == "POST":
            content_type = request.content_type or ""
            if content_type != "application/json":
                return JsonResponse(
                    {"errors": [{"message": "Send GraphQL as application/json.", "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"}}]},
                    status=415,
                )
            try:
                request.body.decode("utf-8")
            except RequestDataTooBig:
                # A body sent without a Content-Length (chunked) is measured as Django reads
                # it: the same answer as a declared length over the limit, not Django's 400.
                return _too_large()
            except UnicodeDecodeError:
                return JsonResponse(
                    {"errors": [{"message": "The request body must be UTF-8 JSON.", "extensions": {"code": "BAD_REQUEST"}}]},
                    status=400,
                )
        elif request.method not in ("GET", "OPTIONS", "HEAD"):
            return HttpResponse(status=405)
        self._operation = None
        if "HTTP_AUTHORIZATION" in request.META or not request.META.get(response_cache.ENVIRON_FLAG):
            return self._dispatch(request, *args, **kwargs)
        # Anonymous: a response built only from the public read cache may be kept whole
        # (schema/response_cache.py, in front of Django under WSGI).
        token = readcache.track()
        try:
            response = self._dispatch(request, *args, **kwargs)
        finally:
            seen = readcache.seen(token)
        if seen and response.status_code == 200 and self._public_query():
            body = getattr(response, "content", b"")
            if b'"errors"' not in body:
                response[response_cache.MARK] = response_cache.mark_value(seen)
        return response

    def _dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except PersistedQueryNotFound:
            return JsonResponse(
                {"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
            )
        except SubscriptionOverHTTP:
            return JsonResponse(
                {"errors": [{"message": SubscriptionOverHTTP.message, "extensions": {"code": "BAD_REQUEST"}}]}, status=400
            )

    def _public_query(self) -> bool:
        operation = getattr(self, "_operation", None)
        if not operation or "query" not in operation:  # GET: strawberry read the query string
            operation = {"query": self.request.GET.get("query"), "operationName": self.request.GET.get("operationName")}
        query = operation.get("query")
        if not isinstance(query, str):
            return False
        try:
            document = _parse(query, settings.GRAPHQL_MAX_TOKENS)
        except Exception:  # noqa: BLE001 - not cacheable, strawberry already answered
            return False
        return response_cache.is_cacheable_document(document, operation.get("operationName"))


class PersistedQueryNotFound(Exception):
    pass


class SubscriptionOverHTTP(Exception):
    message = "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql/."


def _is_subscription(query, operation_name) -> bool:
    if not isinstance(query, str) or "subscription" not in query:
        return False
    try:
        document = _parse(query, settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError:  # strawberry reports it
        return False
    operation = get_operation_ast(document, operation_name if isinstance(operation_name, str) else None)
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


@lru_cache(maxsize=128)
def _parse(query: str, max_tokens: int):
    """The view's own look at a document (is it a subscription, a public query), parsed once
    per text and under the token limit, as strawberry parses it."""
    return parse(query, max_tokens=max_tokens)


def graphql_view():
    from schema.schema import schema

    # GRAPHQL_GRAPHIQL is read per request (should_render_graphql_ide).
    return FestivalGraphQLView.as_view(schema=schema, graphql_ide="graphiql")


def _too_large() -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": "Request body too large.", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}, status=413
    )
