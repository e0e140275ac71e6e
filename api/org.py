"""GraphQL of the organisation: ``OrgUnit``, ``orgUnits``, its mutations and ERP upserts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, bad_input_from, error_from, item_error
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, require_node_id, to_connection
from api.tenancy import LocalizedText
from domain.changes import KEEP, Outcome
from domain.org import repository as org_repo
from domain.org.models import OrgUnit
from domain.org.service import OrgUnitItem, org_service
from domain.people.models import Employee
from domain.templates.service import pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError

if TYPE_CHECKING:
    from api.people import EmployeeType

UpsertOutcome = strawberry.enum(Outcome, name="UpsertOutcome")


def unit_loader(context: RequestContext) -> DataLoader[UUID, OrgUnit | None]:
    return context.loaders.by_id("org_units", org_repo.get_units)


@strawberry.type(
    name="OrgUnit", description="A department or team; in schools a grade or subject group."
)
class OrgUnitType(relay.Node):
    id: relay.NodeID[str]
    external_key: str | None
    name: str
    kind: str
    archived_at: datetime | None
    created_at: datetime
    parent_id: strawberry.Private[UUID | None]
    path: strawberry.Private[str]
    unit_id: strawberry.Private[UUID]

    @classmethod
    def from_model(cls, row: OrgUnit) -> OrgUnitType:
        return cls(
            id=str(row.id),
            unit_id=row.id,
            external_key=row.external_key,
            name=row.name,
            kind=row.kind,
            archived_at=row.archived_at,
            created_at=row.created_at,
            parent_id=row.parent_id,
            path=row.path,
        )

    @field(description="The kind's name in zh and en, from the template pack.")
    async def kind_label(self, info: Info) -> LocalizedText | None:
        kind = (await pack_of(info.context.tenant_id)).org_unit_kind(self.kind)
        return LocalizedText(zh=kind.name.zh, en=kind.name.en) if kind else None

    @field(description="The unit above this one; null at the top.")
    async def parent(self, info: Info) -> OrgUnitType | None:
        if self.parent_id is None:
            return None
        row = await unit_loader(info.context).load(self.parent_id)
        return OrgUnitType.from_model(row) if row is not None else None

    @field(description="Units from the top of the tree down to this one's parent.")
    async def ancestors(self, info: Info) -> list[OrgUnitType]:
        ids = [UUID(hex=label) for label in self.path.split(".")[:-1]]
        rows = await unit_loader(info.context).load_many(ids)
        return [OrgUnitType.from_model(row) for row in rows if row is not None]

    @field(description="Active units directly below this one, by name.")
    async def children(self, info: Info) -> list[OrgUnitType]:
        rows = await _children_loader(info.context).load(self.unit_id)
        return [OrgUnitType.from_model(row) for row in rows]

    @field(description="People managing this unit (those the caller may see).")
    async def managers(
        self, info: Info
    ) -> list[Annotated[EmployeeType, strawberry.lazy("api.people")]]:
        from api.people import EmployeeType

        rows = await _managers_loader(info.context).load(self.unit_id)
        return [EmployeeType.from_model(row) for row in rows]


def _children_loader(context: RequestContext) -> DataLoader[UUID, list[OrgUnit]]:
    tenant = context.tenant_id

    async def load(parent_ids: list[UUID]) -> list[list[OrgUnit]]:
        by_parent: dict[UUID, list[OrgUnit]] = {pid: [] for pid in parent_ids}
        for row in await org_repo.children_of(tenant, parent_ids):
            by_parent[row.parent_id].append(row)
        return [by_parent[pid] for pid in parent_ids]

    return context.loaders.batch("org_unit_children", load)


def _managers_loader(context: RequestContext) -> DataLoader[UUID, list[Employee]]:
    """Each unit's managers the caller may see, in the order they were made managers."""
    from api.people import LIST_OPERATION, employee_loader

    tenant = context.tenant_id

    async def load(unit_ids: list[UUID]) -> list[list[Employee]]:
        links = await org_repo.managers_of(tenant, unit_ids)
        # Once per batch: a manager's visibility is a query, and the units' resolvers asking
        # for it each in turn would each run it, and scatter the employees' batch besides.
        visibility = await context.visibility(LIST_OPERATION)
        rows = await employee_loader(context).load_many([link.employee_id for link in links])
        by_unit: dict[UUID, list[Employee]] = {uid: [] for uid in unit_ids}
        for link, row in zip(links, rows, strict=True):
            if row is not None and visibility.allows(row):
                by_unit[link.org_unit_id].append(row)
        return [by_unit[uid] for uid in unit_ids]

    return context.loaders.batch("org_unit_managers", load)


