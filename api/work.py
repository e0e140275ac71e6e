"""GraphQL of work items and matching: ``WorkItem``, its lifecycle mutations, ticket-system
upserts, the pack's kinds, capability matching and the sales view.

Work items belong to no org unit, so a matrix row's reach reads as: ``tenant`` sees every
item; any narrower reach sees only the items the caller is involved in through their own
employee record, as requester or assignee (a caller without a record sees none). Actions
that only the people doing the work may take (start, deliver) ask for an assignee. An item
out of reach answers exactly like one that does not exist: ``null`` from queries,
``NOT_FOUND`` from mutations.

People shown on items and candidates (requester, answerer, assignees) follow the caller's
``Node.Employee`` reach: their ids are always there, their records only when readable.
Lists batch through per-request loaders: a page of items costs the same statements for any
number of items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, bad_input_from, error_from, item_error
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.loading import later, now_or_later, prime
from api.graphql.mutations import attempt
from api.graphql.relay import (
    PAGE_SIZE,
    node_type,
    paginated,
    parse_node_id,
    require_node_id,
    to_connection,
)
from api.org import OrgUnitType, unit_loader
from api.people import EmployeeType, SkillRequirementInput, employee_loader
from api.skills import SkillType, skill_loader
from api.tenancy import LocalizedText
from domain.changes import Outcome
from domain.org import repository as org_repo
from domain.people import repository as people_repo
from domain.skills.service import skill_service
from domain.templates.indicators import Text
from domain.templates.registry import PackFile
from domain.templates.service import known_pack, pack_of
from domain.templates.work_items import CAUSES, FactDerivation, WorkItemKind
from domain.work import matching
from domain.work import repository as work_repo
from domain.work.derivation import is_late
from domain.work.models import FoundIn, Verdict, WorkItem, WorkItemAssignee, WorkStatus
from domain.work.repository import ItemFilter, SalesFigures
from domain.work.service import (
    MAX_ITEMS_PER_CALL,
    Assignment,
    TimesCorrection,
    UpsertResult,
    WorkItemInput,
    item_not_found,
    work_items,
)
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID

WorkStatusType = strawberry.enum(
    WorkStatus,
    name="WorkStatus",
    description="Where an item stands: NEW, ANSWERED (feasibility), PLANNED (a date "
    "promised), IN_PROGRESS, DELIVERED, CLOSED, or CANCELLED.",
)
VerdictType = strawberry.enum(
    Verdict, name="Verdict", description="R&D's feasibility answer to a request."
)
FoundInType = strawberry.enum(
    FoundIn, name="FoundIn", description="Where a defect was found: in test or in production."
)


@strawberry.enum(
    name="DelayCause",
    description="Why a late item was late, or what caused a complaint: RD (R&D), "
    "SALES_OVERPROMISE (promised before the date the system showed feasible), "
    "CUSTOMER_CHANGE (the customer changed the request), EXTERNAL (outside everyone's hands).",
)
class DelayCause(StrEnum):
    RD = "rd"
    SALES_OVERPROMISE = "sales_overpromise"
    CUSTOMER_CHANGE = "customer_change"
    EXTERNAL = "external"


CAUSE_LABELS: dict[DelayCause, Text] = {
    DelayCause.RD: Text(en="R&D", zh="研发原因"),
    DelayCause.SALES_OVERPROMISE: Text(en="Sales over-promise", zh="销售过度承诺"),
    DelayCause.CUSTOMER_CHANGE: Text(en="Customer change", zh="客户需求变更"),
    DelayCause.EXTERNAL: Text(en="External", zh="外部原因"),
}
NO_CAUSE_LABEL = Text(en="No cause recorded yet", zh="尚未记录原因")

if {cause.value for cause in DelayCause} != set(CAUSES):  # pragma: no cover - a coding slip
    raise RuntimeError("DelayCause and domain.templates.work_items.CAUSES disagree")

WORK_ITEMS_OPERATION = "Query.workItems"
WORK_ITEM_OPERATION = "Query.workItem"
WORK_ITEM_NODE = "Node.WorkItem"
SALES_VIEW_OPERATION = "Query.salesView"
EMPLOYEE_NODE = "Node.Employee"
# Who may record a feasibility answer in someone else's name (administrators fixing records).
ANSWER_ON_BEHALF_ROW = "Field.FeasibilityAnswerInput.answeredById"

EMPTY_PAGE: Page[Any] = Page(items=[], cursors=[], has_next_page=False, has_previous_page=False)
NO_FIGURES = SalesFigures(
    by_status={},
    answered=0,
    answered_within_24h=0,
    promised=0,
    overpromised=0,
    delivered_late=0,
    late_by_cause={},
)


# --- loaders (per request) and reach -----------------------------------------------------------


async def _items_by_id(tenant: TenantID, ids: Sequence[UUID]) -> list[WorkItem]:
    return list((await work_repo.items_by_id(tenant, ids)).values())


def item_loader(context: RequestContext) -> DataLoader[UUID, WorkItem | None]:
    return context.loaders.by_id("work_items", _items_by_id)


def assignees_loader(context: RequestContext) -> DataLoader[UUID, list[WorkItemAssignee]]:
    """Assignees of items: a whole page's in one statement."""
    return context.loaders.grouped("work_item_assignees", work_repo.assignees_of)


def defects_loader(context: RequestContext) -> DataLoader[UUID, list[WorkItem]]:
    """Items linked to items (their defects): a whole page's in one statement."""
    return context.loaders.grouped("work_item_defects", work_repo.items_linked_to)


def _forget_items(context: RequestContext) -> None:
    """After a change, what the loaders hold of items (rows, assignees, links) may be stale."""
    for loader in (item_loader, assignees_loader, defects_loader):
        loader(context).clear_all()


@dataclass(frozen=True)
class ItemReach:
    """Which items a caller reaches through an operation: all of them, or those their own
    employee record requested or is assigned to."""

    everyone: bool
    employee_id: UUID | None = None

    def requested(self, item: WorkItem) -> bool:
        return self.employee_id is not None and item.requester_id == self.employee_id

    def works_on(self, assignees: Sequence[WorkItemAssignee]) -> bool:
        if self.everyone:
            return True
        return self.employee_id is not None and any(
            a.employee_id == self.employee_id for a in assignees
        )


async def item_reach(context: RequestContext, operation: str) -> ItemReach:
    visibility = await context.visibility(operation)
    if visibility.everyone:
        return ItemReach(everyone=True)
    # A narrower visibility carries the caller's own record (and a manager's units, which
    # items, belonging to no unit, cannot use).
    return ItemReach(everyone=False, employee_id=next(iter(visibility.employee_ids), None))


async def _reachable(
    context: RequestContext, row: WorkItem | None, operation: str, *, assignee_only: bool = False
) -> bool:
    if row is None:
        return False
    reach = await item_reach(context, operation)
    if reach.everyone:
        return True
    if reach.employee_id is None:
        return False
    if not assignee_only and reach.requested(row):
        return True
    return reach.works_on(await assignees_loader(context).load(row.id))


async def _reachable_items(
    context: RequestContext, rows: list[WorkItem], operation: str
) -> list[WorkItem]:
    reach = await item_reach(context, operation)
    if reach.everyone:
        return rows
    if reach.employee_id is None:
        return []
    people = await assignees_loader(context).load_many([row.id for row in rows])
    return [
        row
        for row, assignees in zip(rows, people, strict=True)
        if reach.requested(row) or reach.works_on(assignees)
    ]


async def _visible_employee(info: Info, employee_id: UUID | None) -> EmployeeType | None:
    if employee_id is None:
        return None
    person = await employee_loader(info.context).load(employee_id)
    if person is None or not (await info.context.visibility(EMPLOYEE_NODE)).allows(person):
        return None
    return EmployeeType.from_model(person)


def _gid(type_name: str, value: UUID | None) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(value)) if value is not None else None


def _cause(value: str | None) -> DelayCause | None:
    return DelayCause(value) if value in CAUSES else None


# --- the pack's kinds --------------------------------------------------------------------------


