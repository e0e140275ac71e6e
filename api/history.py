"""GraphQL of work history: ``Engagement`` (projects; classes and courses) and ``Appraisal``.

Both hang off a person, so reaching one means reaching its person through the operation's
matrix row; appraisals have their own, narrower row (``Field.Employee.appraisals``). ERP
syncs name people by employee number and skills by name or alias.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, error_from, item_error
from api.graphql.fields import field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import node_type, require_node_id
from api.skills import SkillType, skill_id_of
from api.tenancy import LocalizedText
from domain.changes import KEEP, Outcome, UpsertResult, check_batch_size, failed
from domain.history import repository as history_repo
from domain.history.models import Appraisal, AppraisalSource, Engagement
from domain.history.service import (
    AppraisalChanges,
    EngagementChanges,
    appraisal_not_found,
    appraisal_service,
    engagement_not_found,
    engagement_service,
)
from domain.people import repository as people_repo
from domain.skills.models import Skill
from domain.skills.service import skill_service
from domain.templates.service import pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid, not_found

AppraisalSourceType = strawberry.enum(AppraisalSource, name="AppraisalSource")

APPRAISALS_FIELD = "Field.Employee.appraisals"
ENGAGEMENT_NODE = "Node.Engagement"
APPRAISAL_NODE = "Node.Appraisal"

T = TypeVar("T")


def engagement_skills_loader(context: RequestContext) -> DataLoader[UUID, list[Skill]]:
    return context.loaders.grouped("engagement_skills", engagement_service.skills_of_engagements)


def latest_appraisal_loader(context: RequestContext) -> DataLoader[UUID, Appraisal | None]:
    """Each person's latest appraisal; a page of people costs one statement."""
    tenant = context.tenant_id

    async def load(employee_ids: list[UUID]) -> list[Appraisal | None]:
        found = await appraisal_service.latest_of(tenant, employee_ids)
        return [found.get(employee_id) for employee_id in employee_ids]

    return context.loaders.batch("latest_appraisals", load)


@strawberry.type(description="An outcome figure with its name and unit from the template pack.")
class OutcomeFigure:
    code: str
    name: LocalizedText | None
    unit: str | None
    value: float


@strawberry.type(
    name="Engagement",
    description="A stretch of work by one person: an R&D project, a school class or course.",
)
class EngagementType(relay.Node):
    id: relay.NodeID[str]
    external_key: str | None
    kind: str
    name: str
    role: str | None
    started_on: date
    ended_on: date | None
    outcomes: JSON = strawberry.field(description="Outcome figures by code (the pack's outcomes).")
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[Engagement]

    @classmethod
    def from_model(cls, row: Engagement) -> EngagementType:
        return cls(
            id=str(row.id),
            external_key=row.external_key,
            kind=row.kind,
            name=row.name,
            role=row.role,
            started_on=row.started_on,
            ended_on=row.ended_on,
            outcomes=JSON(row.outcomes),
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @field(description="The person who did the work.")
    async def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.row.employee_id))

    @field(description="The kind's name in zh and en, from the template pack.")
    async def kind_label(self, info: Info) -> LocalizedText | None:
        kind = (await pack_of(info.context.tenant_id)).engagement_kind(self.kind)
        return LocalizedText(zh=kind.name.zh, en=kind.name.en) if kind else None

    @field(description="The outcome figures with their names and units, in the pack's order.")
    async def figures(self, info: Info) -> list[OutcomeFigure]:
        kind = (await pack_of(info.context.tenant_id)).engagement_kind(self.kind)
        known = {o.code: o for o in kind.outcomes} if kind else {}
        order = [code for code in known if code in self.row.outcomes] + sorted(
            code for code in self.row.outcomes if code not in known
        )
        return [
            OutcomeFigure(
                code=code,
                name=LocalizedText(zh=known[code].name.zh, en=known[code].name.en)
                if code in known
                else None,
                unit=known[code].unit if code in known else None,
                value=float(self.row.outcomes[code]),
            )
            for code in order
        ]

    @field(description="Skills used in the engagement.")
    async def skills(self, info: Info) -> list[SkillType]:
        rows = await engagement_skills_loader(info.context).load(self.row.id)
        return [SkillType.from_model(row) for row in rows]


