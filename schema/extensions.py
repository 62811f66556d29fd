"""Schema-wide guards, with limits from settings (README, "GraphQL limits")."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from graphql import GraphQLError, GraphQLSyntaxError, ValidationRule
from graphql.language import DirectiveNode, StringValueNode
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.exceptions import MissingQueryError, StrawberryGraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry_django.optimizer import DjangoOptimizerExtension

from domains.common.text import has_unstorable_text
from festival.logging import bind
from schema.cost import expanded_field_count, max_cost_rule


def max_directives_rule(maximum: int) -> type[ValidationRule]:
    class MaxDirectivesRule(ValidationRule):
        def __init__(self, context):
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_args):
            self.count += 1
            if self.count == maximum + 1:
                self.report_error(GraphQLError(f"'{self.count}' directives exceed the maximum of {maximum}."))

    return MaxDirectivesRule


class NoNulCharactersRule(ValidationRule):
    """A NUL character is never valid input (PostgreSQL cannot even store it in text)."""

    def enter_string_value(self, node: StringValueNode, *_args):
        if "\x00" in node.value:
            self.report_error(GraphQLError("Text may not contain NUL characters.", node))


UNSTORABLE_VARIABLES = "Variables may not contain NUL characters or unpaired surrogates."


@lru_cache(maxsize=16)
def limit_rules(
    max_depth: int,
    max_aliases: int,
    max_directives: int,
    introspection: bool,
    cost: tuple[int, int, int] = (0, 0, 0),
) -> tuple[type[ValidationRule], ...]:
    """The validation rules for these limits, built once: the rule classes are part of the
    validation cache's key, so new classes per request would make every lookup a miss."""
    rules = [
        max_depth_rule(max_depth, _ignore_introspection, None),
        max_aliases_rule(max_aliases),
        max_directives_rule(max_directives),
        NoNulCharactersRule,
    ]
    if cost[0] > 0:  # (GRAPHQL_MAX_COST, GRAPHQL_COST_DEFAULT_LIST, GRAPHQL_MAX_PAGE_SIZE)
        rules.append(max_cost_rule(*cost))
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


class QuietParserCache(ParserCache):
    """strawberry's parse cache, leaving a document that does not parse to strawberry's own
    parse, inside its error handling: ParserCache parses in its hook, outside it, so over
    WebSocket a syntax error ended the operation as an exception ("Exception in worker task",
    a bare `complete`) instead of an error answer (HTTP had caught it one level up)."""

    def on_parse(self):
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            pass  # strawberry parses again, reports it and counts it like any refusal
        yield


class BoundedValidation(ValidationCache):
    """Validation (cached per document and rules), after refusing a document that selects more
    than GRAPHQL_MAX_FIELDS fields once its fragments are expanded: the depth, alias and cost
    rules walk every fragment again at each spread, so such a document would hold the process
    for seconds to minutes before any of them could refuse it (schema/cost.py
    `expanded_field_count`). Setting the errors here skips validation altogether."""

    def on_validate(self):
        document = self.execution_context.graphql_document
        fields = expanded_field_count(document) if document is not None else 0
        if fields > settings.GRAPHQL_MAX_FIELDS:
            self.execution_context.pre_execution_errors = [
                GraphQLError(
                    f"The query is too large: {fields} fields once its fragments are expanded; "
                    f"the maximum is {settings.GRAPHQL_MAX_FIELDS}."
                )
            ]
            yield
            return
        yield from super().on_validate()


class Limits(AddValidationRules):
    """Depth, alias, directive, cost limits and the introspection switch, read from settings on
    every request (so tests and operators can change them without rebuilding the schema)."""

    def __init__(self):
        super().__init__(list(current_limit_rules()))


def current_limit_rules() -> tuple[type[ValidationRule], ...]:
    """The limit rules for the settings as they are now (the same tuple while they do not change)."""
    return limit_rules(
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_DIRECTIVES,
        settings.GRAPHQL_INTROSPECTION,
        (settings.GRAPHQL_MAX_COST, settings.GRAPHQL_COST_DEFAULT_LIST, settings.GRAPHQL_MAX_PAGE_SIZE),
    )


def _ignore_introspection(ignore) -> bool:
    return ignore.field_name.startswith("__")


def should_mask(error: GraphQLError) -> bool:
    """Mask exceptions raised while resolving fields, except the ones we raise on purpose
    (permission refusals) and strawberry's refusals of the request itself (no query, an unknown
    operation name, an operation type the transport does not allow: over HTTP they are 400s).
    Document and variable errors carry no original error and stay."""
    original = error.original_error
    if original is None:
        return False
    if isinstance(original, (StrawberryGraphQLError, GraphQLError, *_REQUEST_REFUSALS)):
        return False
    return True


errors_log = logging.getLogger("festival.graphql")


def log_errors(errors: list[GraphQLError]) -> None:
    """What the server log keeps of an answer's errors (the schema's `process_errors`).

    An error that is masked for the client (`should_mask`: an exception nobody raised on
    purpose) is a bug or an outage: logged at ERROR with its exception and traceback, which
    is what reaches Sentry. Anything else is a refusal the client caused (a document or
    variables that do not validate, a permission refusal, a limit): logged at INFO by its code
    and position only. Not its message: graphql-core's messages quote the client's document and
    values (a login with a misspelt field would put the inline password in the log), and a
    client's mistake is no server error (at ERROR, every expired token was a Sentry event)."""
    for error in errors:
        where = ".".join(str(p) for p in error.path) if error.path else None
        if should_mask(error):
            errors_log.error("GraphQL resolver failed at %s: %s", where or "(outside any field)", error.message,
                             exc_info=error.original_error)
            continue
        if where is None and error.locations:
            where = f"line {error.locations[0].line}, column {error.locations[0].column}"
        errors_log.info("GraphQL request refused: %s at %s", _refusal_code(error), where or "(the request)")