@node_type("OrgUnit")
async def load_org_unit(context: RequestContext, node_id: UUID, reach: Reach) -> OrgUnitType | None:
    row = await unit_loader(context).load(node_id)
    return OrgUnitType.from_model(row) if row is not None else None


def _unit_id(global_id: relay.GlobalID, field_name: str = "id") -> UUID:
    return require_node_id(global_id, "OrgUnit", "org unit", "组织单元", field=field_name)


@strawberry.input
class OrgUnitFilter:
    parent_id: relay.GlobalID | None = None
    roots_only: bool = False
    search: str | None = None
    include_archived: bool = False


@strawberry.input
class OrgUnitCreateInput:
    name: str
    kind: str = strawberry.field(description="An org unit kind of the tenant's template pack.")
    parent_id: relay.GlobalID | None = None
    external_key: str | None = None


@strawberry.input
class OrgUnitUpdateInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    kind: str | None = strawberry.UNSET
    parent_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="Move under this unit; null moves it to the top."
    )
    external_key: str | None = strawberry.UNSET


@strawberry.input
class OrgUnitUpsertInput:
    external_key: str
    name: str
    kind: str
    parent_external_key: str | None = None


@strawberry.type
class OrgUnitPayload:
    org_unit: OrgUnitType


@strawberry.type
class OrgUnitCreateError(Error):
    pass


@strawberry.type
class OrgUnitUpdateError(Error):
    pass


@strawberry.type
class OrgUnitArchiveError(Error):
    pass


@strawberry.type
class OrgUnitManagerError(Error):
    pass


@strawberry.type
class OrgUnitUpsertItemResult:
    key: str
    outcome: Outcome
    org_unit: OrgUnitType | None
    error: ItemError | None


@strawberry.type
class OrgUnitsUpsertPayload:
    results: list[OrgUnitUpsertItemResult]


@strawberry.type
class OrgUnitsUpsertError(Error):
    pass


OrgUnitCreateResult = Annotated[
    OrgUnitPayload | OrgUnitCreateError, strawberry.union("OrgUnitCreateResult")
]
OrgUnitUpdateResult = Annotated[
    OrgUnitPayload | OrgUnitUpdateError, strawberry.union("OrgUnitUpdateResult")
]
OrgUnitArchiveResult = Annotated[
    OrgUnitPayload | OrgUnitArchiveError, strawberry.union("OrgUnitArchiveResult")
]
OrgUnitManagerResult = Annotated[
    OrgUnitPayload | OrgUnitManagerError, strawberry.union("OrgUnitManagerResult")
]
OrgUnitsUpsertResult = Annotated[
    OrgUnitsUpsertPayload | OrgUnitsUpsertError, strawberry.union("OrgUnitsUpsertResult")
]


def _given(value: object) -> object:
    return KEEP if value is strawberry.UNSET else value


@strawberry.type
class OrgQueries:
    @root_field(description="Org units by name; filter to one unit's children or the top level.")
    async def org_units(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        filter: OrgUnitFilter | None = None,
    ) -> relay.Connection[OrgUnitType]:
        tenant = info.context.tenant_id
        given = filter or OrgUnitFilter()
        try:
            parent = _unit_id(given.parent_id, "parentId") if given.parent_id is not None else None
        except ServiceError as exc:
            # A query has no error union: an id of something else is bad input.
            raise bad_input_from(exc) from None
        page = await paginated(
            lambda: org_repo.list_units(
                tenant,
                first=first,
                after=after,
                parent_ids=[parent] if parent is not None else None,
                roots_only=given.roots_only,
                search=given.search,
                include_archived=given.include_archived,
            )
        )
        return to_connection(page, OrgUnitType.from_model)


