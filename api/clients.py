"""GraphQL of integrators' OAuth2 clients: ``ApiClient``, ``apiClients`` and their mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, error_from
from api.graphql.fields import root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, require_node_id, to_connection
from api.tenancy import LocalizedText
from tenants import repository as repo
from tenants.authorization import Reach, load_matrix
from tenants.errors import ServiceError
from tenants.models import ApiClient
from tenants.service import api_client_service


@strawberry.type(
    name="ApiClient", description="An integrator's OAuth2 client (client credentials)."
)
class ApiClientType(relay.Node):
    id: relay.NodeID[str]
    client_id: str
    name: str
    scopes: list[str]
    is_active: bool
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_model(cls, row: ApiClient) -> ApiClientType:
        return cls(
            id=str(row.id),
            client_id=row.client_id,
            name=row.name,
            scopes=list(row.scopes),
            is_active=row.is_active,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(description="A scope an API client can be given.")
class Scope:
    name: str
    label: LocalizedText


@node_type("ApiClient")
async def load_api_client(
    context: RequestContext, node_id: UUID, reach: Reach
) -> ApiClientType | None:
    row = await context.loaders.api_clients.load(node_id)
    return ApiClientType.from_model(row) if row is not None else None


@strawberry.input
class ApiClientCreateInput:
    name: str
    scopes: list[str]


@strawberry.type(description="The new client. The secret is shown here once and never again.")
class ApiClientCreatePayload:
    api_client: ApiClientType
    client_secret: str


@strawberry.type
class ApiClientCreateError(Error):
    pass


@strawberry.type
class ApiClientRevokePayload:
    api_client: ApiClientType


@strawberry.type
class ApiClientRevokeError(Error):
    pass


ApiClientCreateResult = Annotated[
    ApiClientCreatePayload | ApiClientCreateError, strawberry.union("ApiClientCreateResult")
]
ApiClientRevokeResult = Annotated[
    ApiClientRevokePayload | ApiClientRevokeError, strawberry.union("ApiClientRevokeResult")
]


def _client_id(global_id: relay.GlobalID) -> UUID:
    return require_node_id(global_id, "ApiClient", "API client", "API 客户端")


@strawberry.type
class ApiClientQueries:
    @root_field(description="Integrators' clients, by name.")
    async def api_clients(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[ApiClientType]:
        tenant = info.context.tenant_id
        page = await paginated(lambda: repo.list_api_clients(tenant, first=first, after=after))
        return to_connection(page, ApiClientType.from_model)

    @root_field(description="Every scope a client can be given, with labels.")
    def api_scopes(self, info: Info) -> list[Scope]:
        return [
            Scope(name=name, label=LocalizedText(zh=labels["zh"], en=labels["en"]))
            for name, labels in sorted(load_matrix().scopes.items())
        ]


@strawberry.type
class ApiClientMutations:
    @root_mutation()
    async def create_api_client(
        self, info: Info, input: ApiClientCreateInput
    ) -> ApiClientCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: api_client_service.create(tenant, name=input.name, scopes=input.scopes)
        )
        if isinstance(result, ServiceError):
            return error_from(ApiClientCreateError, result)
        return ApiClientCreatePayload(
            api_client=ApiClientType.from_model(result.client), client_secret=result.secret
        )

    @root_mutation()
    async def revoke_api_client(self, info: Info, id: relay.GlobalID) -> ApiClientRevokeResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: api_client_service.revoke(tenant, _client_id(id)))
        if isinstance(result, ServiceError):
            return error_from(ApiClientRevokeError, result)
        return ApiClientRevokePayload(api_client=ApiClientType.from_model(result))
