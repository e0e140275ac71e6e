"""GraphQL of skills: the catalogue (``Skill``, ``skills``), people's levels and their history.

Who may set a person's level, and as which source, follows the caller's reach: a person rates
themselves (``SELF``), a manager rates their subtree (``MANAGER``), HR, administrators and
integrators may record any source, ``VERIFIED`` and ``DERIVED`` included.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, error_from, item_error
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, require_node_id, to_connection
from api.tenancy import LocalizedText
from domain.changes import KEEP, Outcome
from domain.skills import repository as skills_repo
from domain.skills.models import EmployeeSkill, EmployeeSkillEvent, Skill, SkillSource
from domain.skills.repository import HeldSkill
from domain.skills.service import SkillChanges, SkillItem, skill_service
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid

SkillSourceType = strawberry.enum(
    SkillSource,
    name="SkillSource",
    description="Who judged a level: the person, their manager, "
    "a verification, or derived from project history.",
)

SET_OPERATION = "Mutation.setEmployeeSkill"
REMOVE_OPERATION = "Mutation.removeEmployeeSkill"


def skill_loader(context: RequestContext) -> DataLoader[UUID, Skill | None]:
    return context.loaders.by_id("skills", skills_repo.get_skills)


def current_skills_loader(
    context: RequestContext,
) -> DataLoader[UUID, list[tuple[HeldSkill, Skill]]]:
    """Every person's current skills; a page of people costs one statement."""
    tenant = context.tenant_id

    async def load(employee_ids: list[UUID]) -> list[list[tuple[HeldSkill, Skill]]]:
        found = await skill_service.current_skills(tenant, employee_ids)
        return [found[employee_id] for employee_id in employee_ids]

    return context.loaders.batch("current_skills", load)


def skill_id_of(global_id: relay.GlobalID, field_name: str = "id") -> UUID:
    return require_node_id(global_id, "Skill", "skill", "技能", field=field_name)


@strawberry.type(name="Skill", description="A skill of the tenant's catalogue.")
class SkillType(relay.Node):
    id: relay.NodeID[str]
    external_key: str | None
    name: str
    category: str | None
    aliases: list[str] = strawberry.field(
        description='Other names that resolve to this skill ("py" for Python), case-folded.'
    )
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    name_zh: strawberry.Private[str | None]
    name_en: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, row: Skill) -> SkillType:
        return cls(
            id=str(row.id),
            external_key=row.external_key,
            name=row.name,
            category=row.category,
            aliases=list(row.aliases),
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            name_zh=row.name_zh,
            name_en=row.name_en,
        )

    @field(description="The name in zh and en; the catalogue name stands in for a missing one.")
    def label(self) -> LocalizedText:
        return LocalizedText(zh=self.name_zh or self.name, en=self.name_en or self.name)


@node_type("Skill")
async def load_skill(context: RequestContext, node_id: UUID, reach: Reach) -> SkillType | None:
    row = await skill_loader(context).load(node_id)
    return SkillType.from_model(row) if row is not None else None


@strawberry.type(description="A person's current level in one skill.")
class EmployeeSkillType:
    skill: SkillType
    level: int = strawberry.field(description="1 (aware) to 5 (expert).")
    source: SkillSource
    evaluated_on: date

    @classmethod
    def from_models(cls, held: EmployeeSkill | HeldSkill, skill: Skill) -> EmployeeSkillType:
        return cls(
            skill=SkillType.from_model(skill),
            level=held.level,
            source=held.source,
            evaluated_on=held.evaluated_on,
        )


@strawberry.type(description="One change of a person's skill: a level set, or the skill removed.")
class SkillEvent:
    skill_id: relay.GlobalID
    level: int | None = strawberry.field(description="Null when the skill was removed.")
    source: SkillSource
    evaluated_on: date
    recorded_at: datetime

    @classmethod
    def from_model(cls, row: EmployeeSkillEvent) -> SkillEvent:
        return cls(
            skill_id=relay.GlobalID("Skill", str(row.skill_id)),
            level=row.level,
            source=row.source,
            evaluated_on=row.evaluated_on,
            recorded_at=row.recorded_at,
        )


@strawberry.input
class SkillFilter:
    search: str | None = strawberry.field(
        default=None, description="Part of a name, or an exact alias, in any case or width."
    )
    category: str | None = None
    include_archived: bool = False