@strawberry.type(
    name="WorkItemFactDerivation",
    description="A fact an item of a kind derives for the indicators, and about whom.",
)
class FactDerivationType:
    fact_kind: str = strawberry.field(description="The fact kind recorded.")
    measure: str = strawberry.field(
        description="What the fact's value is: hours_to_answer, hours_to_deliver, cycle_days, "
        "on_time, linked_defects, found_in_production or one."
    )
    about: str = strawberry.field(
        description="Whom the fact is about: answerer, assignees or linked_assignees."
    )
    causes: list[DelayCause] = strawberry.field(
        description="Only items with one of these causes derive it; empty: every item."
    )

    @classmethod
    def from_definition(cls, derivation: FactDerivation) -> FactDerivationType:
        return cls(
            fact_kind=derivation.fact_kind,
            measure=derivation.measure,
            about=derivation.about,
            causes=[DelayCause(cause) for cause in derivation.causes],
        )


@strawberry.type(name="WorkItemKind", description="A kind of work item of the tenant's pack.")
class WorkItemKindType:
    code: str = strawberry.field(description="The code items carry as their kind.")
    name: LocalizedText = strawberry.field(description="The kind's name in zh and en.")
    requester: str = strawberry.field(
        description="Who asks for items of this kind: sales, customer, student or colleague."
    )
    feasibility: bool = strawberry.field(description="R&D answers whether it can be done.")
    promise: bool = strawberry.field(
        description="A date is promised; a late item needs a delay cause when closed."
    )
    defect: bool = strawberry.field(
        description="A defect, found in test or production, linked to the work it was found in."
    )
    caused: bool = strawberry.field(description="Items carry a cause (complaints).")
    facts: list[FactDerivationType] = strawberry.field(
        description="The facts each item derives for the indicators."
    )

    @classmethod
    def from_definition(cls, kind: WorkItemKind) -> WorkItemKindType:
        return cls(
            code=kind.code,
            name=LocalizedText.of(kind.name),
            requester=kind.requester,
            feasibility=kind.feasibility,
            promise=kind.promise,
            defect=kind.defect,
            caused=kind.caused,
            facts=[FactDerivationType.from_definition(d) for d in kind.facts],
        )


def _kind_name(pack: PackFile, code: str) -> LocalizedText | None:
    kind = pack.work_item_kind(code)
    return LocalizedText.of(kind.name) if kind is not None else None


# --- work items --------------------------------------------------------------------------------


@strawberry.type(name="WorkItemSkill", description="A skill the work needs, at a minimum level.")
class WorkItemSkillType:
    min_level: int = strawberry.field(description="1 (aware) to 5 (expert).")
    skill_uuid: strawberry.Private[UUID]

    @field(description="The skill of the catalogue.")
    def skill_id(self) -> relay.GlobalID:
        return relay.GlobalID("Skill", str(self.skill_uuid))

    @field(description="The skill; null if it has left the catalogue.")
    async def skill(self, info: Info) -> SkillType | None:
        row = await skill_loader(info.context).load(self.skill_uuid)
        return SkillType.from_model(row) if row is not None else None


@strawberry.type(name="WorkItemAssignee", description="A person working on an item.")
class WorkItemAssigneeType:
    share: float = strawberry.field(
        description="Their part of the work, above 0 and at most 1; an item's shares add up "
        "to 1. Derived facts (cycle days per point) count in proportion."
    )
    person: strawberry.Private[UUID]

    @classmethod
    def from_model(cls, row: WorkItemAssignee) -> WorkItemAssigneeType:
        return cls(share=row.share, person=row.employee_id)

    @field(description="The person's id.")
    def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.person))

    @field(description="The person, if the caller may read their record.")
    async def employee(self, info: Info) -> EmployeeType | None:
        return await _visible_employee(info, self.person)


def _assignee_types(rows: list[WorkItemAssignee]) -> list[WorkItemAssigneeType]:
    return [WorkItemAssigneeType.from_model(row) for row in rows]