@strawberry.type
class OrgMutations:
    @root_mutation()
    async def create_org_unit(self, info: Info, input: OrgUnitCreateInput) -> OrgUnitCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: org_service.create(
                tenant,
                name=input.name,
                kind=input.kind,
                parent_id=_unit_id(input.parent_id, "parentId") if input.parent_id else None,
                external_key_value=input.external_key,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(OrgUnitCreateError, result)
        return OrgUnitPayload(org_unit=OrgUnitType.from_model(result))

    @root_mutation(description="Rename, re-kind or move a unit; its whole subtree moves with it.")
    async def update_org_unit(self, info: Info, input: OrgUnitUpdateInput) -> OrgUnitUpdateResult:
        tenant = info.context.tenant_id

        async def update() -> OrgUnit:
            parent = input.parent_id
            return await org_service.update(
                tenant,
                _unit_id(input.id),
                name=None if input.name is strawberry.UNSET else input.name,
                kind=None if input.kind is strawberry.UNSET else input.kind,
                parent_id=(
                    KEEP
                    if parent is strawberry.UNSET
                    else (_unit_id(parent, "parentId") if parent is not None else None)
                ),
                external_key_value=KEEP
                if input.external_key is strawberry.UNSET
                else input.external_key,
            )

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(OrgUnitUpdateError, result)
        return OrgUnitPayload(org_unit=OrgUnitType.from_model(result))

    @root_mutation(description="Archive a unit with no active sub-units.")
    async def archive_org_unit(self, info: Info, id: relay.GlobalID) -> OrgUnitArchiveResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: org_service.archive(tenant, _unit_id(id)))
        if isinstance(result, ServiceError):
            return error_from(OrgUnitArchiveError, result)
        return OrgUnitPayload(org_unit=OrgUnitType.from_model(result))

    @root_mutation(description="Make an employee a manager of a unit (and so of its subtree).")
    async def add_org_unit_manager(
        self, info: Info, org_unit_id: relay.GlobalID, employee_id: relay.GlobalID
    ) -> OrgUnitManagerResult:
        from api.people import employee_id_of

        tenant = info.context.tenant_id

        async def add() -> OrgUnit:
            person = await employee_id_of(
                info, employee_id, "Mutation.addOrgUnitManager", "employeeId"
            )
            return await org_service.add_manager(tenant, _unit_id(org_unit_id, "orgUnitId"), person)

        result = await attempt(add)
        if isinstance(result, ServiceError):
            return error_from(OrgUnitManagerError, result)
        return OrgUnitPayload(org_unit=OrgUnitType.from_model(result))

    @root_mutation()
    async def remove_org_unit_manager(
        self, info: Info, org_unit_id: relay.GlobalID, employee_id: relay.GlobalID
    ) -> OrgUnitManagerResult:
        from api.people import employee_id_of

        tenant = info.context.tenant_id

        async def remove() -> OrgUnit:
            person = await employee_id_of(
                info, employee_id, "Mutation.removeOrgUnitManager", "employeeId"
            )
            return await org_service.remove_manager(
                tenant, _unit_id(org_unit_id, "orgUnitId"), person
            )

        result = await attempt(remove)
        if isinstance(result, ServiceError):
            return error_from(OrgUnitManagerError, result)
        return OrgUnitPayload(org_unit=OrgUnitType.from_model(result))

    @root_mutation(
        description="Create or update up to 500 units by external key (ERP sync); parents may "
        "come in the same batch. Idempotent; one result per item, in order."
    )
    async def upsert_org_units(
        self, info: Info, items: list[OrgUnitUpsertInput]
    ) -> OrgUnitsUpsertResult:
        tenant = info.context.tenant_id
        batch = [
            OrgUnitItem(
                external_key=item.external_key,
                name=item.name,
                kind=item.kind,
                parent_external_key=item.parent_external_key,
            )
            for item in items
        ]
        result = await attempt(lambda: org_service.upsert(tenant, batch))
        if isinstance(result, ServiceError):
            return error_from(OrgUnitsUpsertError, result)
        return OrgUnitsUpsertPayload(
            results=[
                OrgUnitUpsertItemResult(
                    key=r.key,
                    outcome=r.outcome,
                    org_unit=OrgUnitType.from_model(r.record) if r.record is not None else None,
                    error=item_error(r.error) if r.error is not None else None,
                )
                for r in result
            ]
        )
