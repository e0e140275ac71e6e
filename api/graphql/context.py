"""The per-request GraphQL context: who is calling, the app's services, and DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from api.graphql.errors import forbidden, unauthenticated
from api.runtime import AppRuntime
from domain.jobs import repository as job_repo
from domain.jobs.models import Job
from tenants import repository as tenant_repo
from tenants.authorization import Principal, Reach
from tenants.identity.service import Actor
from tenants.models import ApiClient, User
from tenants.scope import TenantID


def _by_id_loader(
    tenant: TenantID, fetch: Callable[[TenantID, Sequence[UUID]], Awaitable[Sequence[Any]]]
) -> DataLoader[UUID, Any]:
    async def load(ids: list[UUID]) -> list[Any]:
        rows = {row.id: row for row in await fetch(tenant, ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """Batching loaders of one request; never shared, since batches run in one tenant scope."""

    users: DataLoader[UUID, User | None]
    api_clients: DataLoader[UUID, ApiClient | None]
    jobs: DataLoader[UUID, Job | None]

    @classmethod
    def for_tenant(cls, tenant: TenantID) -> Loaders:
        return cls(
            users=_by_id_loader(tenant, tenant_repo.get_users),
            api_clients=_by_id_loader(tenant, tenant_repo.get_api_clients),
            jobs=_by_id_loader(tenant, job_repo.get_jobs),
        )


@dataclass
class RequestContext:
    request: Request
    response: Response
    runtime: AppRuntime
    principal: Principal | None
    request_id: str
    actor: Actor | None = None
    reaches: dict[str, Reach] = field(default_factory=dict)
    _loaders: Loaders | None = None

    def require_actor(self) -> Actor:
        if self.actor is None:
            raise unauthenticated()
        return self.actor

    @property
    def tenant_id(self) -> TenantID:
        return self.require_actor().principal.tenant_id

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders.for_tenant(self.tenant_id)
        return self._loaders

    def reach(self, operation: str) -> Reach:
        """The reach granted for ``operation`` by the permission check that let us in."""
        try:
            return self.reaches[operation]
        except KeyError:
            raise forbidden() from None


Info: TypeAlias = StrawberryInfo[RequestContext, None]