@strawberry.type(name="Appraisal", description="A past evaluation result for one period.")
class AppraisalType(relay.Node):
    id: relay.NodeID[str]
    external_key: str | None
    period: str = strawberry.field(description="The period's label, e.g. 2025H2 or 2025-2026 学年.")
    period_start: date
    period_end: date
    score: Decimal | None
    grade: str | None
    reviewer: str | None
    comments: str | None
    source: AppraisalSource
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[Appraisal]

    @classmethod
    def from_model(cls, row: Appraisal) -> AppraisalType:
        return cls(
            id=str(row.id),
            external_key=row.external_key,
            period=row.period,
            period_start=row.period_start,
            period_end=row.period_end,
            score=row.score,
            grade=row.grade,
            reviewer=row.reviewer,
            comments=row.comments,
            source=row.source,
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @field(description="The person appraised.")
    async def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.row.employee_id))


async def _reachable(context: RequestContext, employee_id: UUID, operation: str) -> bool:
    from api.people import employee_loader

    person = await employee_loader(context).load(employee_id)
    return person is not None and (await context.visibility(operation)).allows(person)


@node_type("Engagement")
async def load_engagement(
    context: RequestContext, node_id: UUID, reach: Reach
) -> EngagementType | None:
    row = await history_repo.get_engagement(context.tenant_id, node_id)
    if row is None or not await _reachable(context, row.employee_id, ENGAGEMENT_NODE):
        return None
    return EngagementType.from_model(row)


@node_type("Appraisal")
async def load_appraisal(
    context: RequestContext, node_id: UUID, reach: Reach
) -> AppraisalType | None:
    row = await history_repo.get_appraisal(context.tenant_id, node_id)
    if row is None or not await _reachable(context, row.employee_id, APPRAISAL_NODE):
        return None
    return AppraisalType.from_model(row)


# --- inputs and results --------------------------------------------------------------------


@strawberry.input
class EngagementCreateInput:
    employee_id: relay.GlobalID
    kind: str = strawberry.field(description="An engagement kind of the tenant's template pack.")
    name: str
    role: str | None = None
    started_on: date
    ended_on: date | None = None
    outcomes: JSON | None = strawberry.field(
        default=None, description="Outcome figures by code, as the kind defines them."
    )
    skill_ids: list[relay.GlobalID] = strawberry.field(default_factory=list)
    external_key: str | None = None


@strawberry.input
class EngagementUpdateInput:
    id: relay.GlobalID
    employee_id: relay.GlobalID | None = strawberry.UNSET
    kind: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    role: str | None = strawberry.UNSET
    started_on: date | None = strawberry.UNSET
    ended_on: date | None = strawberry.UNSET
    outcomes: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces every outcome figure."
    )
    skill_ids: list[relay.GlobalID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces every skill used."
    )
    external_key: str | None = strawberry.UNSET


@strawberry.input(description="One engagement of an ERP sync, keyed by its external key.")
class EngagementUpsertInput:
    external_key: str
    employee_number: str
    kind: str
    name: str
    role: str | None = None
    started_on: date
    ended_on: date | None = None
    outcomes: JSON | None = None
    skills: list[str] = strawberry.field(
        default_factory=list, description="Skill names or aliases of the catalogue."
    )


@strawberry.input
class AppraisalCreateInput:
    employee_id: relay.GlobalID
    period: str
    period_start: date
    period_end: date
    score: Decimal | None = None
    grade: str | None = None
    reviewer: str | None = None
    comments: str | None = None
    source: AppraisalSource = AppraisalSource.ENTERED
    external_key: str | None = None


@strawberry.input
class AppraisalUpdateInput:
    id: relay.GlobalID
    period: str | None = strawberry.UNSET
    period_start: date | None = strawberry.UNSET
    period_end: date | None = strawberry.UNSET
    score: Decimal | None = strawberry.UNSET
    grade: str | None = strawberry.UNSET
    reviewer: str | None = strawberry.UNSET
    comments: str | None = strawberry.UNSET
    external_key: str | None = strawberry.UNSET


