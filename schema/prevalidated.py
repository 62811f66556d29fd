"""Pre-validated operations: our own clients' hot documents (the scanner app's scanCommit is
sent on every scan, thousands of times an hour per gate), parsed and validated once and then
executed by graphql-core directly, without strawberry setting up its seven schema extensions
for every request (measured: 7-13% of a scan's CPU in the web process, docs/PERFORMANCE.md,
fifth round).

The rule: a pre-validated execution gives the answer the general path
(`strawberry.Schema.execute_sync` with `schema_extensions()`) would give. What the extensions
do per request is done here by the same code, or the request is declined before anything
runs and the general path answers it:

- parse cache, validation cache, depth/alias/directive/cost limits, introspection switch,
  NUL characters in the document, token limit: the document is fixed, so its validity depends
  only on the limits in settings; it is checked once per distinct set of limits (lru_cache)
  and a document that fails them is declined (the general path reports why);
- NUL characters or unpaired surrogates in variables, an operationName naming another operation, anything but POST:
  declined;
- the log context's operation name, the 503 for a database gone away, dropping graphql-core's
  "Did you mean" hints, the metrics: `schema.extensions.after_operation`, the function the
  RequestHooks extension calls; the error masking: `mask_errors`, applied by the view to
  every answer (strawberry's MaskErrors does the same on the general path);
- the strawberry_django optimizer only rewrites QuerySets that a field returns: a document
  registered here must select only fields that return plain objects (payloads), which every
  mutation payload does (our types are plain strawberry types filled from models; there are
  no strawberry_django model types).

Variables are coerced and fields resolved by graphql-core's own `execute` with strawberry's
resolvers (permission checks, argument conversion, our payload_errors), so variable errors,
permission refusals and null handling are the same by construction.
tests/scanning/test_prevalidated.py sends the same scenarios through both paths and compares
the answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionResult

from domains.common.text import has_unstorable_text
from festival.logging import bind
from schema.extensions import after_operation, current_limit_rules, root_fields


@dataclass(frozen=True)
class PrevalidatedOperation:
    query: str
    document: DocumentNode
    operation_name: str | None
    root_fields: tuple[str, str]  # the metrics label, as RequestHooks computes it


_REGISTERED: dict[str, PrevalidatedOperation] = {}


def register(schema, *queries: str) -> None:
    """Execute these documents without the per-request extensions. Each must be valid against
    the schema and hold exactly one operation (a typo fails at import). Whether it is within
    the limits is checked per request against the settings then (an operator may lower them)."""
    for query in queries:
        document = parse(query)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or len(document.definitions) != 1:
            raise ValueError("a pre-validated document holds exactly one operation and no fragments")
        errors = validate_document(schema._schema, document, specified_rules)
        if errors:
            raise ValueError(f"pre-validated document is not valid: {errors[0].message}")
        operation = operations[0]
        _REGISTERED[query] = PrevalidatedOperation(
            query=query,
            document=document,
            operation_name=operation.name.value if operation.name else None,
            root_fields=root_fields(schema._schema, operation),
        )


def lookup(query: str | None) -> PrevalidatedOperation | None:
    return _REGISTERED.get(query) if isinstance(query, str) else None


def execute_prevalidated(
    schema, operation: PrevalidatedOperation, *, variables: dict | None, operation_name: str | None, context
) -> ExecutionResult | None:
    """The general path's answer without its per-request set-up, or None (nothing has run)
    when this request is one the general path must answer."""
    if operation_name is not None and operation_name != operation.operation_name:
        return None
    if not _within_limits(schema, operation.query, current_limit_rules(), settings.GRAPHQL_MAX_TOKENS):
        return None
    if variables is not None and has_unstorable_text(variables):
        return None
    bind(operation=operation.operation_name or "anonymous")
    started = time.perf_counter()
    try:
        result = execute(schema._schema, operation.document, variable_values=variables, context_value=context)
    except Exception as exc:  # noqa: BLE001 - the execution itself failed: an error answer, as on the general path
        error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
        result = GraphQLExecutionResult(data=None, errors=[error])
    if result.errors:
        # Logged (and sent to Sentry) as they are, before masking, as strawberry does.
        schema.process_errors(result.errors, None)
    after_operation(
        context=context, result=result, pre_execution_errors=None, root_fields=lambda: operation.root_fields, started=started
    )
    # Masked by the view, which masks every answer's errors (schema/views.py).
    return ExecutionResult(data=result.data, errors=result.errors)


@lru_cache(maxsize=64)
def _within_limits(schema, query: str, rules: tuple, max_tokens: int) -> bool:
    """The general path's checks of a document under these limits: graphql-core's parser with
    the token limit (what MaxTokensLimiter sets), then strawberry's validate_document with the
    limit rules (the rules strawberry adds to ours, as on the general path)."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError:
        return False
    return not validate_document(schema._schema, document, (*specified_rules, *rules))
