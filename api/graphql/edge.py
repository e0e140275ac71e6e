"""What the GraphQL edge enforces around every operation, with no per-request extension.

Cached parsing under a token limit, cached validation with depth and alias limits, the
introspection policy and no suggestions in its messages, masking of unexpected errors (a
database that is away and a statement timeout keep codes of their own), and operation
metrics. They behave as strawberry's ``ParserCache``, ``MaxTokensLimiter``,
``ValidationCache``, ``QueryDepthLimiter``, ``MaxAliasesLimiter`` and ``MaskErrors`` do,
but run as plain calls from the schema and the view: on a small query the hooks of those
extensions cost more than the query's own database work. The validation rules are built
once per schema, because the validation cache is keyed by rule classes and rules made
afresh per request would never let it hit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    StringValueNode,
    parse,
)
from graphql import validate as validate_with
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from prometheus_client import Histogram
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from api.graphql.errors import ClientError
from tenants.database.faults import MESSAGES as FAULT_MESSAGES
from tenants.database.faults import DatabaseFault, database_fault
from tenants.settings import Settings

OPERATION_SECONDS = Histogram(
    "renshi_graphql_operation_duration_seconds",
    "GraphQL operation latency by operation type and name",
    ["type", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_NAMED_OPERATIONS = 200
_seen_operations: set[str] = set()
_SUGGESTION = " Did you mean"
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def metric_name(name: str | None) -> str:
    # Operation names come from clients: bound how many label values they can create.
    if name is None or not _OPERATION_NAME.match(name):
        return "anonymous"
    if name not in _seen_operations and len(_seen_operations) >= _MAX_NAMED_OPERATIONS:
        return "other"
    _seen_operations.add(name)
    return name


@functools.lru_cache(maxsize=512)
def parse_document(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


@functools.lru_cache(maxsize=1024)
def validate(
    schema: GraphQLSchema, query: str, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    # Keyed by the query text, which caches its hash, not by the document: hashing a
    # document walks its whole tree, on every lookup. The same rules as strawberry's
    # validate_document, but without suggestions: they name fields, arguments, types and
    # enum values the caller did not know, which is the schema with introspection off.
    errors = validate_with(
        schema,
        parse_document(query, max_tokens),
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=True,
    )
    for error in errors:
        # graphql-core still hints "Did you mean 'field { ... }'?" for a missing selection.
        if _SUGGESTION in error.message:
            error.message = error.message.split(_SUGGESTION, 1)[0]
    return errors


def introspection_depth_validator(max_depth: int) -> type[ASTValidationRule]:
    """The depth limit below ``__schema`` and ``__type``, which strawberry's limit skips.

    Measured as strawberry measures (root fields at depth 0) and refused with its message.
    Iterative, and a fragment is walked again only when entered deeper than before, so
    fragments spread many times cannot make the walk itself expensive.
    """

    class IntrospectionDepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            too_deep = self._too_deep(node)
            if too_deep is not None:
                name = node.name.value if node.name is not None else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {max_depth}", too_deep
                    )
                )

        def _too_deep(self, operation: OperationDefinitionNode) -> Node | None:
            entered: dict[str, int] = {}
            stack: list[tuple[SelectionNode, int]] = [
                (selection, 0) for selection in operation.selection_set.selections
            ]
            while stack:
                selection, depth = stack.pop()
                if isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is None or entered.get(name, -1) >= depth:
                        continue
                    entered[name] = depth
                    stack.extend((s, depth) for s in fragment.selection_set.selections)
                elif isinstance(selection, InlineFragmentNode):
                    stack.extend((s, depth) for s in selection.selection_set.selections)
                elif isinstance(selection, FieldNode):
                    if depth > max_depth:
                        return selection
                    if selection.selection_set is None:
                        continue
                    if depth == 0 and selection.name.value not in _INTROSPECTION_ROOTS:
                        continue  # strawberry's limit measures everything else
                    stack.extend((s, depth + 1) for s in selection.selection_set.selections)
            return None

    return IntrospectionDepthLimit


@dataclass(frozen=True)
class OperationShape:
    """What a document asks for, seen before running it."""

    kind: str
    name: str | None
    roots: frozenset[str] | None  # None when a root selection is a fragment


@functools.lru_cache(maxsize=512)
def _shape(query: str, operation_name: str | None, max_tokens: int) -> OperationShape | None:
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return None
    operation = operations[0]
    roots: set[str] | None = set()
    for selection in operation.selection_set.selections:
        name = getattr(selection, "name", None)
        if name is None or roots is None:
            roots = None
            continue
        roots.add(name.value)
    return OperationShape(
        kind=operation.operation.value,
        name=operation.name.value if operation.name is not None else None,
        roots=frozenset(roots) if roots is not None else None,
    )


NUL_MESSAGE = "Text may not contain the NUL character (U+0000). 文本不能包含空字符（U+0000）。"


def nul_refused(nodes: Node | None = None) -> GraphQLError:
    return GraphQLError(NUL_MESSAGE, nodes, extensions={"code": "BAD_USER_INPUT"})


class NoNulCharacters(ASTValidationRule):
    """Refuses string literals with U+0000: PostgreSQL text and jsonb cannot hold it, and a
    statement that carries one fails, which ends the operation's transaction."""

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if "\x00" in node.value:
            self.report_error(nul_refused(node))


