"""The per-request GraphQL context: who is calling, the app's services, and DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeAlias, TypeVar
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from api.graphql.errors import unauthenticated
from api.runtime import AppRuntime
from domain.jobs import repository as job_repo
from domain.jobs.models import Job
from domain.people.service import NOBODY, Scope, Visibility, visibility_for
from tenants import repository as tenant_repo
from tenants.authorization import Principal, Reach
from tenants.identity.service import Actor
from tenants.models import ApiClient, User
from tenants.scope import TenantID

K = TypeVar("K", bound=Hashable)


class Unknown(Enum):
    """What a ``known_...`` lookup answers when finding out would take a query."""

    UNKNOWN = "unknown"


UNKNOWN: Final = Unknown.UNKNOWN
V = TypeVar("V")


class Loaders:
    """Batching loaders of one request, made on first use; never shared between requests,
    since a batch runs in the tenant scope of whichever request started it."""

    def __init__(self, tenant: TenantID) -> None:
        self.tenant = tenant
        self._made: dict[str, DataLoader[Any, Any]] = {}

    def batch(
        self, name: str, load: Callable[[list[K]], Awaitable[Sequence[V]]]
    ) -> DataLoader[K, V]:
        """The request's loader ``name``: ``load`` answers a batch of keys, in key order."""
        made = self._made.get(name)
        if made is None:
            made = DataLoader(load_fn=load)
            self._made[name] = made
        return made

    def by_id(
        self, name: str, fetch: Callable[[TenantID, Sequence[UUID]], Awaitable[Sequence[Any]]]
    ) -> DataLoader[UUID, Any]:
        """A loader of rows by id (None for ids that are not there) from ``fetch``."""

        async def load(ids: list[UUID]) -> list[Any]:
            rows = {row.id: row for row in await fetch(self.tenant, ids)}
            return [rows.get(i) for i in ids]

        return self.batch(name, load)

    def grouped(
        self,
        name: str,
        fetch: Callable[[TenantID, Sequence[K]], Awaitable[Mapping[K, list[V]]]],
    ) -> DataLoader[K, list[V]]:
        """A loader of each key's rows (an empty list when there are none) from ``fetch``,
        which answers a batch of keys at once, grouped by key."""

        async def load(keys: list[K]) -> list[list[V]]:
            found = await fetch(self.tenant, keys)
            return [found.get(key, []) for key in keys]

        return self.batch(name, load)

    @property
    def users(self) -> DataLoader[UUID, User | None]:
        return self.by_id("users", tenant_repo.get_users)

    @property
    def api_clients(self) -> DataLoader[UUID, ApiClient | None]:
        return self.by_id("api_clients", tenant_repo.get_api_clients)

    @property
    def jobs(self) -> DataLoader[UUID, Job | None]:
        return self.by_id("jobs", job_repo.get_jobs)


@dataclass
class RequestContext:
    request: Request
    response: Response
    runtime: AppRuntime
    principal: Principal | None
    request_id: str
    actor: Actor | None = None
    reaches: dict[str, Reach] = field(default_factory=dict)
    # What a WebSocket client sent with connection_init (its bearer token), set by strawberry.
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = None
    _visibility: dict[Scope, Visibility] = field(default_factory=dict)
    _visibility_lookups: dict[Scope, asyncio.Future[Visibility]] = field(default_factory=dict)

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
            self._loaders = Loaders(self.tenant_id)
        return self._loaders

    def allows(self, row: str) -> bool:
        """Whether the caller passes matrix row ``row`` (e.g. a ``Field.<Type>.<field>``)."""
        principal = self.actor.principal if self.actor is not None else None
        return self.runtime.matrix.decide(row, principal).allowed

    def known_visibility(self, operation: str) -> Visibility | None:
        """``visibility(operation)`` when it needs no query (refused, or already looked up),
        else None: for resolvers that answer at once when they can."""
        reach = self._reach(operation)
        if reach is None:
            return NOBODY
        return self._visibility.get(_SCOPES[reach])

    def _reach(self, operation: str) -> Reach | None:
        reach = self.reaches.get(operation)
        if reach is None:
            principal = self.actor.principal if self.actor is not None else None
            decision = self.runtime.matrix.decide(operation, principal)
            if not decision.allowed or decision.reach is None:
                return None
            reach = decision.reach
        return reach

    async def visibility(self, operation: str) -> Visibility:
        """Which employees the caller sees through ``operation``: by the reach its matrix
        row grants (nobody when it grants nothing)."""
        reach = self._reach(operation)
        if reach is None:
            return NOBODY
        return await self._visibility_of(_SCOPES[reach])

    async def own_employee_id(self) -> UUID | None:
        """The employee record linked to the calling user, if any."""
        known = self.known_own_employee_id()
        if known is not UNKNOWN:
            return known
        return next(iter((await self._visibility_of(Scope.SELF)).employee_ids), None)

    def known_own_employee_id(self) -> UUID | Unknown | None:
        """``own_employee_id()`` if it needs no query, else ``UNKNOWN``."""
        # A manager's subtree visibility carries their own record too: no second lookup.
        known = self._visibility.get(Scope.SUBTREE) or self._visibility.get(Scope.SELF)
        if known is None:
            return UNKNOWN
        return next(iter(known.employee_ids), None)

    async def _visibility_of(self, scope: Scope) -> Visibility:
        known = self._visibility.get(scope)
        if known is not None:
            return known
        # The items of a list ask at the same moment: one lookup, the others wait for it.
        pending = self._visibility_lookups.get(scope)
        if pending is None:
            actor = self.require_actor()
            user_id = actor.user.id if actor.user is not None else None
            pending = asyncio.ensure_future(visibility_for(self.tenant_id, scope, user_id))
            self._visibility_lookups[scope] = pending
        try:
            known = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._visibility_lookups.pop(scope, None)
        self._visibility[scope] = known
        return known


_SCOPES = {Reach.TENANT: Scope.TENANT, Reach.SUBTREE: Scope.SUBTREE, Reach.SELF: Scope.SELF}

Info: TypeAlias = StrawberryInfo[RequestContext, None]
