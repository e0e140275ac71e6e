"""What the GraphQL edge enforces around every operation, with no per-request extension.

Cached parsing under a token limit, cached validation with depth and alias limits and the
introspection policy, masking of unexpected errors, and operation metrics. They behave as
strawberry's ``ParserCache``, ``MaxTokensLimiter``, ``ValidationCache``, ``QueryDepthLimiter``,
``MaxAliasesLimiter`` and ``MaskErrors`` do, but run as plain calls from the schema and the
view: on a small query the hooks of those extensions cost more than the query's own
database work. The validation rules are built once per schema, because the validation
cache is keyed by rule classes and rules made afresh per request would never let it hit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from prometheus_client import Histogram
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.schema import validate_document

from api.graphql.errors import ClientError
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
    # document walks its whole tree, on every lookup.
    return validate_document(schema, parse_document(query, max_tokens), rules)


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
    """An unexpected error as the caller sees it: nothing but where to find it in our logs."""
    return GraphQLError(
        message=f"Unexpected error; quote request id {request_id} when reporting it.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
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
                alias_validator(settings.max_aliases),
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