@strawberry.input
class SkillCreateInput:
    name: str
    name_zh: str | None = None
    name_en: str | None = None
    category: str | None = None
    aliases: list[str] = strawberry.field(default_factory=list)
    external_key: str | None = None


@strawberry.input
class SkillUpdateInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    name_zh: str | None = strawberry.UNSET
    name_en: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    aliases: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces every alias."
    )
    external_key: str | None = strawberry.UNSET


@strawberry.input(description="One skill of an ERP sync, keyed by its external key.")
class SkillUpsertInput:
    external_key: str
    name: str
    name_zh: str | None = None
    name_en: str | None = None
    category: str | None = None
    aliases: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class EmployeeSkillInput:
    employee_id: relay.GlobalID
    skill_id: relay.GlobalID
    level: int
    source: SkillSource | None = strawberry.field(
        default=None,
        description="Defaults to SELF on one's own record and to MANAGER otherwise.",
    )
    evaluated_on: date | None = strawberry.field(default=None, description="Defaults to today.")


@strawberry.type
class SkillPayload:
    skill: SkillType


@strawberry.type
class SkillCreateError(Error):
    pass


@strawberry.type
class SkillUpdateError(Error):
    pass


@strawberry.type
class SkillArchiveError(Error):
    pass


@strawberry.type
class SkillUpsertItemResult:
    key: str
    outcome: Outcome
    skill: SkillType | None
    error: ItemError | None


@strawberry.type
class SkillsUpsertPayload:
    results: list[SkillUpsertItemResult]


@strawberry.type
class SkillsUpsertError(Error):
    pass


@strawberry.type
class EmployeeSkillPayload:
    employee_skill: EmployeeSkillType


@strawberry.type
class EmployeeSkillError(Error):
    pass


@strawberry.type
class EmployeeSkillRemovePayload:
    removed: bool = strawberry.field(description="False when the person did not have the skill.")


SkillCreateResult = Annotated[
    SkillPayload | SkillCreateError, strawberry.union("SkillCreateResult")
]
SkillUpdateResult = Annotated[
    SkillPayload | SkillUpdateError, strawberry.union("SkillUpdateResult")
]
SkillArchiveResult = Annotated[
    SkillPayload | SkillArchiveError, strawberry.union("SkillArchiveResult")
]
SkillsUpsertResult = Annotated[
    SkillsUpsertPayload | SkillsUpsertError, strawberry.union("SkillsUpsertResult")
]
EmployeeSkillResult = Annotated[
    EmployeeSkillPayload | EmployeeSkillError, strawberry.union("EmployeeSkillResult")
]
EmployeeSkillRemoveResult = Annotated[
    EmployeeSkillRemovePayload | EmployeeSkillError, strawberry.union("EmployeeSkillRemoveResult")
]


