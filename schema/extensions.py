"""Schema-wide guards, with limits from settings (README, "GraphQL limits")."""

from __future__ import annotations

import re

from django.conf import settings
from graphql import GraphQLError, ValidationRule
from graphql.language import DirectiveNode
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.exceptions import StrawberryGraphQLError
from strawberry_django.optimizer import DjangoOptimizerExtension

from festival.logging import bind


class MaxDirectivesRule(ValidationRule):
    def __init__(self, context):
        super().__init__(context)
        self.count = 0

    def enter_directive(self, node: DirectiveNode, *_args):
        self.count += 1
        if self.count == settings.GRAPHQL_MAX_DIRECTIVES + 1:
            self.report_error(GraphQLError(f"'{self.count}' directives exceed the maximum of {settings.GRAPHQL_MAX_DIRECTIVES}."))


def _ignore_introspection(ignore) -> bool:
    return ignore.field_name.startswith("__")


def should_mask(error: GraphQLError) -> bool:
    """Mask exceptions raised while resolving fields, except the ones we raise on purpose
    (permission refusals). Document and variable errors carry no original error and stay."""
    original = error.original_error
    if original is None:
        return False
    if isinstance(original, (StrawberryGraphQLError, GraphQLError)):
        return False
    return True


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


class NoSuggestions(SchemaExtension):
    """Drop graphql-core's "Did you mean ...?" hints, which leak the schema when
    introspection is off."""

    def on_validate(self):
        yield
        errors = self.execution_context.errors or []
        for error in errors:
            error.message = _SUGGESTION.sub("", error.message)


class OperationNameLogging(SchemaExtension):
    def on_operation(self):
        bind(operation=self.execution_context.operation_name or "anonymous")
        yield


def schema_extensions() -> list:
    extensions = [
        OperationNameLogging,
        lambda: QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH, should_ignore=_ignore_introspection),
        lambda: MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        lambda: AddValidationRules([MaxDirectivesRule]),
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Internal server error."),
        DjangoOptimizerExtension,
    ]
    # Module-level LRU caches inside strawberry, shared by every request.
    extensions += [lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)]
    if not settings.GRAPHQL_INTROSPECTION:
        extensions += [DisableIntrospection, NoSuggestions]
    return extensions