@strawberry.input(description="One appraisal of an ERP sync, keyed by its external key.")
class AppraisalUpsertInput:
    external_key: str
    employee_number: str
    period: str
    period_start: date
    period_end: date
    score: Decimal | None = None
    grade: str | None = None
    reviewer: str | None = None
    comments: str | None = None


@strawberry.type
class EngagementPayload:
    engagement: EngagementType


@strawberry.type
class EngagementError(Error):
    pass


@strawberry.type
class EngagementUpsertItemResult:
    key: str
    outcome: Outcome
    engagement: EngagementType | None
    error: ItemError | None


@strawberry.type
class EngagementsUpsertPayload:
    results: list[EngagementUpsertItemResult]


@strawberry.type
class AppraisalPayload:
    appraisal: AppraisalType


@strawberry.type
class AppraisalError(Error):
    pass


@strawberry.type
class AppraisalUpsertItemResult:
    key: str
    outcome: Outcome
    appraisal: AppraisalType | None
    error: ItemError | None


@strawberry.type
class AppraisalsUpsertPayload:
    results: list[AppraisalUpsertItemResult]


EngagementResult = Annotated[
    EngagementPayload | EngagementError, strawberry.union("EngagementResult")
]
EngagementsUpsertResult = Annotated[
    EngagementsUpsertPayload | EngagementError, strawberry.union("EngagementsUpsertResult")
]
AppraisalResult = Annotated[AppraisalPayload | AppraisalError, strawberry.union("AppraisalResult")]
AppraisalsUpsertResult = Annotated[
    AppraisalsUpsertPayload | AppraisalError, strawberry.union("AppraisalsUpsertResult")
]


# --- helpers -------------------------------------------------------------------------------


