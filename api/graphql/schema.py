"""Schema assembly and the GraphQL hardening around it.

Parser and validation caches; depth, alias and token limits; no field suggestions;
introspection only where configured; unexpected errors masked (with the request id, logged
in full); operation names bound to logs and metrics. Every root field and node type must
have a row in the authorization matrix and carry the ``Authorized`` permission: the schema
refuses to build otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from prometheus_client import Histogram
from strawberry import relay
from strawberry.extensions import (
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.permission import PermissionExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition

from api.clients import ApiClientMutations, ApiClientQueries, ApiClientType
from api.graphql.context import Info, RequestContext
from api.graphql.fields import root_field
from api.graphql.permissions import Authorized
from api.graphql.relay import registered_node_types, resolve_node
from api.graphql.view import is_expected
from api.http import request_state
from api.identity import IdentityMutations, IdentityQueries
from api.jobs import JobMutations, JobQueries, JobType
from api.tenancy import TenantMutations, TenantQueries, TenantType
from api.users import UserMutations, UserQueries, UserType
from tenants.authorization import Matrix
from tenants.settings import Settings

_log = structlog.get_logger("renshi.graphql")

OPERATION_SECONDS = Histogram(
    "renshi_graphql_operation_duration_seconds",
    "GraphQL operation latency by operation type and name",
    ["type", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_NAMED_OPERATIONS = 200
_seen_operations: set[str] = set()


def _metric_name(name: str | None) -> str:
    # Operation names come from clients: bound how many label values they can create.
    if name is None or not _OPERATION_NAME.match(name):
        return "anonymous"
    if name not in _seen_operations and len(_seen_operations) >= _MAX_NAMED_OPERATIONS:
        return "other"
    _seen_operations.add(name)
    return name


@strawberry.type
class NodeQueries:
    @root_field(description="Any object by its global id; null when it does not exist for you.")
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        return await resolve_node(info, id)


Query = merge_types(
    "Query",
    (IdentityQueries, NodeQueries, TenantQueries, UserQueries, ApiClientQueries, JobQueries),
)
Mutation = merge_types(
    "Mutation",
    (IdentityMutations, TenantMutations, UserMutations, ApiClientMutations, JobMutations),
)
NODE_TYPES: list[type] = [TenantType, UserType, ApiClientType, JobType]


class ValidationPolicy(SchemaExtension):
    """Depth and alias limits, and introspection on, off or for authenticated callers only.

    The rule classes are built once per schema: the validation cache is keyed by them, so
    rules made afresh per request (as the stock limiter extensions do when constructed per
    request) would never let it hit.
    """

    def __init__(self, rules: tuple[type[ASTValidationRule], ...], mode: str) -> None:
        self.rules = rules
        self.mode = mode

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        context: RequestContext = execution.context
        allowed = self.mode == "on" or (self.mode == "authenticated" and context.actor is not None)
        extra = self.rules if allowed else (*self.rules, NoSchemaIntrospectionCustomRule)
        execution.validation_rules = (*execution.validation_rules, *extra)
        yield


class OperationObserver(SchemaExtension):
    """Binds the operation name to the request's logs and times the operation."""

    def on_execute(self) -> Iterator[None]:
        execution: ExecutionContext = self.execution_context
        context: RequestContext = execution.context
        name = execution.operation_name
        kind = execution.operation_type.value if execution.operation_type else "unknown"
        state = request_state(context.request.scope)
        state.operation = name or f"<{kind}>"
        structlog.contextvars.bind_contextvars(operation=state.operation)
        with OPERATION_SECONDS.labels(kind, _metric_name(name)).time():
            yield


class MaskUnexpectedErrors(MaskErrors):
    """Masks only unexpected errors, pointing the caller at the request id in our logs."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: not is_expected(error))

    def _process_result(self, result: object) -> None:
        # The base class checks a runtime Protocol on every result; errors are rare.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context: RequestContext = self.execution_context.context
        return GraphQLError(
            message=f"Unexpected error; quote request id {context.request_id} when reporting it.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": context.request_id},
        )


class RenshiSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the caller's business; unexpected ones are ours, in full.
        for error in errors:
            if not is_expected(error):
                _log.error(
                    "unexpected_error",
                    path=error.path,
                    exc_info=error.original_error or error,
                )


def check_authorization_coverage(schema: strawberry.Schema, matrix: Matrix) -> None:
    """Every root field and node type has a matrix row, and every root field is guarded."""
    problems = []
    for root in (Query, Mutation):
        definition = get_object_definition(root, strict=True)
        for field in definition.fields:
            name = field.graphql_name or schema.config.name_converter.get_graphql_name(field)
            operation = f"{definition.name}.{name}"
            if operation not in matrix.rules:
                problems.append(f"{operation} has no row in the authorization matrix")
            guarded = any(
                isinstance(ext, PermissionExtension)
                and any(isinstance(p, Authorized) for p in ext.permissions)
                for ext in field.extensions
            )
            if not guarded:
                problems.append(f"{operation} does not carry the Authorized permission")
    for type_name in registered_node_types():
        if f"Node.{type_name}" not in matrix.rules:
            problems.append(f"Node.{type_name} has no row in the authorization matrix")
    if problems:
        raise RuntimeError("authorization coverage: " + "; ".join(problems))


def introspection_mode(settings: Settings) -> str:
    if settings.introspection is not None:
        return "on" if settings.introspection else "off"
    # The embedded default is a developer's machine: let logged-in callers explore.
    return "authenticated" if settings.embedded else "off"


def build_schema(settings: Settings, matrix: Matrix) -> RenshiSchema:
    rules = (
        depth_validator(settings.max_query_depth, should_ignore=None),
        alias_validator(settings.max_aliases),
    )
    mode = introspection_mode(settings)
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ValidationPolicy(rules, mode),
        OperationObserver,
        MaskUnexpectedErrors,
    ]
    schema = RenshiSchema(
        query=Query,
        mutation=Mutation,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
    check_authorization_coverage(schema, matrix)
    return schema