@strawberry.type(
    name="WorkItem",
    description="A piece of work asked for, answered, promised, done and closed: a "
    "requirement, a defect, a complaint, homework or a question. Its timestamps are the "
    "source of the facts it derives for the indicators.",
)
class WorkItemType(relay.Node):
    id: relay.NodeID[str]
    kind: str = strawberry.field(description="A work item kind of the tenant's pack.")
    title: str = strawberry.field(description="What is asked for.")
    customer: str | None = strawberry.field(
        description="The customer (R&D) or the class (school) it is for."
    )
    requester_name: str | None = strawberry.field(
        description="Who asked, when not a person on the records (a student, a customer)."
    )
    size: float | None = strawberry.field(description="Its size in story points.")
    status: WorkStatus = strawberry.field(description="Where the item stands.")
    requested_at: datetime = strawberry.field(description="When it was asked for.")
    answered_at: datetime | None = strawberry.field(description="When R&D answered.")
    verdict: Verdict | None = strawberry.field(description="R&D's feasibility answer.")
    estimate_days: float | None = strawberry.field(description="R&D's estimate, in days.")
    answer_note: str | None = strawberry.field(description="R&D's note with the answer.")
    promised_on: date | None = strawberry.field(
        description="The date promised to the requester (kept when delivered by its end, UTC)."
    )
    promised_at: datetime | None = strawberry.field(description="When the date was promised.")
    feasible_on: date | None = strawberry.field(
        description="The earliest date matching showed feasible when the date was promised."
    )
    overpromised: bool = strawberry.field(
        description="The promised date was earlier than feasibleOn: a late delivery then "
        "defaults to SALES_OVERPROMISE."
    )
    started_at: datetime | None = strawberry.field(description="When work started.")
    delivered_at: datetime | None = strawberry.field(description="When it was delivered.")
    closed_at: datetime | None = strawberry.field(description="When it was closed.")
    cancelled_at: datetime | None = strawberry.field(description="When it was cancelled.")
    cause_comment: str | None = strawberry.field(
        description="Why the cause was set or changed, or why the item was cancelled."
    )
    found_in: FoundIn | None = strawberry.field(description="For a defect: where it was found.")
    source: str = strawberry.field(description="Where it comes from (api, a ticket system).")
    external_key: str | None = strawberry.field(
        description="The source's key: upserts with the same source and key update this item."
    )
    created_at: datetime = strawberry.field(description="When it was recorded here.")
    updated_at: datetime = strawberry.field(description="When it last changed here.")
    row: strawberry.Private[WorkItem]

    @classmethod
    def from_model(cls, row: WorkItem) -> WorkItemType:
        return cls(
            id=str(row.id),
            kind=row.kind,
            title=row.title,
            customer=row.customer,
            requester_name=row.requester_name,
            size=row.size,
            status=row.status,
            requested_at=row.requested_at,
            answered_at=row.answered_at,
            verdict=row.verdict,
            estimate_days=row.estimate_days,
            answer_note=row.answer_note,
            promised_on=row.promised_on,
            promised_at=row.promised_at,
            feasible_on=row.feasible_on,
            overpromised=row.overpromised,
            started_at=row.started_at,
            delivered_at=row.delivered_at,
            closed_at=row.closed_at,
            cancelled_at=row.cancelled_at,
            cause_comment=row.cause_comment,
            found_in=row.found_in,
            source=row.source,
            external_key=row.external_key,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @field(description="The kind's name in zh and en, from the pack.")
    def kind_name(self, info: Info) -> LocalizedText | None:
        pack = known_pack(info.context.tenant_id)
        if pack is None:
            return later(self._kind_name_later(info))
        return _kind_name(pack, self.row.kind)

    async def _kind_name_later(self, info: Info) -> LocalizedText | None:
        return _kind_name(await pack_of(info.context.tenant_id), self.row.kind)

    @field(description="The person on the records who asked for it.")
    def requester_id(self) -> relay.GlobalID | None:
        return _gid("Employee", self.row.requester_id)

    @field(description="The person who asked for it, if the caller may read their record.")
    async def requester(self, info: Info) -> EmployeeType | None:
        return await _visible_employee(info, self.row.requester_id)

    @field(description="The unit it is for.")
    def org_unit_id(self) -> relay.GlobalID | None:
        return _gid("OrgUnit", self.row.org_unit_id)

    @field(description="The unit it is for.")
    async def org_unit(self, info: Info) -> OrgUnitType | None:
        if self.row.org_unit_id is None:
            return None
        unit = await unit_loader(info.context).load(self.row.org_unit_id)
        return OrgUnitType.from_model(unit) if unit is not None else None

    @field(description="The skills it needs, each at a minimum level.")
    def skills(self) -> list[WorkItemSkillType]:
        return [
            WorkItemSkillType(min_level=int(need["minLevel"]), skill_uuid=UUID(need["skillId"]))
            for need in self.row.skills
        ]

    @field(description="Who answered the feasibility question.")
    def answered_by_id(self) -> relay.GlobalID | None:
        return _gid("Employee", self.row.answered_by)

    @field(description="Who answered, if the caller may read their record.")
    async def answered_by(self, info: Info) -> EmployeeType | None:
        return await _visible_employee(info, self.row.answered_by)

    @field(description="Who works on it, largest share first.")
    def assignees(self, info: Info) -> list[WorkItemAssigneeType]:
        return now_or_later(assignees_loader(info.context), self.row.id, _assignee_types)

    @field(description="Why it was late, once delivered after the promised date.")
    def delay_cause(self) -> DelayCause | None:
        return _cause(self.row.delay_cause)

    @field(description="For a complaint: what caused it.")
    def cause(self) -> DelayCause | None:
        return _cause(self.row.cause)

    @field(description="Delivered after the end of the promised day (UTC).")
    def late(self) -> bool:
        return is_late(self.row)

    @field(description="For a defect: the item it was found in.")
    def linked_item_id(self) -> relay.GlobalID | None:
        return _gid("WorkItem", self.row.linked_item_id)

    @field(description="For a defect: the item it was found in, if within the caller's reach.")
    async def linked_item(self, info: Info) -> WorkItemType | None:
        if self.row.linked_item_id is None:
            return None
        context = info.context
        row = await item_loader(context).load(self.row.linked_item_id)
        if row is None or not await _reachable(context, row, WORK_ITEM_NODE):
            return None
        return WorkItemType.from_model(row)

    @field(description="Defects linked to this item, oldest first, those within reach.")
    async def defects(self, info: Info) -> list[WorkItemType]:
        context = info.context
        rows = await defects_loader(context).load(self.row.id)
        return [
            WorkItemType.from_model(row)
            for row in await _reachable_items(context, rows, WORK_ITEM_NODE)
        ]


@node_type("WorkItem")
async def load_work_item(
    context: RequestContext, node_id: UUID, reach: Reach
) -> WorkItemType | None:
    row = await item_loader(context).load(node_id)
    if row is None or not await _reachable(context, row, WORK_ITEM_NODE):
        return None
    return WorkItemType.from_model(row)


# --- matching ----------------------------------------------------------------------------------


@strawberry.type(
    name="Prediction",
    description="A figure shrunk toward the level's: the person's own evidence (n) and the "
    "level's figure (baseline) with the number of people behind it.",
)
class PredictionType:
    value: float | None = strawberry.field(description="The prediction; null without history.")
    n: int = strawberry.field(description="The person's own data points behind it.")
    baseline: float | None = strawberry.field(description="The level's figure.")
    baseline_n: int = strawberry.field(description="People of the level behind the baseline.")

    @classmethod
    def of(cls, prediction: matching.Prediction) -> PredictionType:
        return cls(
            value=prediction.value,
            n=prediction.n,
            baseline=prediction.baseline,
            baseline_n=prediction.baseline_n,
        )


@strawberry.type(name="CandidateSkill", description="A candidate's level in a required skill.")
class CandidateSkillType:
    skill_id: relay.GlobalID = strawberry.field(description="The required skill.")
    level: int = strawberry.field(description="Their level in it, 1 to 5.")


@strawberry.type(
    name="MatchCandidate",
    description="A qualified person for a request, with the predictions behind their rank "
    "and targets they can reach.",
)
class MatchCandidateType:
    level: str = strawberry.field(description="Their level on the tenant's ladder.")
    skill_levels: list[CandidateSkillType] = strawberry.field(
        description="Their level in each required skill."
    )
    pace: PredictionType = strawberry.field(description="Predicted days per story point.")
    predicted_cycle_days: float | None = strawberry.field(
        description="Days to deliver, their open work first: pace x (open load + size)."
    )
    finish_probability: float | None = strawberry.field(
        description="Probability of delivering by the deadline, 0 to 1."
    )
    predicted_defect_rate: PredictionType = strawberry.field(
        description="Predicted defects per delivered item."
    )
    open_load: float = strawberry.field(description="Story points of open work on them.")
    feasible: bool = strawberry.field(
        description="Finishes by the deadline with the result's confidence, within the "
        "quality bar if one was given."
    )
    proposed_cycle_days: float | None = strawberry.field(
        description="A cycle-time target they can reach: the prediction, at most the days left."
    )
    proposed_defect_rate: float | None = strawberry.field(
        description="A defect-rate target they can reach: their predicted rate."
    )
    reasons: list[LocalizedText] = strawberry.field(
        description="What limits or qualifies the prediction, in zh and en."
    )
    person: strawberry.Private[UUID]
    unit: strawberry.Private[UUID | None]

    @classmethod
    def of(cls, candidate: matching.Candidate) -> MatchCandidateType:
        return cls(
            level=candidate.level,
            skill_levels=[
                CandidateSkillType(skill_id=relay.GlobalID("Skill", str(skill)), level=level)
                for skill, level in sorted(candidate.skill_levels.items())
            ],
            pace=PredictionType.of(candidate.pace),
            predicted_cycle_days=candidate.predicted_cycle_days,
            finish_probability=candidate.finish_probability,
            predicted_defect_rate=PredictionType.of(candidate.predicted_defect_rate),
            open_load=candidate.open_load,
            feasible=candidate.feasible,
            proposed_cycle_days=candidate.proposed_cycle_days,
            proposed_defect_rate=candidate.proposed_defect_rate,
            reasons=[
                LocalizedText(zh=zh, en=en)
                for en, zh in zip(candidate.reasons_en, candidate.reasons_zh, strict=True)
            ],
            person=candidate.employee_id,
            unit=candidate.org_unit_id,
        )

    @field(description="The person's id.")
    def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.person))

    @field(description="The person, if the caller may read their record.")
    async def employee(self, info: Info) -> EmployeeType | None:
        return await _visible_employee(info, self.person)

    @field(description="Their unit.")
    def org_unit_id(self) -> relay.GlobalID | None:
        return _gid("OrgUnit", self.unit)


@strawberry.type(
    name="MatchResult",
    description="Qualified people ranked: feasible first, then by finish probability and "
    "predicted cycle.",
)
class MatchResultType:
    candidates: list[MatchCandidateType] = strawberry.field(description="Ranked candidates.")
    earliest_feasible_date: date | None = strawberry.field(
        description="When nobody is feasible: the earliest date someone qualified finishes "
        "with the confidence (null when nobody has the history to tell). Promising earlier "
        "is over-promising."
    )
    confidence: float = strawberry.field(
        description="The probability a feasible candidate must reach, 0 to 1."
    )


@strawberry.input(description="A request to match people to: skills, size, deadline.")
class MatchInput:
    skills: list[SkillRequirementInput] = strawberry.field(
        description="Every skill needed, each at a minimum level (1-5)."
    )
    size: float = strawberry.field(description="Size in story points, above 0.")
    deadline: date = strawberry.field(description="The date it is needed by; not in the past.")
    max_defect_rate: float | None = strawberry.field(
        default=None, description="A quality bar: at most this many defects per item."
    )
    org_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Only people in this unit or below it."
    )
    limit: int = strawberry.field(default=20, description="At most this many candidates (1-100).")