def _refusal_code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    return "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "GRAPHQL_VALIDATION_FAILED"


_REQUEST_REFUSALS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _root_fields(execution_context) -> tuple[str, str]:
    """("scanCommit", "mutation"): the operation's root fields, a label bounded by the schema."""
    document = execution_context.graphql_document
    if document is None:
        return "invalid", "unknown"
    from graphql import OperationDefinitionNode

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = execution_context.operation_name
    operation = next((o for o in operations if wanted is None or (o.name and o.name.value == wanted)), None)
    if operation is None:
        return "invalid", "unknown"
    return root_fields(execution_context.schema._schema, operation)


# Only names the schema defines become a metrics label: a client's own `__anything` would
# grow the label set without bound.
_INTROSPECTION = frozenset({"__typename", "__schema", "__type"})


def root_fields(graphql_schema, operation) -> tuple[str, str]:
    from graphql import FieldNode

    names = sorted({s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)})
    schema_fields = graphql_schema.get_root_type(operation.operation)
    known = [n for n in names if n in _INTROSPECTION or (schema_fields and n in schema_fields.fields)]
    return ("+".join(known[:3]) or "invalid"), operation.operation.value


def _database_unavailable(error: GraphQLError) -> bool:
    from django.db import InterfaceError, OperationalError

    original = error.original_error
    return isinstance(original, (OperationalError, InterfaceError)) or (
        original is not None and type(original).__module__.startswith("psycopg_pool")
    )


class RequestHooks(SchemaExtension):
    """Our per-request hooks in one extension (strawberry sets up hooks for every extension on
    every request; these were five). Listed last, after MaskErrors and ValidationCache:

    - operation name bound to the log context, on the operation and again once parsed;
    - variables with a NUL character or an unpaired surrogate refused (after ValidationCache, which fills
      pre_execution_errors; strawberry stops before executing when that list is not empty);
    - on the way out, before MaskErrors (so it sees the original errors): the database gone
      away (restart, failover, pool exhausted) answered HTTP 503, Retry-After, code RETRY_LATER
      instead of "Internal server error." (lock timeouts inside mutations are already
      RETRY_LATER payload errors, schema/errors.py); graphql-core's "Did you mean ...?" hints
      dropped when introspection is off (they leak the schema); every operation counted and
      timed for /api/metrics/ (festival/metrics.py)."""

    def on_operation(self):
        context = self.execution_context
        bind(operation=context.operation_name or "anonymous")
        started = time.perf_counter()
        yield
        after_operation(
            context=context.context,
            result=context.result,
            pre_execution_errors=context.pre_execution_errors,
            root_fields=lambda: _root_fields(context),
            started=started,
        )

    def on_validate(self):
        if has_unstorable_text(self.execution_context.variables or {}):
            errors = list(self.execution_context.pre_execution_errors or [])  # the cached list stays as it is
            errors.append(GraphQLError(UNSTORABLE_VARIABLES))
            self.execution_context.pre_execution_errors = errors
        yield

    def on_execute(self):
        # Without an operationName in the request, the name is the document's (known once parsed).
        bind(operation=self.execution_context.operation_name or "anonymous")
        yield


def after_operation(*, context, result, pre_execution_errors, root_fields: Callable[[], tuple[str, str]], started: float) -> None:
    """What happens to every operation's answer before its errors are masked (RequestHooks,
    and schema/prevalidated.py for the documents executed without the extensions)."""
    if result is not None and result.errors:
        _database_unavailable_errors(context, result)
    if not settings.GRAPHQL_INTROSPECTION and (pre_execution_errors or (result is not None and result.errors)):
        for error in [*(pre_execution_errors or []), *((result.errors or []) if result else [])]:
            error.message = _SUGGESTION.sub("", error.message)
    try:
        from festival.metrics import observe

        operation, kind = root_fields()  # inside the try: a label that fails is only a warning
        failed = bool(pre_execution_errors) or bool(result and result.errors)
        observe(operation, kind, "error" if failed else "ok", time.perf_counter() - started)
    except Exception:  # metrics never break a request
        logging.getLogger(__name__).warning("metrics: could not record an operation", exc_info=True)


def _database_unavailable_errors(context, result) -> None:
    unavailable = False
    errors = []
    for error in result.errors:
        if _database_unavailable(error):
            unavailable = True
            logging.getLogger(__name__).warning("database unavailable", exc_info=error.original_error)
            error = GraphQLError(
                "The service is busy; please try again.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "RETRY_LATER", "retryAfter": 1},
            )
        errors.append(error)
    if unavailable:
        result.errors = errors
        response = getattr(context, "response", None)
        if response is not None:
            response.status_code = 503
            response["Retry-After"] = "1"


MASKED_MESSAGE = "Internal server error."


def _mask_errors_extension() -> MaskErrors:
    return MaskErrors(should_mask_error=should_mask, error_message=MASKED_MESSAGE)


def mask_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """What MaskErrors does to an answer's errors, for answers made without the extensions."""
    masker = _mask_errors_extension()
    return [masker.anonymise_error(e) if masker.should_mask_error(e) else e for e in errors]


def schema_extensions() -> list:
    extensions = [
        Limits,
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        _mask_errors_extension,
        DjangoOptimizerExtension,
    ]
    # Module-level LRU caches inside strawberry, shared by every request.
    extensions += [lambda: QuietParserCache(maxsize=512), lambda: BoundedValidation(maxsize=512)]
    extensions += [RequestHooks]  # last: after ValidationCache and inside MaskErrors, see its docstring
    return extensions