def _given(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


def _outcomes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise invalid(
        "outcomes", "must be an object of outcome codes to numbers", "须为结果代码到数值的对象"
    )


async def _person(info: Info, global_id: relay.GlobalID, operation: str) -> UUID:
    from api.people import employee_id_of

    return await employee_id_of(info, global_id, operation, "employeeId")


async def _engagement(info: Info, global_id: relay.GlobalID, operation: str) -> Engagement:
    """The engagement, if its person is within the caller's reach for ``operation``."""
    engagement_id = require_node_id(global_id, "Engagement", "engagement", "经历")
    row = await history_repo.get_engagement(info.context.tenant_id, engagement_id)
    if row is None or not await _reachable(info.context, row.employee_id, operation):
        raise engagement_not_found()
    return row


async def _appraisal(info: Info, global_id: relay.GlobalID, operation: str) -> Appraisal:
    appraisal_id = require_node_id(global_id, "Appraisal", "appraisal", "考核结果")
    row = await history_repo.get_appraisal(info.context.tenant_id, appraisal_id)
    if row is None or not await _reachable(info.context, row.employee_id, operation):
        raise appraisal_not_found()
    return row


async def _employees_by_number(info: Info, numbers: Sequence[str]) -> dict[str, UUID]:
    rows = await people_repo.get_employees_by_number(info.context.tenant_id, sorted(set(numbers)))
    return {row.employee_number: row.id for row in rows if row.archived_at is None}


def _unknown_person() -> ServiceError:
    return not_found("employee", "员工", field="employeeNumber")


async def _upsert(
    keys: Sequence[str],
    prepared: Sequence[T | ServiceError],
    run: Callable[[list[T]], Awaitable[list[UpsertResult]]],
) -> list[UpsertResult]:
    """Results in input order: items that failed before the service, and the service's own."""
    check_batch_size(len(prepared))
    ready = [item for item in prepared if not isinstance(item, ServiceError)]
    done = iter(await run(ready))
    return [
        failed(key, item) if isinstance(item, ServiceError) else next(done)
        for key, item in zip(keys, prepared, strict=True)
    ]


# --- mutations -----------------------------------------------------------------------------


@strawberry.type
class HistoryMutations:
    @root_mutation(description="Record an engagement (a project, class or course) of a person.")
    async def create_engagement(self, info: Info, input: EngagementCreateInput) -> EngagementResult:
        tenant = info.context.tenant_id

        async def create() -> Engagement:
            changes = EngagementChanges(
                employee_id=await _person(info, input.employee_id, "Mutation.createEngagement"),
                kind=input.kind,
                name=input.name,
                role=input.role,
                started_on=input.started_on,
                ended_on=input.ended_on,
                outcomes=_outcomes(input.outcomes),
                skill_ids=[skill_id_of(s, "skillIds") for s in input.skill_ids],
                external_key=input.external_key,
            )
            return await engagement_service.create(tenant, changes)

        result = await attempt(create)
        if isinstance(result, ServiceError):
            return error_from(EngagementError, result)
        return EngagementPayload(engagement=EngagementType.from_model(result))

    @root_mutation(description="Change an engagement; fields left out keep their value.")
    async def update_engagement(self, info: Info, input: EngagementUpdateInput) -> EngagementResult:
        tenant = info.context.tenant_id
        operation = "Mutation.updateEngagement"

        async def update() -> Engagement:
            row = await _engagement(info, input.id, operation)
            moved_to = input.employee_id
            skill_ids = input.skill_ids
            changes = EngagementChanges(
                employee_id=KEEP
                if moved_to is strawberry.UNSET or moved_to is None
                else await _person(info, moved_to, operation),
                kind=KEEP if input.kind in (strawberry.UNSET, None) else input.kind,
                name=KEEP if input.name in (strawberry.UNSET, None) else input.name,
                role=_given(input.role),
                started_on=KEEP
                if input.started_on in (strawberry.UNSET, None)
                else input.started_on,
                ended_on=_given(input.ended_on),
                outcomes=KEEP if input.outcomes is strawberry.UNSET else _outcomes(input.outcomes),
                skill_ids=KEEP
                if skill_ids is strawberry.UNSET
                else [skill_id_of(s, "skillIds") for s in skill_ids or []],
                external_key=_given(input.external_key),
            )
            return await engagement_service.update(tenant, row.id, changes)

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(EngagementError, result)
        return EngagementPayload(engagement=EngagementType.from_model(result))

    @root_mutation(description="Archive an engagement: kept, but out of profiles and baselines.")
    async def archive_engagement(self, info: Info, id: relay.GlobalID) -> EngagementResult:
        tenant = info.context.tenant_id

        async def archive() -> Engagement:
            row = await _engagement(info, id, "Mutation.archiveEngagement")
            return await engagement_service.archive(tenant, row.id)

        result = await attempt(archive)
        if isinstance(result, ServiceError):
            return error_from(EngagementError, result)
        return EngagementPayload(engagement=EngagementType.from_model(result))

    @root_mutation(
        description="Create or update up to 500 engagements by external key (ERP sync). "
        "Idempotent; one result per item, in order."
    )
    async def upsert_engagements(
        self, info: Info, items: list[EngagementUpsertInput]
    ) -> EngagementsUpsertResult:
        tenant = info.context.tenant_id

        async def upsert() -> list[UpsertResult]:
            check_batch_size(len(items))
            people = await _employees_by_number(info, [i.employee_number for i in items])
            names = sorted({name for item in items for name in item.skills})
            skills = await skill_service.resolve_many(tenant, names)

            def prepare(item: EngagementUpsertInput) -> EngagementChanges | ServiceError:
                unknown = [name for name in item.skills if name not in skills]
                if item.employee_number not in people:
                    return _unknown_person()
                if unknown:
                    return invalid("skills", f"unknown skills: {unknown}", f"未知技能：{unknown}")
                try:
                    outcomes = _outcomes(item.outcomes)
                except ServiceError as exc:
                    return exc
                return EngagementChanges(
                    employee_id=people[item.employee_number],
                    kind=item.kind,
                    name=item.name,
                    role=item.role,
                    started_on=item.started_on,
                    ended_on=item.ended_on,
                    outcomes=outcomes,
                    skill_ids=sorted({skills[name].id for name in item.skills}),
                    external_key=item.external_key,
                )

            return await _upsert(
                [i.external_key for i in items],
                [prepare(i) for i in items],
                lambda ready: engagement_service.upsert(tenant, ready),
            )

        result = await attempt(upsert)
        if isinstance(result, ServiceError):
            return error_from(EngagementError, result)
        return EngagementsUpsertPayload(
            results=[
                EngagementUpsertItemResult(
                    key=r.key,
                    outcome=r.outcome,
                    engagement=EngagementType.from_model(r.record) if r.record else None,
                    error=item_error(r.error) if r.error is not None else None,
                )
                for r in result
            ]
        )

    @root_mutation(description="Record a past appraisal result of a person.")
    async def create_appraisal(self, info: Info, input: AppraisalCreateInput) -> AppraisalResult:
        tenant = info.context.tenant_id

        async def create() -> Appraisal:
            changes = AppraisalChanges(
                employee_id=await _person(info, input.employee_id, "Mutation.createAppraisal"),
                period=input.period,
                period_start=input.period_start,
                period_end=input.period_end,
                score=input.score,
                grade=input.grade,
                reviewer=input.reviewer,
                comments=input.comments,
                source=input.source,
                external_key=input.external_key,
            )
            return await appraisal_service.create(tenant, changes)

        result = await attempt(create)
        if isinstance(result, ServiceError):
            return error_from(AppraisalError, result)
        return AppraisalPayload(appraisal=AppraisalType.from_model(result))

    @root_mutation(description="Change an appraisal; fields left out keep their value.")
    async def update_appraisal(self, info: Info, input: AppraisalUpdateInput) -> AppraisalResult:
        tenant = info.context.tenant_id

        async def update() -> Appraisal:
            row = await _appraisal(info, input.id, "Mutation.updateAppraisal")
            changes = AppraisalChanges(
                period=KEEP if input.period in (strawberry.UNSET, None) else input.period,
                period_start=KEEP
                if input.period_start in (strawberry.UNSET, None)
                else input.period_start,
                period_end=KEEP
                if input.period_end in (strawberry.UNSET, None)
                else input.period_end,
                score=_given(input.score),
                grade=_given(input.grade),
                reviewer=_given(input.reviewer),
                comments=_given(input.comments),
                external_key=_given(input.external_key),
            )
            return await appraisal_service.update(tenant, row.id, changes)

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(AppraisalError, result)
        return AppraisalPayload(appraisal=AppraisalType.from_model(result))

    @root_mutation(description="Archive an appraisal: kept, but out of profiles and baselines.")
    async def archive_appraisal(self, info: Info, id: relay.GlobalID) -> AppraisalResult:
        tenant = info.context.tenant_id

        async def archive() -> Appraisal:
            row = await _appraisal(info, id, "Mutation.archiveAppraisal")
            return await appraisal_service.archive(tenant, row.id)

        result = await attempt(archive)
        if isinstance(result, ServiceError):
            return error_from(AppraisalError, result)
        return AppraisalPayload(appraisal=AppraisalType.from_model(result))

    @root_mutation(
        description="Create or update up to 500 appraisals by external key (ERP sync). "
        "Idempotent; one result per item, in order."
    )
    async def upsert_appraisals(
        self, info: Info, items: list[AppraisalUpsertInput]
    ) -> AppraisalsUpsertResult:
        tenant = info.context.tenant_id

        async def upsert() -> list[UpsertResult]:
            check_batch_size(len(items))
            people = await _employees_by_number(info, [i.employee_number for i in items])

            def prepare(item: AppraisalUpsertInput) -> AppraisalChanges | ServiceError:
                if item.employee_number not in people:
                    return _unknown_person()
                return AppraisalChanges(
                    employee_id=people[item.employee_number],
                    period=item.period,
                    period_start=item.period_start,
                    period_end=item.period_end,
                    score=item.score,
                    grade=item.grade,
                    reviewer=item.reviewer,
                    comments=item.comments,
                    source=AppraisalSource.IMPORTED,
                    external_key=item.external_key,
                )

            return await _upsert(
                [i.external_key for i in items],
                [prepare(i) for i in items],
                lambda ready: appraisal_service.upsert(tenant, ready),
            )

        result = await attempt(upsert)
        if isinstance(result, ServiceError):
            return error_from(AppraisalError, result)
        return AppraisalsUpsertPayload(
            results=[
                AppraisalUpsertItemResult(
                    key=r.key,
                    outcome=r.outcome,
                    appraisal=AppraisalType.from_model(r.record) if r.record else None,
                    error=item_error(r.error) if r.error is not None else None,
                )
                for r in result
            ]
        )