def _match_request(request: MatchInput) -> matching.MatchRequest:
    needs = []
    for need in request.skills:
        skill = parse_node_id(need.skill_id, "Skill")
        if skill is None:
            raise invalid("skills", "not the id of a skill", "不是技能的 ID")
        needs.append(matching.SkillNeed(skill, need.min_level))
    unit = None
    if request.org_unit_id is not None:
        unit = parse_node_id(request.org_unit_id, "OrgUnit")
        if unit is None:
            raise invalid("orgUnitId", "not the id of an org unit", "不是组织单元的 ID")
    return matching.MatchRequest(
        skills=tuple(needs),
        size=request.size,
        deadline=request.deadline,
        max_defect_rate=request.max_defect_rate,
        org_unit_id=unit,
        limit=request.limit,
    )


# --- the sales view ----------------------------------------------------------------------------


@strawberry.type(name="WorkStatusCount", description="How many items are in a status.")
class WorkStatusCount:
    status: WorkStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="Items in it.")


@strawberry.type(name="DelayCauseCount", description="Late deliveries with one cause.")
class DelayCauseCount:
    cause: DelayCause | None = strawberry.field(description="The cause; null: none recorded yet.")
    label: LocalizedText = strawberry.field(description="The cause's name in zh and en.")
    count: int = strawberry.field(description="Late deliveries with this cause.")
    share: float | None = strawberry.field(
        description="Their share of all late deliveries, 0 to 1; null when none was late."
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@strawberry.type(
    name="SalesView",
    description="A requester's requests (or everyone's): how fast R&D answered, what was "
    "promised against what the system showed feasible, and why late deliveries were late.",
)
class SalesViewType:
    kinds: list[str] = strawberry.field(description="The kinds of items counted.")
    requested_from: datetime | None = strawberry.field(
        description="Requests from this time on (inclusive)."
    )
    requested_before: datetime | None = strawberry.field(
        description="Requests before this time (exclusive)."
    )
    total: int = strawberry.field(description="Requests counted.")
    by_status: list[WorkStatusCount] = strawberry.field(
        description="Requests in each status, every status listed."
    )
    answered: int = strawberry.field(description="Requests R&D answered.")
    answered_within_24h: int = strawberry.field(
        description="Requests answered within 24 hours of being asked."
    )
    answered_within_24h_share: float | None = strawberry.field(
        description="answeredWithin24h of answered, 0 to 1; null when none was answered."
    )
    promised: int = strawberry.field(description="Requests with a promised date.")
    overpromised: int = strawberry.field(
        description="Promised earlier than the date the system showed feasible."
    )
    overpromised_share: float | None = strawberry.field(
        description="overpromised of promised, 0 to 1; null when nothing was promised."
    )
    delivered_late: int = strawberry.field(description="Delivered after the promised date.")
    late_by_cause: list[DelayCauseCount] = strawberry.field(
        description="Late deliveries by cause: every cause, and those without one yet."
    )
    requester_uuid: strawberry.Private[UUID | None]
    where: strawberry.Private[ItemFilter | None]  # None: nothing to list

    @classmethod
    def of(
        cls,
        figures: SalesFigures,
        kinds: list[str],
        requester: UUID | None,
        where: ItemFilter | None,
    ) -> SalesViewType:
        late_causes = [
            DelayCauseCount(
                cause=cause,
                label=LocalizedText.of(CAUSE_LABELS[cause]),
                count=figures.late_by_cause.get(cause.value, 0),
                share=_share(figures.late_by_cause.get(cause.value, 0), figures.delivered_late),
            )
            for cause in DelayCause
        ]
        unknown = sum(n for c, n in figures.late_by_cause.items() if _cause(c) is None)
        if unknown:
            late_causes.append(
                DelayCauseCount(
                    cause=None,
                    label=LocalizedText.of(NO_CAUSE_LABEL),
                    count=unknown,
                    share=_share(unknown, figures.delivered_late),
                )
            )
        return cls(
            kinds=kinds,
            requested_from=where.requested_from if where is not None else None,
            requested_before=where.requested_before if where is not None else None,
            total=sum(figures.by_status.values()),
            by_status=[
                WorkStatusCount(status=status, count=figures.by_status.get(status.value, 0))
                for status in WorkStatus
            ],
            answered=figures.answered,
            answered_within_24h=figures.answered_within_24h,
            answered_within_24h_share=_share(figures.answered_within_24h, figures.answered),
            promised=figures.promised,
            overpromised=figures.overpromised,
            overpromised_share=_share(figures.overpromised, figures.promised),
            delivered_late=figures.delivered_late,
            late_by_cause=late_causes,
            requester_uuid=requester,
            where=where,
        )

    @field(description="Whose requests these are; null: everyone's.")
    def requester_id(self) -> relay.GlobalID | None:
        return _gid("Employee", self.requester_uuid)

    @field(description="Whose requests these are, if the caller may read their record.")
    async def requester(self, info: Info) -> EmployeeType | None:
        return await _visible_employee(info, self.requester_uuid)

    @field(
        description="The requests themselves, the latest first: compare promisedOn with "
        "feasibleOn, and see which were late."
    )
    async def requests(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[WorkItemType]:
        where = self.where
        if where is None:
            return to_connection(EMPTY_PAGE, WorkItemType.from_model)
        return await _page(info, where, first, after)


async def _page(
    info: Info, where: ItemFilter, first: int, after: str | None
) -> relay.Connection[WorkItemType]:
    context = info.context
    page = await paginated(
        lambda: work_repo.list_items(context.tenant_id, where, first=first, after=after)
    )
    prime(item_loader(context), {row.id: row for row in page.items})
    return to_connection(page, WorkItemType.from_model)


# --- queries -----------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """A bound as given; one without a time zone is read as UTC, as items are stored."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@strawberry.type
class WorkQueries:
    @root_field(description="The kinds of work items the tenant's pack defines.")
    async def work_item_kinds(self, info: Info) -> list[WorkItemKindType]:
        pack = await pack_of(info.context.tenant_id)
        return [WorkItemKindType.from_definition(kind) for kind in pack.work_item_kinds]

    @root_field(
        description="Work items within the caller's reach, the latest requested first. "
        "`from` is inclusive, `before` exclusive; filters combine with AND."
    )
    async def work_items(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        kinds: list[str] | None = None,
        statuses: list[WorkStatus] | None = None,
        requester_id: relay.GlobalID | None = None,
        assignee_id: relay.GlobalID | None = None,
        linked_item_id: relay.GlobalID | None = None,
        overpromised: bool | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        before: datetime | None = None,
    ) -> relay.Connection[WorkItemType]:
        nothing = to_connection(EMPTY_PAGE, WorkItemType.from_model)
        reach = await item_reach(info.context, WORK_ITEMS_OPERATION)
        if not reach.everyone and reach.employee_id is None:
            return nothing
        requester = parse_node_id(requester_id, "Employee") if requester_id else None
        assignee = parse_node_id(assignee_id, "Employee") if assignee_id else None
        linked = parse_node_id(linked_item_id, "WorkItem") if linked_item_id else None
        # An id of the wrong kind names nothing, so it matches nothing.
        if (
            (requester_id is not None and requester is None)
            or (assignee_id is not None and assignee is None)
            or (linked_item_id is not None and linked is None)
        ):
            return nothing
        where = ItemFilter(
            kinds=kinds,
            statuses=[status.value for status in statuses] if statuses is not None else None,
            requester_id=requester,
            assignee_id=assignee,
            linked_item_id=linked,
            overpromised=overpromised,
            requested_from=_utc(from_),
            requested_before=_utc(before),
            involving=None if reach.everyone else reach.employee_id,
        )
        return await _page(info, where, first, after)

    @root_field(description="A work item; null when it does not exist or is out of reach.")
    async def work_item(self, info: Info, id: relay.GlobalID) -> WorkItemType | None:
        item_id = parse_node_id(id, "WorkItem")
        if item_id is None:
            return None
        row = await item_loader(info.context).load(item_id)
        if row is None or not await _reachable(info.context, row, WORK_ITEM_OPERATION):
            return None
        return WorkItemType.from_model(row)

    @root_field(
        description="Who could take a request: qualified people ranked with predicted pace, "
        "cycle, finish probability and defect rate (each with its evidence), targets they "
        "can reach, and, when nobody makes the deadline, the earliest date someone would. "
        "An invalid request is a BAD_USER_INPUT error naming the field."
    )
    async def match_candidates(self, info: Info, input: MatchInput) -> MatchResultType:
        try:
            request = _match_request(input)
            result = await matching.match_candidates(info.context.tenant_id, request)
        except ServiceError as exc:
            raise bad_input_from(exc) from exc
        return MatchResultType(
            candidates=[MatchCandidateType.of(c) for c in result.candidates],
            earliest_feasible_date=result.earliest_feasible_date,
            confidence=result.confidence,
        )

    @root_field(
        description="The sales view of requests: answers within 24 h, promises against "
        "feasible dates, late deliveries by cause, and the requests. Sales see their own "
        "requests only (someone else's requesterId answers as an empty view); others see "
        "anyone's, or everyone's without requesterId. kinds default to those sales request."
    )
    async def sales_view(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        before: datetime | None = None,
        requester_id: relay.GlobalID | None = None,
        kinds: list[str] | None = None,
    ) -> SalesViewType:
        context = info.context
        tenant = context.tenant_id
        if kinds is None:
            pack = await pack_of(tenant)
            kinds = [kind.code for kind in pack.work_item_kinds if kind.requester == "sales"]
        requester = parse_node_id(requester_id, "Employee") if requester_id else None
        reach = await item_reach(context, SALES_VIEW_OPERATION)
        nobody = requester_id is not None and requester is None
        if not reach.everyone:
            nobody = nobody or reach.employee_id is None
            nobody = nobody or (requester is not None and requester != reach.employee_id)
            requester = reach.employee_id
        if nobody or not kinds:
            return SalesViewType.of(NO_FIGURES, kinds, requester, None)
        requested_from, requested_before = _utc(from_), _utc(before)
        figures = await work_repo.sales_figures(
            tenant,
            kinds,
            requester_id=requester,
            requested_from=requested_from,
            requested_before=requested_before,
        )
        where = ItemFilter(
            kinds=kinds,
            requester_id=requester,
            requested_from=requested_from,
            requested_before=requested_before,
        )
        return SalesViewType.of(figures, kinds, requester, where)


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input(description="A new work item, as a person records it.")
class WorkItemCreateInput:
    kind: str = strawberry.field(description="A work item kind of the tenant's pack.")
    title: str = strawberry.field(description="What is asked for, 1-300 characters.")
    customer: str | None = strawberry.field(
        default=None, description="The customer (R&D) or the class (school) it is for."
    )
    requester_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Who asks, on the records. Sales always request as themselves (the "
        "default for them); others may name anyone or leave it out.",
    )
    requester_name: str | None = strawberry.field(
        default=None, description="Who asks, when not on the records; not with requesterId."
    )
    org_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The unit it is for."
    )
    skills: list[SkillRequirementInput] = strawberry.field(
        default_factory=list, description="Skills it needs, each at a minimum level (1-5)."
    )
    size: float | None = strawberry.field(default=None, description="Story points, above 0.")
    found_in: FoundIn | None = strawberry.field(
        default=None, description="For a defect: where it was found."
    )
    linked_item_id: relay.GlobalID | None = strawberry.field(
        default=None, description="For a defect: the item it was found in."
    )
    cause: DelayCause | None = strawberry.field(
        default=None, description="For a complaint: what caused it."
    )
    requested_at: datetime | None = strawberry.field(
        default=None, description="When it was asked for, with its offset; default: now."
    )
    source: str = strawberry.field(default="api", description="Where it comes from.")
    external_key: str | None = strawberry.field(
        default=None, description="The source's key; unique within the source."
    )


@strawberry.input(description="R&D's feasibility answer to a request.")
class FeasibilityAnswerInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    verdict: Verdict = strawberry.field(description="Feasible, not feasible, or needs change.")
    estimate_days: float | None = strawberry.field(
        default=None, description="The estimate, in days (above 0, at most 3650)."
    )
    note: str | None = strawberry.field(default=None, description="A note with the answer.")
    answered_at: datetime | None = strawberry.field(
        default=None, description="When it was answered, with its offset; default: now."
    )
    answered_by_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Who answered; default: the caller's own employee record. Only "
        "administrators record an answer in someone else's name.",
    )


