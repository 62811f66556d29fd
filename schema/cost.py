"""Query cost limit: an estimate of the work a document asks for, refused above
GRAPHQL_MAX_COST during validation (before any resolver or SQL runs).

cost(field) = 1 + multiplier x cost(its selections), where the multiplier is the page size
for a list or a connection: the `first`/`limit` argument when written in the document
(capped at GRAPHQL_MAX_PAGE_SIZE), GRAPHQL_MAX_PAGE_SIZE when it comes from a variable (the
value is not known when the validation result is cached), GRAPHQL_COST_DEFAULT_LIST for a
list without a page-size argument. A connection's `edges`/`nodes` take the connection's size
(counted once). Introspection fields cost nothing (GRAPHQL_INTROSPECTION decides those).
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_object_type,
)
from graphql.language.visitor import SKIP
from graphql.type import GraphQLSchema

_PAGE_ARGS = ("first", "last", "limit")
_MAX_FRAGMENT_DEPTH = 50


def _is_connection(named_type) -> bool:
    fields = getattr(named_type, "fields", None) or {}
    return is_object_type(named_type) and "edges" in fields and "pageInfo" in fields


def _page_size(node: FieldNode, max_page: int) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value not in _PAGE_ARGS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(1, min(int(value.value), max_page))
        if isinstance(value, VariableNode):
            return max_page
    return None


class _Estimator:
    def __init__(self, schema: GraphQLSchema, fragments: dict, default_list: int, max_page: int):
        self.schema = schema
        self.fragments = fragments
        self.default_list = default_list
        self.max_page = max_page

    def selection_set(self, selection_set, parent_type, inherited_page: int | None, depth: int = 0) -> int:
        if selection_set is None or depth > _MAX_FRAGMENT_DEPTH:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent_type, inherited_page, depth)
            elif isinstance(selection, InlineFragmentNode):
                type_ = self._type(selection.type_condition, parent_type)
                total += self.selection_set(selection.selection_set, type_, inherited_page, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    type_ = self._type(fragment.type_condition, parent_type)
                    total += self.selection_set(fragment.selection_set, type_, inherited_page, depth + 1)
        return total

    def _type(self, condition, fallback):
        if condition is None:
            return fallback
        return self.schema.get_type(condition.name.value) or fallback

    def field(self, node: FieldNode, parent_type, inherited_page: int | None, depth: int) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        fields = getattr(parent_type, "fields", None) or {}
        definition = fields.get(name)
        if definition is None:  # unknown field: another rule reports it
            return 1
        return_type = get_nullable_type(definition.type)
        named = get_named_type(return_type)
        page = _page_size(node, self.max_page)
        if is_list_type(return_type):
            if page is None:
                page = inherited_page if name in ("edges", "nodes") and inherited_page else self.default_list
            children = self.selection_set(node.selection_set, named, None, depth)
            return 1 + page * children
        if _is_connection(named):  # the page size applies to its edges/nodes
            inherited = page if page is not None else self.default_list
            return 1 + self.selection_set(node.selection_set, named, inherited, depth)
        return 1 + self.selection_set(node.selection_set, named, None, depth)


def document_cost(schema: GraphQLSchema, document, *, default_list: int, max_page: int) -> dict[str, int]:
    """{operation name or "": estimated cost} for each operation of the document."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    estimator = _Estimator(schema, fragments, default_list, max_page)
    costs = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            name = definition.name.value if definition.name else ""
            costs[name] = estimator.selection_set(definition.selection_set, root, None)
    return costs


def expanded_field_count(document) -> int:
    """The number of fields the document's largest operation selects once every fragment spread
    is replaced by its fragment: what validation rules and execution walk. A document of a few
    hundred tokens whose fragments each spread the next one twice expands to millions of
    fields (20 such levels kept a process busy in validation for seconds, 22 for 48 s), so this
    is counted, with each fragment counted once and remembered, before anything walks it.
    A fragment that spreads itself (invalid, reported by validation) counts as empty here."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}

    def size(selection_set) -> int:
        total = 0
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value)
        return total

    def fragment_size(name: str) -> int:
        if name not in sizes:
            sizes[name] = 0  # while counting it: a cycle adds nothing
            fragment = fragments.get(name)
            sizes[name] = size(fragment.selection_set) if fragment is not None else 0
        return sizes[name]

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return max((size(o.selection_set) for o in operations), default=0)


def max_cost_rule(maximum: int, default_list: int, max_page: int) -> type[ValidationRule]:
    class MaxCostRule(ValidationRule):
        def enter_document(self, node, *_args):
            for name, cost in document_cost(
                self.context.schema, node, default_list=default_list, max_page=max_page
            ).items():
                if cost > maximum:
                    label = f"'{name}'" if name else "The operation"
                    self.report_error(
                        GraphQLError(f"{label} is too expensive: estimated cost {cost} exceeds the maximum of {maximum}.")
                    )
            return SKIP  # the estimate walked the whole document already

    return MaxCostRule
