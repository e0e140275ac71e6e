"""Schema assembly and the GraphQL hardening around it.

The hardening itself lives in ``api.graphql.edge``: the schema parses and validates through
its caches and limits, the view masks and measures; suggestions are off in the edge's
validation and here, in execution. Every root field and node type must have a row in the
authorization matrix, and every root field must be declared through the authorization check
(``root_field``, ``root_mutation``): the schema refuses to build otherwise. Unexpected errors
are logged in full.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError, GraphQLObjectType
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import get_object_definition
from strawberry.types.graphql import OperationType

from api.audit import AuditEntryType, AuditQueries
from api.clients import ApiClientMutations, ApiClientQueries, ApiClientType
from api.dashboards.personal import PersonalDashboardQueries
from api.dashboards.rd import RdDashboardQueries
from api.dashboards.school import SchoolDashboardQueries
from api.feedback import FeedbackMutations, FeedbackType
from api.graphql.context import Info, RequestContext
from api.graphql.edge import (
    EdgePolicy,
    has_nul,
    is_expected,
    nul_refused,
    parse_document,
    validate,
)
from api.graphql.fields import root_field
from api.graphql.permissions import is_guarded
from api.graphql.relay import registered_node_types, resolve_node
from api.history import AppraisalType, EngagementType, HistoryMutations
from api.identity import IdentityMutations, IdentityQueries
from api.imports import ImportMutations, ImportQueries, ImportSubscriptions, ImportType
from api.indicators import (
    FactType,
    IndicatorMutations,
    IndicatorQueries,
    PeriodType,
    ScorecardType,
)
from api.jobs import JobMutations, JobQueries, JobType
from api.org import OrgMutations, OrgQueries, OrgUnitType
from api.people import (
    CustomFieldDefinitionType,
    CustomFieldMutations,
    CustomFieldQueries,
    EmployeeType,
    PeopleMutations,
    PeopleQueries,
)
from api.skills import SkillMutations, SkillQueries, SkillType
from api.tenancy import TenantMutations, TenantQueries, TenantType
from api.users import UserMutations, UserQueries, UserType
from api.work import WorkItemType, WorkMutations, WorkQueries
from tenants.authorization import Matrix
from tenants.settings import Settings

_log = structlog.get_logger("renshi.graphql")


@strawberry.type
class NodeQueries:
    @root_field(description="Any object by its global id; null when it does not exist for you.")
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        return await resolve_node(info, id)


Query = merge_types(
    "Query",
    (
        IdentityQueries,
        NodeQueries,
        TenantQueries,
        UserQueries,
        ApiClientQueries,
        JobQueries,
        OrgQueries,
        PeopleQueries,
        CustomFieldQueries,
        SkillQueries,
        AuditQueries,
        IndicatorQueries,
        WorkQueries,
        ImportQueries,
        SchoolDashboardQueries,
        PersonalDashboardQueries,
        RdDashboardQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        IdentityMutations,
        TenantMutations,
        UserMutations,
        ApiClientMutations,
        JobMutations,
        OrgMutations,
        PeopleMutations,
        CustomFieldMutations,
        SkillMutations,
        HistoryMutations,
        FeedbackMutations,
        IndicatorMutations,
        WorkMutations,
        ImportMutations,
    ),
)
Subscription = merge_types("Subscription", (ImportSubscriptions,))
NODE_TYPES: list[type] = [
    TenantType,
    UserType,
    ApiClientType,
    JobType,
    OrgUnitType,
    EmployeeType,
    CustomFieldDefinitionType,
    AuditEntryType,
    SkillType,
    EngagementType,
    AppraisalType,
    FeedbackType,
    FactType,
    PeriodType,
    ScorecardType,
    WorkItemType,
    ImportType,
]


class RenshiSchema(strawberry.Schema):
    """The schema, parsing and validating through the edge's caches and limits."""

    def __init__(self, *args: Any, policy: EdgePolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def _create_execution_context(
        self,
        query: str | None,
        allowed_operation_types: Iterable[OperationType],
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        execution = super()._create_execution_context(
            query,
            allowed_operation_types,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
        )
        # strawberry parses and validates only what is still missing here, so filling both
        # in from the caches skips its own passes; a document that does not parse is left
        # to strawberry, which reports the syntax error as the operation's error.
        execution.parse_options["max_tokens"] = self.policy.max_tokens
        if query:
            try:
                execution.graphql_document = parse_document(query, self.policy.max_tokens)
            except GraphQLError:
                return execution
            authenticated = (
                isinstance(context_value, RequestContext) and context_value.actor is not None
            )
            rules = (
                *execution.validation_rules,
                *self.policy.rules_for(authenticated=authenticated),
            )
            execution.validation_rules = rules
            errors = validate(self._schema, query, self.policy.max_tokens, rules)
            if not errors and variable_values and has_nul(variable_values):
                errors = [nul_refused()]
            execution.pre_execution_errors = errors
        return execution

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        # Passed on to graphql-core's execute: variable values are checked there, and their
        # errors would otherwise suggest the enum values and input fields of the schema.
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": True}

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


def check_authorization_coverage(
    schema: strawberry.Schema,
    matrix: Matrix,
    roots: Iterable[type] = (Query, Mutation, Subscription),
) -> None:
    """Every root field and node type has a matrix row, and every root field is guarded."""
    problems = []
    for root in roots:
        definition = get_object_definition(root, strict=True)
        for field in definition.fields:
            name = field.graphql_name or schema.config.name_converter.get_graphql_name(field)
            operation = f"{definition.name}.{name}"
            if operation not in matrix.rules:
                problems.append(f"{operation} has no row in the authorization matrix")
            resolver = field.base_resolver.wrapped_func if field.base_resolver else None
            guarded = resolver is not None and is_guarded(resolver)
            if not guarded:
                problems.append(f"{operation} is not declared with root_field/root_mutation")
    for type_name in registered_node_types():
        if f"Node.{type_name}" not in matrix.rules:
            problems.append(f"Node.{type_name} has no row in the authorization matrix")
    if problems:
        raise RuntimeError("authorization coverage: " + "; ".join(problems))


def build_schema(settings: Settings, matrix: Matrix) -> RenshiSchema:
    policy = EdgePolicy.from_settings(settings)
    schema = RenshiSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        policy=policy,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
    check_authorization_coverage(schema, matrix)
    read_plain_fields_directly(schema)
    return schema


def read_plain_fields_directly(schema: strawberry.Schema) -> None:
    """Resolve fields without a resolver by a plain attribute read.

    strawberry resolves such a field through three calls that end in ``getattr(source,
    python_name)``; a page of 50 people has about a thousand of them, and reading the
    attribute directly takes a quarter off the page's execution. Only the fields strawberry
    itself marks as default-resolved (no resolver, no extensions) are changed, and only
    while its default resolver is ``getattr``.
    """
    if schema.config.default_resolver is not getattr:
        return
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for graphql_field in graphql_type.fields.values():
            definition = graphql_field.extensions.get("strawberry-definition")
            if definition is None or not getattr(graphql_field.resolve, "_is_default", False):
                continue
            graphql_field.resolve = _attribute_reader(definition.python_name)


def _attribute_reader(name: str) -> Callable[[Any, Any], Any]:
    read = operator.attrgetter(name)

    def resolve(source: Any, info: Any) -> Any:
        return read(source)

    return resolve