@strawberry.input(description="A date promised to the requester.")
class WorkItemPromiseInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    promised_on: date = strawberry.field(
        description="The date promised; checked against the earliest date matching shows "
        "feasible now, and marked over-promised when earlier."
    )
    promised_at: datetime | None = strawberry.field(
        default=None, description="When it was promised, with its offset; default: now."
    )


@strawberry.input(description="A person working on an item and their share of it.")
class WorkItemAssigneeInput:
    employee_id: relay.GlobalID = strawberry.field(description="The person.")
    share: float = strawberry.field(
        default=1.0, description="Their part, above 0 and at most 1; shares add up to 1."
    )


@strawberry.input(description="Who works on an item, replacing whoever did.")
class WorkItemAssignInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    assignees: list[WorkItemAssigneeInput] = strawberry.field(
        description="Everyone working on it; an empty list unassigns everyone."
    )


@strawberry.input(description="Close a delivered item.")
class WorkItemCloseInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    delay_cause: DelayCause | None = strawberry.field(
        default=None,
        description="Why it was late: required for a late item without a cause; a cause "
        "different from the one recorded needs a comment.",
    )
    comment: str | None = strawberry.field(default=None, description="Why, in words.")
    closed_at: datetime | None = strawberry.field(
        default=None, description="When it was closed, with its offset; default: now."
    )


@strawberry.input(description="A late item's delay cause, or a complaint's cause, changed.")
class WorkItemCauseSetInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    cause: DelayCause = strawberry.field(description="The cause.")
    comment: str = strawberry.field(description="Why; kept in the audit log.")
    delay: bool | None = strawberry.field(
        default=None,
        description="true: why a late item was late; false: what caused a complaint. "
        "Default: by the item's kind (a kind that carries a cause sets that).",
    )


@strawberry.input(description="Link a defect to the item it was found in, or unlink it.")
class DefectLinkInput:
    id: relay.GlobalID = strawberry.field(description="The defect.")
    linked_item_id: relay.GlobalID | None = strawberry.field(
        description="The item it was found in; null unlinks it."
    )
    found_in: FoundIn = strawberry.field(description="Where it was found.")


@strawberry.input(description="Timestamps to correct; those left out stay as they are.")
class WorkItemTimesCorrectInput:
    id: relay.GlobalID = strawberry.field(description="The work item.")
    requested_at: datetime | None = strawberry.field(default=None, description="Asked for.")
    answered_at: datetime | None = strawberry.field(default=None, description="Answered.")
    started_at: datetime | None = strawberry.field(default=None, description="Started.")
    delivered_at: datetime | None = strawberry.field(default=None, description="Delivered.")
    closed_at: datetime | None = strawberry.field(default=None, description="Closed.")


@strawberry.input(description="A skill a synchronised item needs, by name or alias.")
class NamedSkillNeedInput:
    name: str = strawberry.field(description="The skill's name or one of its aliases.")
    min_level: int = strawberry.field(default=1, description="The minimum level, 1-5.")


@strawberry.input(description="A person working on a synchronised item, by employee number.")
class WorkItemAssigneeUpsertInput:
    employee_number: str = strawberry.field(description="The person's employee number.")
    share: float = strawberry.field(
        default=1.0, description="Their part, above 0 and at most 1; shares add up to 1."
    )