def _given(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


async def _source_for(info: Info, employee_id: UUID, asked: SkillSource | None) -> SkillSource:
    """The source a level is recorded as, checked against what the caller may claim."""
    context = info.context
    own = await context.own_employee_id() == employee_id
    source = asked or (SkillSource.SELF if own else SkillSource.MANAGER)
    allowed: set[SkillSource]
    if context.reaches.get(SET_OPERATION) == Reach.TENANT:
        allowed = set(SkillSource)
    else:
        # A manager rating themselves is still a self-assessment.
        allowed = {SkillSource.SELF} if own else {SkillSource.MANAGER}
    if source not in allowed:
        names = ", ".join(sorted(s.name for s in allowed))
        raise invalid("source", f"you may record this level as {names} only", f"只能记录为 {names}")
    return source


@strawberry.type
class SkillQueries:
    @root_field(description="The skill catalogue by name.")
    async def skills(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        filter: SkillFilter | None = None,
    ) -> relay.Connection[SkillType]:
        tenant = info.context.tenant_id
        given = filter or SkillFilter()
        page = await paginated(
            lambda: skill_service.page(
                tenant,
                first=first,
                after=after,
                search=given.search,
                category=given.category,
                include_archived=given.include_archived,
            )
        )
        return to_connection(page, SkillType.from_model)


@strawberry.type
class SkillMutations:
    @root_mutation(description="Add a skill to the catalogue.")
    async def create_skill(self, info: Info, input: SkillCreateInput) -> SkillCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: skill_service.create(
                tenant,
                name=input.name,
                name_zh=input.name_zh,
                name_en=input.name_en,
                category=input.category,
                aliases=input.aliases,
                external_key=input.external_key,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(SkillCreateError, result)
        return SkillPayload(skill=SkillType.from_model(result))

    @root_mutation(description="Change a catalogue skill; fields left out keep their value.")
    async def update_skill(self, info: Info, input: SkillUpdateInput) -> SkillUpdateResult:
        tenant = info.context.tenant_id

        async def update() -> Skill:
            aliases = input.aliases
            changes = SkillChanges(
                name=_given(input.name),
                name_zh=_given(input.name_zh),
                name_en=_given(input.name_en),
                category=_given(input.category),
                aliases=KEEP if aliases is strawberry.UNSET else (aliases or []),
                external_key=_given(input.external_key),
            )
            return await skill_service.update(tenant, skill_id_of(input.id), changes)

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(SkillUpdateError, result)
        return SkillPayload(skill=SkillType.from_model(result))

    @root_mutation(description="Archive a skill: kept on history, out of the catalogue.")
    async def archive_skill(self, info: Info, id: relay.GlobalID) -> SkillArchiveResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: skill_service.archive(tenant, skill_id_of(id)))
        if isinstance(result, ServiceError):
            return error_from(SkillArchiveError, result)
        return SkillPayload(skill=SkillType.from_model(result))

    @root_mutation(
        description="Create or update up to 500 catalogue skills by external key (ERP sync). "
        "Idempotent; one result per item, in order."
    )
    async def upsert_skills(self, info: Info, items: list[SkillUpsertInput]) -> SkillsUpsertResult:
        tenant = info.context.tenant_id
        batch = [
            SkillItem(
                external_key=item.external_key,
                name=item.name,
                name_zh=item.name_zh,
                name_en=item.name_en,
                category=item.category,
                aliases=item.aliases,
            )
            for item in items
        ]
        result = await attempt(lambda: skill_service.upsert(tenant, batch))
        if isinstance(result, ServiceError):
            return error_from(SkillsUpsertError, result)
        return SkillsUpsertPayload(
            results=[
                SkillUpsertItemResult(
                    key=r.key,
                    outcome=r.outcome,
                    skill=SkillType.from_model(r.record) if r.record is not None else None,
                    error=item_error(r.error) if r.error is not None else None,
                )
                for r in result
            ]
        )

    @root_mutation(description="Set a person's level in a skill; the change joins its history.")
    async def set_employee_skill(
        self, info: Info, input: EmployeeSkillInput
    ) -> EmployeeSkillResult:
        from api.people import employee_id_of

        context = info.context
        tenant = context.tenant_id

        async def set_level() -> tuple[EmployeeSkill, Skill]:
            employee_id = await employee_id_of(info, input.employee_id, SET_OPERATION, "employeeId")
            skill_id = skill_id_of(input.skill_id, "skillId")
            source = await _source_for(info, employee_id, input.source)
            actor = context.require_actor()
            held = await skill_service.set_level(
                tenant,
                employee_id,
                skill_id,
                level=input.level,
                source=source,
                evaluated_on=input.evaluated_on,
                recorded_by=actor.user.id if actor.user is not None else None,
            )
            return held, await skill_service.get(tenant, skill_id)

        result = await attempt(set_level)
        if isinstance(result, ServiceError):
            return error_from(EmployeeSkillError, result)
        return EmployeeSkillPayload(employee_skill=EmployeeSkillType.from_models(*result))

    @root_mutation(description="Remove a skill from a person; the removal joins its history.")
    async def remove_employee_skill(
        self, info: Info, employee_id: relay.GlobalID, skill_id: relay.GlobalID
    ) -> EmployeeSkillRemoveResult:
        from api.people import employee_id_of

        context = info.context
        tenant = context.tenant_id

        async def remove() -> bool:
            person = await employee_id_of(info, employee_id, REMOVE_OPERATION, "employeeId")
            actor = context.require_actor()
            return await skill_service.remove(
                tenant,
                person,
                skill_id_of(skill_id, "skillId"),
                recorded_by=actor.user.id if actor.user is not None else None,
            )

        result = await attempt(remove)
        if isinstance(result, ServiceError):
            return error_from(EmployeeSkillError, result)
        return EmployeeSkillRemovePayload(removed=result)