def has_nul(value: object) -> bool:
    """Whether a variable value holds U+0000 in any string, object key included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def introspection_mode(settings: Settings) -> str:
    if settings.introspection is not None:
        return "on" if settings.introspection else "off"
    # The embedded default is a developer's machine: let logged-in callers explore.
    return "authenticated" if settings.embedded else "off"


def is_expected(error: GraphQLError) -> bool:
    """Errors the caller may read: syntax and validation errors, refusals, bad input."""
    original = error.original_error
    return original is None or isinstance(original, (ClientError, GraphQLError, GlobalIDValueError))


def mask(error: GraphQLError, request_id: str) -> GraphQLError:
    """An unexpected error as the caller sees it: nothing but where to find it in our logs,
    and, when the database was away or a statement ran too long, a code that says so."""
    fault = database_fault(error.original_error)
    if fault is not None:
        extensions: dict[str, object] = {"code": fault.value, "requestId": request_id}
        if fault is DatabaseFault.UNAVAILABLE:
            extensions["retryable"] = True
        message = f"{FAULT_MESSAGES[fault]} (request id {request_id})"
    else:
        extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        message = f"Unexpected error; quote request id {request_id} when reporting it."
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def masked(errors: Iterable[GraphQLError], request_id: str) -> list[GraphQLError]:
    return [error if is_expected(error) else mask(error, request_id) for error in errors]


@dataclass(frozen=True)
class EdgePolicy:
    """What the edge enforces, built once per schema."""

    max_tokens: int
    rules: tuple[type[ASTValidationRule], ...]
    introspection: str

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgePolicy:
        return cls(
            max_tokens=settings.max_tokens,
            rules=(
                depth_validator(settings.max_query_depth, should_ignore=None),
                introspection_depth_validator(settings.max_query_depth),
                alias_validator(settings.max_aliases),
                NoNulCharacters,
            ),
            introspection=introspection_mode(settings),
        )

    def rules_for(self, *, authenticated: bool) -> tuple[type[ASTValidationRule], ...]:
        allowed = self.introspection == "on" or (
            self.introspection == "authenticated" and authenticated
        )
        return self.rules if allowed else (*self.rules, NoSchemaIntrospectionCustomRule)

    def shape(self, query: str, operation_name: str | None) -> OperationShape | None:
        """The operation's kind, name and root fields; None if it does not parse."""
        return _shape(query, operation_name, self.max_tokens)


MUTATION = OperationType.MUTATION.value