@strawberry.input(
    description="An item's whole state as a ticket system or ERP holds it, keyed by source "
    "and external key; its status follows from the timestamps given."
)
class WorkItemUpsertInput:
    external_key: str = strawberry.field(description="The source's key of the item.")
    source: str = strawberry.field(default="api", description="The system it comes from.")
    kind: str = strawberry.field(description="A work item kind of the tenant's pack.")
    title: str = strawberry.field(description="What is asked for, 1-300 characters.")
    customer: str | None = strawberry.field(default=None, description="Customer or class.")
    requester_number: str | None = strawberry.field(
        default=None, description="Who asked, by employee number."
    )
    requester_name: str | None = strawberry.field(
        default=None, description="Who asked, when not on the records."
    )
    org_unit_external_key: str | None = strawberry.field(
        default=None, description="The unit it is for, by external key."
    )
    skills: list[NamedSkillNeedInput] = strawberry.field(
        default_factory=list, description="Skills it needs."
    )
    size: float | None = strawberry.field(default=None, description="Story points, above 0.")
    assignees: list[WorkItemAssigneeUpsertInput] = strawberry.field(
        default_factory=list, description="Who works on it; required once started."
    )
    found_in: FoundIn | None = strawberry.field(
        default=None, description="For a defect: where it was found."
    )
    linked_item_key: str | None = strawberry.field(
        default=None,
        description="For a defect: the external key (same source) of the item it was found "
        "in, sent in an earlier call.",
    )
    cause: DelayCause | None = strawberry.field(
        default=None, description="For a complaint: what caused it."
    )
    requested_at: datetime | None = strawberry.field(
        default=None, description="When it was asked for; default: the first sync's time."
    )
    answered_at: datetime | None = strawberry.field(default=None, description="Answered.")
    answered_by_number: str | None = strawberry.field(
        default=None, description="Who answered, by employee number."
    )
    verdict: Verdict | None = strawberry.field(default=None, description="The answer.")
    estimate_days: float | None = strawberry.field(default=None, description="In days.")
    promised_on: date | None = strawberry.field(default=None, description="Date promised.")
    started_at: datetime | None = strawberry.field(default=None, description="Started.")
    delivered_at: datetime | None = strawberry.field(default=None, description="Delivered.")
    closed_at: datetime | None = strawberry.field(default=None, description="Closed.")
    cancelled_at: datetime | None = strawberry.field(default=None, description="Cancelled.")
    delay_cause: DelayCause | None = strawberry.field(
        default=None, description="Why it was late; required to close a late item."
    )


# --- results -----------------------------------------------------------------------------------


@strawberry.type(description="The item created.")
class WorkItemCreatePayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not created.")
class WorkItemCreateError(Error):
    pass


@strawberry.type(description="The item answered.")
class FeasibilityAnswerPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the answer was not recorded.")
class FeasibilityAnswerError(Error):
    pass


@strawberry.type(description="The item with its promised date.")
class WorkItemPromisePayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the date was not promised.")
class WorkItemPromiseError(Error):
    pass


@strawberry.type(description="The item with its new assignees.")
class WorkItemAssignPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not assigned.")
class WorkItemAssignError(Error):
    pass


@strawberry.type(description="The item started.")
class WorkItemStartPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not started.")
class WorkItemStartError(Error):
    pass


@strawberry.type(description="The item delivered.")
class WorkItemDeliverPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not delivered.")
class WorkItemDeliverError(Error):
    pass


@strawberry.type(description="The item closed.")
class WorkItemClosePayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not closed.")
class WorkItemCloseError(Error):
    pass


@strawberry.type(description="The item cancelled.")
class WorkItemCancelPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the item was not cancelled.")
class WorkItemCancelError(Error):
    pass


@strawberry.type(description="The item with its cause.")
class WorkItemCauseSetPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the cause was not set.")
class WorkItemCauseSetError(Error):
    pass


@strawberry.type(description="The defect, linked or unlinked.")
class DefectLinkPayload:
    work_item: WorkItemType = strawberry.field(description="The defect.")


@strawberry.type(description="Why the defect was not linked.")
class DefectLinkError(Error):
    pass


@strawberry.type(description="The item with its corrected times.")
class WorkItemTimesCorrectPayload:
    work_item: WorkItemType = strawberry.field(description="The item.")


@strawberry.type(description="Why the times were not corrected.")
class WorkItemTimesCorrectError(Error):
    pass


@strawberry.type(description="What one item of an upsert did.")
class WorkItemUpsertItemResult:
    key: str = strawberry.field(description="The item's external key, or #<position>.")
    outcome: Outcome = strawberry.field(description="Created, updated, unchanged or failed.")
    work_item: WorkItemType | None = strawberry.field(description="The item, unless it failed.")
    error: ItemError | None = strawberry.field(description="Why it failed.")


@strawberry.type(description="One result per item, in order.")
class WorkItemsUpsertPayload:
    results: list[WorkItemUpsertItemResult] = strawberry.field(description="Per item.")


@strawberry.type(description="Why no item was written (too many at once).")
class WorkItemsUpsertError(Error):
    pass


WorkItemCreateResult = Annotated[
    WorkItemCreatePayload | WorkItemCreateError, strawberry.union("WorkItemCreateResult")
]
FeasibilityAnswerResult = Annotated[
    FeasibilityAnswerPayload | FeasibilityAnswerError, strawberry.union("FeasibilityAnswerResult")
]
WorkItemPromiseResult = Annotated[
    WorkItemPromisePayload | WorkItemPromiseError, strawberry.union("WorkItemPromiseResult")
]
WorkItemAssignResult = Annotated[
    WorkItemAssignPayload | WorkItemAssignError, strawberry.union("WorkItemAssignResult")
]
WorkItemStartResult = Annotated[
    WorkItemStartPayload | WorkItemStartError, strawberry.union("WorkItemStartResult")
]
WorkItemDeliverResult = Annotated[
    WorkItemDeliverPayload | WorkItemDeliverError, strawberry.union("WorkItemDeliverResult")
]
WorkItemCloseResult = Annotated[
    WorkItemClosePayload | WorkItemCloseError, strawberry.union("WorkItemCloseResult")
]
WorkItemCancelResult = Annotated[
    WorkItemCancelPayload | WorkItemCancelError, strawberry.union("WorkItemCancelResult")
]
WorkItemCauseSetResult = Annotated[
    WorkItemCauseSetPayload | WorkItemCauseSetError, strawberry.union("WorkItemCauseSetResult")
]
DefectLinkResult = Annotated[
    DefectLinkPayload | DefectLinkError, strawberry.union("DefectLinkResult")
]
WorkItemTimesCorrectResult = Annotated[
    WorkItemTimesCorrectPayload | WorkItemTimesCorrectError,
    strawberry.union("WorkItemTimesCorrectResult"),
]
WorkItemsUpsertResult = Annotated[
    WorkItemsUpsertPayload | WorkItemsUpsertError, strawberry.union("WorkItemsUpsertResult")
]


# --- mutations ---------------------------------------------------------------------------------

P = TypeVar("P")
E = TypeVar("E", bound=Error)


async def _changed(
    info: Info,
    change: Callable[[], Awaitable[WorkItem]],
    payload: Callable[[WorkItemType], P],
    error: type[E],
) -> P | E:
    """Run a change of one item: its payload, or its error with nothing written."""
    result = await attempt(change)
    if isinstance(result, ServiceError):
        return error_from(error, result)
    _forget_items(info.context)
    return payload(WorkItemType.from_model(result))


async def _target(
    info: Info,
    global_id: relay.GlobalID,
    operation: str,
    *,
    assignee_only: bool = False,
) -> UUID:
    """The item a mutation acts on, if within the caller's reach; NOT_FOUND otherwise,
    exactly as for an item that does not exist."""
    item_id = parse_node_id(global_id, "WorkItem")
    if item_id is None:
        raise item_not_found()
    reach = await item_reach(info.context, operation)
    if reach.everyone:
        return item_id  # the service answers NOT_FOUND for a missing one
    row = await item_loader(info.context).load(item_id)
    if not await _reachable(info.context, row, operation, assignee_only=assignee_only):
        raise item_not_found()
    return item_id


def _person_id(global_id: relay.GlobalID, field_name: str) -> UUID:
    return require_node_id(global_id, "Employee", "employee", "员工", field=field_name)


async def _requester(info: Info, given: relay.GlobalID | None, operation: str) -> UUID | None:
    """Who requests: anyone (or no one) for a tenant-wide reach, else the caller themselves."""
    requester = _person_id(given, "requesterId") if given is not None else None
    reach = await item_reach(info.context, operation)
    if reach.everyone:
        return requester
    if reach.employee_id is None:
        raise invalid(
            "requesterId",
            "your account has no employee record to request as",
            "您的账号未关联员工档案，无法作为请求人",
        )
    if requester is not None and requester != reach.employee_id:
        raise not_found("employee", "员工", field="requesterId")
    return reach.employee_id


async def _answerer(info: Info, given: relay.GlobalID | None) -> UUID:
    context = info.context
    own = await context.own_employee_id()
    if given is not None:
        person = _person_id(given, "answeredById")
        if person != own and not context.allows(ANSWER_ON_BEHALF_ROW):
            # R&D answers for themselves: the answer's hours count on the answerer's card.
            raise invalid(
                "answeredById",
                "only administrators record an answer in someone else's name",
                "只有管理员可以代他人记录答复",
            )
        return person
    if own is None:
        raise invalid(
            "answeredById",
            "your account has no employee record: say who answered",
            "您的账号未关联员工档案：请注明答复人",
        )
    return own


async def _skill_needs(
    info: Info, given: Sequence[SkillRequirementInput]
) -> tuple[matching.SkillNeed, ...]:
    ids = [require_node_id(s.skill_id, "Skill", "skill", "技能", field="skills") for s in given]
    found = await skill_loader(info.context).load_many(ids)
    if any(row is None for row in found):
        raise not_found("skill", "技能", field="skills")
    return tuple(
        matching.SkillNeed(skill, need.min_level) for skill, need in zip(ids, given, strict=True)
    )


async def _unit(info: Info, given: relay.GlobalID | None) -> UUID | None:
    if given is None:
        return None
    unit = require_node_id(given, "OrgUnit", "org unit", "组织单元", field="orgUnitId")
    if await unit_loader(info.context).load(unit) is None:
        raise not_found("org unit", "组织单元", field="orgUnitId")
    return unit


async def _linked(info: Info, given: relay.GlobalID | None, operation: str) -> UUID | None:
    """A defect's item: it must be within reach of whoever links to it."""
    if given is None:
        return None
    missing = not_found("linked work item", "关联的工作项", field="linkedItemId")
    item_id = parse_node_id(given, "WorkItem")
    if item_id is None:
        raise missing
    if not (await item_reach(info.context, operation)).everyone:
        row = await item_loader(info.context).load(item_id)
        if not await _reachable(info.context, row, operation):
            raise missing
    return item_id


@dataclass(frozen=True)
class _References:
    """What a batch of upserts names by key, looked up once for the whole batch."""

    people: dict[str, UUID]
    units: dict[str, UUID]
    skills: dict[str, UUID]
    items: dict[tuple[str, str], UUID]


async def _references(info: Info, items: Sequence[WorkItemUpsertInput]) -> _References:
    tenant = info.context.tenant_id
    numbers = {
        number
        for item in items
        for number in (
            item.requester_number,
            item.answered_by_number,
            *(a.employee_number for a in item.assignees),
        )
        if number
    }
    unit_keys = {item.org_unit_external_key for item in items if item.org_unit_external_key}
    names = sorted({need.name for item in items for need in item.skills})
    linked: dict[str, set[str]] = {}
    for item in items:
        if item.linked_item_key:
            linked.setdefault(item.source, set()).add(item.linked_item_key)
    # Archived people count: a ticket system's history names people who have since left.
    people = await people_repo.employee_ids_by_number(tenant, sorted(numbers)) if numbers else {}
    units: dict[str, UUID] = {}
    if unit_keys:
        for unit in await org_repo.get_units_by_external_key(tenant, sorted(unit_keys)):
            if unit.external_key is not None:
                units[unit.external_key] = unit.id
    resolved = await skill_service.resolve_many(tenant, names)
    found: dict[tuple[str, str], UUID] = {}
    for source, keys in linked.items():
        rows = await work_repo.items_by_external_key(tenant, source, sorted(keys))
        found.update({(source, key): row.id for key, row in rows.items()})
    return _References(
        people=people,
        units=units,
        skills={name: row.id for name, row in resolved.items()},
        items=found,
    )


def _upsert_input(item: WorkItemUpsertInput, known: _References) -> WorkItemInput:
    """The domain's input; a ServiceError for a key that names nothing."""

    def person(number: str | None, field_name: str) -> UUID | None:
        if number is None:
            return None
        if number not in known.people:
            raise not_found("employee", "员工", field=field_name)
        return known.people[number]

    unit = None
    if item.org_unit_external_key is not None:
        unit = known.units.get(item.org_unit_external_key)
        if unit is None:
            raise not_found("org unit", "组织单元", field="orgUnitExternalKey")
    unknown = sorted({need.name for need in item.skills if need.name not in known.skills})
    if unknown:
        raise invalid("skills", f"unknown skills: {unknown}", f"未知技能：{unknown}")
    linked = None
    if item.linked_item_key is not None:
        linked = known.items.get((item.source, item.linked_item_key))
        if linked is None:
            raise not_found("linked work item", "关联的工作项", field="linkedItemKey")
    assignees = []
    for assignee in item.assignees:
        employee = person(assignee.employee_number, "assignees")
        assert employee is not None
        assignees.append(Assignment(employee, assignee.share))
    return WorkItemInput(
        kind=item.kind,
        title=item.title,
        requested_at=item.requested_at,
        customer=item.customer,
        requester_id=person(item.requester_number, "requesterNumber"),
        requester_name=item.requester_name,
        org_unit_id=unit,
        skills=tuple(
            matching.SkillNeed(known.skills[need.name], need.min_level) for need in item.skills
        ),
        size=item.size,
        assignees=tuple(assignees),
        found_in=item.found_in,
        linked_item_id=linked,
        cause=item.cause.value if item.cause is not None else None,
        source=item.source,
        external_key=item.external_key,
        answered_at=item.answered_at,
        answered_by=person(item.answered_by_number, "answeredByNumber"),
        verdict=item.verdict,
        estimate_days=item.estimate_days,
        promised_on=item.promised_on,
        started_at=item.started_at,
        delivered_at=item.delivered_at,
        closed_at=item.closed_at,
        cancelled_at=item.cancelled_at,
        delay_cause=item.delay_cause.value if item.delay_cause is not None else None,
    )


def _upsert_result(key: str, result: UpsertResult) -> WorkItemUpsertItemResult:
    return WorkItemUpsertItemResult(
        key=key,
        outcome=Outcome(result.outcome),
        work_item=WorkItemType.from_model(result.item) if result.item is not None else None,
        error=item_error(result.error) if result.error is not None else None,
    )


def _failed(key: str, error: ServiceError) -> WorkItemUpsertItemResult:
    return WorkItemUpsertItemResult(
        key=key, outcome=Outcome.FAILED, work_item=None, error=item_error(error)
    )


@strawberry.type
class WorkMutations:
    @root_mutation(
        description="Record a new work item (status NEW). Sales request and engineers report "
        "as themselves."
    )
    async def create_work_item(
        self, info: Info, input: WorkItemCreateInput
    ) -> WorkItemCreateResult:
        operation = "Mutation.createWorkItem"

        async def create() -> WorkItem:
            data = WorkItemInput(
                kind=input.kind,
                title=input.title,
                requested_at=input.requested_at,
                customer=input.customer,
                requester_id=await _requester(info, input.requester_id, operation),
                requester_name=input.requester_name,
                org_unit_id=await _unit(info, input.org_unit_id),
                skills=await _skill_needs(info, input.skills),
                size=input.size,
                found_in=input.found_in,
                linked_item_id=await _linked(info, input.linked_item_id, operation),
                cause=input.cause.value if input.cause is not None else None,
                source=input.source,
                external_key=input.external_key,
            )
            return await work_items.create(info.context.tenant_id, data)

        return await _changed(
            info, create, lambda item: WorkItemCreatePayload(work_item=item), WorkItemCreateError
        )

    @root_mutation(
        description="R&D's feasibility answer to a new request, recorded as the caller's "
        "(its hours count on the answerer's scorecard)."
    )
    async def answer_feasibility(
        self, info: Info, input: FeasibilityAnswerInput
    ) -> FeasibilityAnswerResult:
        async def answer() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.answerFeasibility")
            return await work_items.answer(
                info.context.tenant_id,
                item_id,
                verdict=input.verdict,
                by=await _answerer(info, input.answered_by_id),
                estimate_days=input.estimate_days,
                note=input.note,
                at=input.answered_at,
            )

        return await _changed(
            info,
            answer,
            lambda item: FeasibilityAnswerPayload(work_item=item),
            FeasibilityAnswerError,
        )

    @root_mutation(
        description="Promise a date to the requester (again, to move it). A date earlier "
        "than matching shows feasible is marked over-promised."
    )
    async def promise_work_item(
        self, info: Info, input: WorkItemPromiseInput
    ) -> WorkItemPromiseResult:
        async def promise() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.promiseWorkItem")
            return await work_items.promise(
                info.context.tenant_id, item_id, input.promised_on, at=input.promised_at
            )

        return await _changed(
            info, promise, lambda item: WorkItemPromisePayload(work_item=item), WorkItemPromiseError
        )

    @root_mutation(description="Say who works on an item and their shares (audited).")
    async def assign_work_item(
        self, info: Info, input: WorkItemAssignInput
    ) -> WorkItemAssignResult:
        async def assign() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.assignWorkItem")
            assignees = [
                Assignment(_person_id(a.employee_id, "assignees"), a.share) for a in input.assignees
            ]
            return await work_items.assign(info.context.tenant_id, item_id, assignees)

        return await _changed(
            info, assign, lambda item: WorkItemAssignPayload(work_item=item), WorkItemAssignError
        )

    @root_mutation(description="Start work on an item; an employee starts what they work on.")
    async def start_work_item(
        self, info: Info, id: relay.GlobalID, at: datetime | None = None
    ) -> WorkItemStartResult:
        async def start() -> WorkItem:
            item_id = await _target(info, id, "Mutation.startWorkItem", assignee_only=True)
            return await work_items.start(info.context.tenant_id, item_id, at=at)

        return await _changed(
            info, start, lambda item: WorkItemStartPayload(work_item=item), WorkItemStartError
        )

    @root_mutation(
        description="Deliver an item; an employee delivers what they work on. An "
        "over-promised item delivered late takes the cause SALES_OVERPROMISE."
    )
    async def deliver_work_item(
        self, info: Info, id: relay.GlobalID, at: datetime | None = None
    ) -> WorkItemDeliverResult:
        async def deliver() -> WorkItem:
            item_id = await _target(info, id, "Mutation.deliverWorkItem", assignee_only=True)
            return await work_items.deliver(info.context.tenant_id, item_id, at=at)

        return await _changed(
            info, deliver, lambda item: WorkItemDeliverPayload(work_item=item), WorkItemDeliverError
        )

    @root_mutation(description="Close a delivered item; a late one needs a delay cause.")
    async def close_work_item(self, info: Info, input: WorkItemCloseInput) -> WorkItemCloseResult:
        async def close() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.closeWorkItem")
            return await work_items.close(
                info.context.tenant_id,
                item_id,
                delay_cause=input.delay_cause.value if input.delay_cause is not None else None,
                comment=input.comment,
                at=input.closed_at,
            )

        return await _changed(
            info, close, lambda item: WorkItemClosePayload(work_item=item), WorkItemCloseError
        )

    @root_mutation(description="Cancel an open item, saying why.")
    async def cancel_work_item(
        self, info: Info, id: relay.GlobalID, reason: str, at: datetime | None = None
    ) -> WorkItemCancelResult:
        async def cancel() -> WorkItem:
            item_id = await _target(info, id, "Mutation.cancelWorkItem")
            return await work_items.cancel(info.context.tenant_id, item_id, reason, at=at)

        return await _changed(
            info, cancel, lambda item: WorkItemCancelPayload(work_item=item), WorkItemCancelError
        )

    @root_mutation(
        description="Change a late item's delay cause or a complaint's cause, with a comment "
        "(audited); the facts follow, so R&D answers only for its own delays."
    )
    async def set_work_item_cause(
        self, info: Info, input: WorkItemCauseSetInput
    ) -> WorkItemCauseSetResult:
        context = info.context

        async def set_cause() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.setWorkItemCause")
            delay = input.delay
            if delay is None:
                row = await item_loader(context).load(item_id)
                if row is None:
                    raise item_not_found()
                kind = (await pack_of(context.tenant_id)).work_item_kind(row.kind)
                delay = kind is None or not kind.caused
            return await work_items.set_cause(
                context.tenant_id,
                item_id,
                cause=input.cause.value,
                comment=input.comment,
                delay=delay,
            )

        return await _changed(
            info,
            set_cause,
            lambda item: WorkItemCauseSetPayload(work_item=item),
            WorkItemCauseSetError,
        )

    @root_mutation(
        description="Link a defect to the item it was found in (or unlink it); the facts of "
        "both items follow."
    )
    async def link_defect(self, info: Info, input: DefectLinkInput) -> DefectLinkResult:
        async def link() -> WorkItem:
            defect_id = await _target(info, input.id, "Mutation.linkDefect")
            linked = None
            if input.linked_item_id is not None:
                linked = require_node_id(
                    input.linked_item_id,
                    "WorkItem",
                    "linked work item",
                    "关联的工作项",
                    field="linkedItemId",
                )
            return await work_items.link_defect(
                info.context.tenant_id, defect_id, linked, input.found_in
            )

        return await _changed(
            info, link, lambda item: DefectLinkPayload(work_item=item), DefectLinkError
        )

    @root_mutation(
        description="Correct timestamps already recorded (audited); the facts derived from "
        "them are superseded."
    )
    async def correct_work_item_times(
        self, info: Info, input: WorkItemTimesCorrectInput
    ) -> WorkItemTimesCorrectResult:
        async def correct() -> WorkItem:
            item_id = await _target(info, input.id, "Mutation.correctWorkItemTimes")
            changes = TimesCorrection(
                requested_at=input.requested_at,
                answered_at=input.answered_at,
                started_at=input.started_at,
                delivered_at=input.delivered_at,
                closed_at=input.closed_at,
            )
            return await work_items.correct_times(info.context.tenant_id, item_id, changes)

        return await _changed(
            info,
            correct,
            lambda item: WorkItemTimesCorrectPayload(work_item=item),
            WorkItemTimesCorrectError,
        )

    @root_mutation(
        description="Create or update up to 500 items by source and external key (ticket "
        "system or ERP sync). Idempotent; one result per item, in order. Valid items are "
        "kept even when others fail."
    )
    async def upsert_work_items(
        self, info: Info, items: list[WorkItemUpsertInput]
    ) -> WorkItemsUpsertResult:
        tenant = info.context.tenant_id

        async def upsert() -> list[WorkItemUpsertItemResult]:
            if len(items) > MAX_ITEMS_PER_CALL:
                # Said before looking anything up: the service would say it only afterwards.
                raise invalid(
                    "items",
                    f"at most {MAX_ITEMS_PER_CALL} items a call",
                    f"每次最多 {MAX_ITEMS_PER_CALL} 项",
                )
            known = await _references(info, items)
            prepared: list[WorkItemInput | ServiceError] = []
            for item in items:
                try:
                    prepared.append(_upsert_input(item, known))
                except ServiceError as exc:
                    prepared.append(exc)
            ready = [p for p in prepared if not isinstance(p, ServiceError)]
            done = iter(await work_items.upsert_many(tenant, ready))
            results = []
            for index, (item, given) in enumerate(zip(items, prepared, strict=True)):
                key = item.external_key or f"#{index + 1}"
                if isinstance(given, ServiceError):
                    results.append(_failed(key, given))
                else:
                    results.append(_upsert_result(key, next(done)))
            return results

        result = await attempt(upsert)
        if isinstance(result, ServiceError):
            return error_from(WorkItemsUpsertError, result)
        _forget_items(info.context)
        return WorkItemsUpsertPayload(results=result)
