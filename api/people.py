"""GraphQL of people: ``Employee``, ``employees``, their mutations, ERP upserts, custom fields.

Which employees a caller sees follows the authorization matrix's reach: everyone, the
subtrees of the units a manager manages, or only one's own record. An employee outside that
answers exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from api.feedback import (
    NAMED_FIELD,
    SUMMARY_FIELD,
    FeedbackSummaryType,
    FeedbackType,
    known_reads_named,
    reads_named,
    summary_loader,
    summary_type,
)
from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, bad_input_from, error_from, item_error
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.loading import later, now_or_later, prime, selected_below
from api.graphql.mutations import attempt
from api.graphql.relay import (
    PAGE_SIZE,
    node_type,
    paginated,
    parse_node_id,
    require_node_id,
    to_connection,
)
from api.history import (
    APPRAISALS_FIELD,
    AppraisalType,
    EngagementType,
    latest_appraisal_loader,
)
from api.org import OrgUnitType, unit_loader
from api.skills import EmployeeSkillType, SkillEvent, current_skills_loader, skill_id_of
from api.tenancy import LocalizedText
from api.users import UserType
from domain.changes import KEEP, Outcome
from domain.feedback.service import feedback_service
from domain.history.models import Appraisal
from domain.history.service import appraisal_service, engagement_service
from domain.org.models import OrgUnit
from domain.people import repository as people_repo
from domain.people.models import CustomFieldDefinition, CustomFieldType, Employee, EmployeeStatus
from domain.people.service import (
    CustomFieldChanges,
    EmployeeChanges,
    EnumOption,
    custom_field_service,
    employee_not_found,
    employee_service,
)
from domain.skills.models import Skill
from domain.skills.repository import HeldSkill
from domain.skills.service import skill_service
from domain.templates.registry import PackFile
from domain.templates.service import known_pack, pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid
from tenants.pagination import Page

EmployeeStatusType = strawberry.enum(EmployeeStatus, name="EmployeeStatus")
CustomFieldTypeType = strawberry.enum(CustomFieldType, name="CustomFieldType")

# What a field the caller may not read answers: a page with nothing on it.
EMPTY_PAGE: Page[Any] = Page(items=[], cursors=[], has_next_page=False, has_previous_page=False)

LIST_OPERATION = "Query.employees"
NODE_OPERATION = "Node.Employee"


def employee_loader(context: RequestContext) -> DataLoader[UUID, Employee | None]:
    return context.loaders.by_id("employees", people_repo.get_employees)


async def visible_employees(info: Info, ids: list[UUID], operation: str) -> list[Employee]:
    """The employees among ``ids`` the caller may see through ``operation``, in order."""
    visibility = await info.context.visibility(operation)
    rows = await employee_loader(info.context).load_many(ids)
    return [row for row in rows if row is not None and visibility.allows(row)]


async def employee_id_of(
    info: Info, global_id: relay.GlobalID, operation: str, field_name: str = "id"
) -> UUID:
    """The employee a global id names, if the caller may reach them; NOT_FOUND otherwise."""
    employee_id = parse_node_id(global_id, "Employee")
    if employee_id is None or not await visible_employees(info, [employee_id], operation):
        raise employee_not_found(field_name)
    return employee_id


@strawberry.type(description="A rung of the tenant's ladder (R&D levels, school teacher titles).")
class Level:
    code: str
    rank: int
    name: LocalizedText


@strawberry.type(name="Employee", description="A person on the records: the employee profile.")
class EmployeeType(relay.Node):
    id: relay.NodeID[str]
    employee_number: str
    name: str
    email: str | None
    phone: str | None
    title: str | None
    hire_date: date | None
    status: EmployeeStatus
    custom_fields: JSON
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[Employee]

    @classmethod
    def from_model(cls, row: Employee) -> EmployeeType:
        return cls(
            id=str(row.id),
            employee_number=row.employee_number,
            name=row.name,
            email=row.email,
            phone=row.phone,
            title=row.title,
            hire_date=row.hire_date,
            status=row.status,
            custom_fields=JSON(row.custom_fields),
            archived_at=row.archived_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @field(description="The unit the person belongs to.")
    def org_unit(self, info: Info) -> OrgUnitType | None:
        if self.row.org_unit_id is None:
            return None
        # A list query brings the unit along in the same statement (select_related).
        related = self.row.org_unit
        if isinstance(related, OrgUnit):
            return OrgUnitType.from_model(related)
        return now_or_later(unit_loader(info.context), self.row.org_unit_id, _unit_type)

    @field(description="The person's level on the tenant's ladder.")
    def level(self, info: Info) -> Level | None:
        if self.row.level is None:
            return None
        pack = known_pack(info.context.tenant_id)
        if pack is None:
            return later(self._level_later(info))
        return _level(pack, self.row.level)

    async def _level_later(self, info: Info) -> Level | None:
        return _level(await pack_of(info.context.tenant_id), self.row.level or "")

    @field(description="The user account linked to this person (administrators and HR only).")
    async def user(self, info: Info) -> UserType | None:
        if self.row.user_id is None or not info.context.allows("Query.users"):
            return None
        row = await info.context.loaders.users.load(self.row.user_id)
        return UserType.from_model(row) if row is not None else None

    @field(description="The national id number, decrypted; null unless the caller is admin or HR.")
    async def national_id(self, info: Info) -> str | None:
        if not info.context.allows("Field.Employee.nationalId"):
            return None
        return await employee_service.national_id_of(info.context.tenant_id, self.row)

    @field(description="Current skills, highest level first.")
    def skills(self, info: Info) -> list[EmployeeSkillType]:
        return now_or_later(current_skills_loader(info.context), self.row.id, _skill_types)

    @field(
        description="Every change of the person's skills, oldest first (skills evolution). "
        "Meant for one person's profile: in a list it costs a statement per person."
    )
    async def skill_history(
        self, info: Info, skill_id: relay.GlobalID | None = None
    ) -> list[SkillEvent]:
        wanted = skill_id_of(skill_id, "skillId") if skill_id is not None else None
        events = await skill_service.evolution(info.context.tenant_id, self.row.id, wanted)
        return [SkillEvent.from_model(event) for event in events]

    @field(
        description="Projects, classes and courses, the latest started first. Meant for one "
        "person's profile: in a list it costs a statement per person."
    )
    async def engagements(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[EngagementType]:
        tenant = info.context.tenant_id
        page = await paginated(
            lambda: engagement_service.page(
                tenant, employee_id=self.row.id, first=first, after=after
            )
        )
        return to_connection(page, EngagementType.from_model)

    @field(
        description="Past appraisals, the latest period first; empty unless the caller "
        "may read this person's appraisals."
    )
    async def appraisals(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[AppraisalType]:
        if not await self._reads(info, APPRAISALS_FIELD):
            return to_connection(EMPTY_PAGE, AppraisalType.from_model)
        tenant = info.context.tenant_id
        page = await paginated(
            lambda: appraisal_service.page(
                tenant, employee_id=self.row.id, first=first, after=after
            )
        )
        return to_connection(page, AppraisalType.from_model)

    @field(description="The latest appraisal, if the caller may read this person's appraisals.")
    def latest_appraisal(self, info: Info) -> AppraisalType | None:
        visibility = info.context.known_visibility(APPRAISALS_FIELD)
        if visibility is None:
            return later(self._latest_appraisal_later(info))
        if not visibility.allows(self.row):
            return None
        return now_or_later(latest_appraisal_loader(info.context), self.row.id, _appraisal_type)

    async def _latest_appraisal_later(self, info: Info) -> AppraisalType | None:
        if not await self._reads(info, APPRAISALS_FIELD):
            return None
        return _appraisal_type(await latest_appraisal_loader(info.context).load(self.row.id))

    @field(
        description="What current feedback says, per source; anonymous feedback only in "
        "groups large enough. Null unless the caller may read it."
    )
    def feedback_summary(self, info: Info) -> FeedbackSummaryType | None:
        context = info.context
        visibility = context.known_visibility(SUMMARY_FIELD)
        pack = known_pack(context.tenant_id)
        named = known_reads_named(context, self.row, NAMED_FIELD)
        if visibility is None or pack is None or named is None:
            return later(self._feedback_summary_later(info))
        if not visibility.allows(self.row):
            return None
        return now_or_later(
            summary_loader(context),
            self.row.id,
            lambda summary: summary_type(pack, summary, reads_named=named),
        )

    async def _feedback_summary_later(self, info: Info) -> FeedbackSummaryType | None:
        if not await self._reads(info, SUMMARY_FIELD):
            return None
        summary = await summary_loader(info.context).load(self.row.id)
        pack = await pack_of(info.context.tenant_id)
        named = await reads_named(info.context, self.row, NAMED_FIELD)
        return summary_type(pack, summary, reads_named=named)

    @field(
        description="Named feedback one by one, newest first; empty unless the caller may "
        "read who said what. Anonymous feedback never appears here."
    )
    async def feedback(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[FeedbackType]:
        if not await reads_named(info.context, self.row, NAMED_FIELD):
            return to_connection(EMPTY_PAGE, FeedbackType.from_model)
        tenant = info.context.tenant_id
        page = await paginated(
            lambda: feedback_service.named_page(
                tenant, subject_id=self.row.id, first=first, after=after
            )
        )
        return to_connection(page, FeedbackType.from_model)

    async def _reads(self, info: Info, row: str) -> bool:
        """Whether the caller's reach for matrix row ``row`` takes in this person."""
        return (await info.context.visibility(row)).allows(self.row)


def _unit_type(row: OrgUnit | None) -> OrgUnitType | None:
    return OrgUnitType.from_model(row) if row is not None else None


def _level(pack: PackFile, code: str) -> Level | None:
    level = pack.level(code)
    if level is None:
        return None
    return Level(
        code=level.code, rank=level.rank, name=LocalizedText(zh=level.name.zh, en=level.name.en)
    )


def _skill_types(held: list[tuple[HeldSkill, Skill]]) -> list[EmployeeSkillType]:
    return [EmployeeSkillType.from_models(level, skill) for level, skill in held]


def _appraisal_type(row: Appraisal | None) -> AppraisalType | None:
    return AppraisalType.from_model(row) if row is not None else None


async def prime_profiles(info: Info, rows: Sequence[Employee], wanted: frozenset[str]) -> None:
    """Load the ``wanted`` profile fields of a page of people in one statement each, so the
    items' resolvers answer without a task apiece (``api.graphql.loading``)."""
    context = info.context
    tenant = context.tenant_id
    if not rows or not wanted & PRIMED_FIELDS:
        return
    if wanted & {"level", "feedbackSummary"}:
        await pack_of(tenant)
    if "skills" in wanted:
        found = await skill_service.current_skills(tenant, [row.id for row in rows])
        prime(current_skills_loader(context), found)
    if "latestAppraisal" in wanted:
        visibility = await context.visibility(APPRAISALS_FIELD)
        readable = [row.id for row in rows if visibility.allows(row)]
        if readable:
            latest = await appraisal_service.latest_of(tenant, readable)
            prime(latest_appraisal_loader(context), {i: latest.get(i) for i in readable})
    if "feedbackSummary" in wanted:
        visibility = await context.visibility(SUMMARY_FIELD)
        await context.visibility(NAMED_FIELD)
        await context.own_employee_id()
        readable = [row.id for row in rows if visibility.allows(row)]
        if readable:
            prime(summary_loader(context), await feedback_service.summary(tenant, readable))


# Profile fields a list loads for the whole page up front.
PRIMED_FIELDS = frozenset({"level", "skills", "latestAppraisal", "feedbackSummary"})


@node_type("Employee")
async def load_employee(
    context: RequestContext, node_id: UUID, reach: Reach
) -> EmployeeType | None:
    row = await employee_loader(context).load(node_id)
    if row is None:
        return None
    if not (await context.visibility(NODE_OPERATION)).allows(row):
        return None
    return EmployeeType.from_model(row)


class EmployeeOrder(Enum):
    NAME = ("name", "id")
    EMPLOYEE_NUMBER = ("employee_number", "id")
    HIRE_DATE = ("hire_date", "id")


EmployeeOrderType = strawberry.enum(EmployeeOrder, name="EmployeeOrder")


@strawberry.input
class SkillRequirementInput:
    skill_id: relay.GlobalID
    min_level: int = 1


@strawberry.input
class EmployeeFilter:
    org_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="People in this unit or anywhere below it."
    )
    levels: list[str] | None = None
    statuses: list[EmployeeStatus] | None = None
    skills: list[SkillRequirementInput] | None = strawberry.field(
        default=None, description="People with every one of these skills at least at its level."
    )
    search: str | None = strawberry.field(
        default=None, description="Part of the name or employee number."
    )
    include_archived: bool = False


@strawberry.input
class EmployeeCreateInput:
    employee_number: str
    name: str
    email: str | None = None
    phone: str | None = None
    org_unit_id: relay.GlobalID | None = None
    level: str | None = None
    title: str | None = None
    hire_date: date | None = None
    status: EmployeeStatus = EmployeeStatus.ACTIVE
    user_id: relay.GlobalID | None = None
    custom_fields: JSON | None = None
    national_id: str | None = None


@strawberry.input
class EmployeeUpdateInput:
    id: relay.GlobalID
    employee_number: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    org_unit_id: relay.GlobalID | None = strawberry.UNSET
    level: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    hire_date: date | None = strawberry.UNSET
    status: EmployeeStatus | None = strawberry.UNSET
    user_id: relay.GlobalID | None = strawberry.UNSET
    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Fields to set; a null value clears that field."
    )
    national_id: str | None = strawberry.UNSET


@strawberry.input(description="One person of an ERP sync, keyed by employee number.")
class EmployeeUpsertInput:
    employee_number: str
    name: str
    email: str | None = None
    phone: str | None = None
    org_unit_external_key: str | None = None
    level: str | None = None
    title: str | None = None
    hire_date: date | None = None
    status: EmployeeStatus = EmployeeStatus.ACTIVE
    custom_fields: JSON | None = None
    national_id: str | None = None


@strawberry.type
class EmployeePayload:
    employee: EmployeeType


@strawberry.type
class EmployeeCreateError(Error):
    pass


@strawberry.type
class EmployeeUpdateError(Error):
    pass


@strawberry.type
class EmployeeArchiveError(Error):
    pass


@strawberry.type
class EmployeeUpsertItemResult:
    key: str
    outcome: Outcome
    employee: EmployeeType | None
    error: ItemError | None


@strawberry.type
class EmployeesUpsertPayload:
    results: list[EmployeeUpsertItemResult]


@strawberry.type
class EmployeesUpsertError(Error):
    pass


EmployeeCreateResult = Annotated[
    EmployeePayload | EmployeeCreateError, strawberry.union("EmployeeCreateResult")
]
EmployeeUpdateResult = Annotated[
    EmployeePayload | EmployeeUpdateError, strawberry.union("EmployeeUpdateResult")
]
EmployeeArchiveResult = Annotated[
    EmployeePayload | EmployeeArchiveError, strawberry.union("EmployeeArchiveResult")
]
EmployeesUpsertResult = Annotated[
    EmployeesUpsertPayload | EmployeesUpsertError, strawberry.union("EmployeesUpsertResult")
]


def _optional_id(value: Any, type_name: str, what: str, what_zh: str, field_name: str) -> Any:
    if value is strawberry.UNSET:
        return KEEP
    if value is None:
        return None
    return require_node_id(value, type_name, what, what_zh, field=field_name)


def _keep(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


def _dict_or_error(value: Any, field_name: str = "customFields") -> Any:
    if value is None or isinstance(value, dict):
        return value or {}
    raise invalid(field_name, "must be an object of field keys to values", "必须是字段键到值的对象")


@strawberry.type
class PeopleQueries:
    @root_field(description="People on the records that the caller may see.")
    async def employees(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        filter: EmployeeFilter | None = None,
        order_by: EmployeeOrder = EmployeeOrder.NAME,
    ) -> relay.Connection[EmployeeType]:
        context = info.context
        tenant = context.tenant_id
        given = filter or EmployeeFilter()
        visibility = await context.visibility(LIST_OPERATION)
        try:
            unit_id = (
                require_node_id(
                    given.org_unit_id, "OrgUnit", "org unit", "组织单元", field="orgUnitId"
                )
                if given.org_unit_id is not None
                else None
            )
            requirements = [
                people_repo.SkillRequirement(
                    skill_id=require_node_id(r.skill_id, "Skill", "skill", "技能", field="skills"),
                    min_level=r.min_level,
                )
                for r in given.skills or []
            ]
        except ServiceError as exc:
            # A query has no error union: an id of something else is bad input.
            raise bad_input_from(exc) from None
        page = await paginated(
            lambda: employee_service.page(
                tenant,
                visibility,
                first=first,
                after=after,
                order_by=order_by.value,
                org_unit_id=unit_id,
                levels=given.levels,
                statuses=given.statuses,
                skills=requirements,
                search=given.search,
                include_archived=given.include_archived,
            )
        )
        await prime_profiles(info, page.items, selected_below(info, "edges", "node"))
        return to_connection(page, EmployeeType.from_model)


@strawberry.type
class PeopleMutations:
    @root_mutation()
    async def create_employee(self, info: Info, input: EmployeeCreateInput) -> EmployeeCreateResult:
        tenant = info.context.tenant_id

        async def create() -> Employee:
            changes = EmployeeChanges(
                employee_number=input.employee_number,
                name=input.name,
                email=input.email,
                phone=input.phone,
                org_unit_id=_optional_id(
                    input.org_unit_id, "OrgUnit", "org unit", "组织单元", "orgUnitId"
                ),
                level=input.level,
                title=input.title,
                hire_date=input.hire_date,
                status=input.status,
                user_id=_optional_id(input.user_id, "User", "user", "用户", "userId"),
                custom_fields=_dict_or_error(input.custom_fields),
                national_id=input.national_id,
            )
            return await employee_service.create(tenant, changes)

        result = await attempt(create)
        if isinstance(result, ServiceError):
            return error_from(EmployeeCreateError, result)
        return EmployeePayload(employee=EmployeeType.from_model(result))

    @root_mutation(description="Change a person's record; fields left out keep their value.")
    async def update_employee(self, info: Info, input: EmployeeUpdateInput) -> EmployeeUpdateResult:
        tenant = info.context.tenant_id

        async def update() -> Employee:
            employee_id = await employee_id_of(info, input.id, "Mutation.updateEmployee")
            custom = input.custom_fields
            changes = EmployeeChanges(
                employee_number=_keep(input.employee_number),
                name=_keep(input.name),
                email=_keep(input.email),
                phone=_keep(input.phone),
                org_unit_id=_optional_id(
                    input.org_unit_id, "OrgUnit", "org unit", "组织单元", "orgUnitId"
                ),
                level=_keep(input.level),
                title=_keep(input.title),
                hire_date=_keep(input.hire_date),
                status=_keep(input.status),
                user_id=_optional_id(input.user_id, "User", "user", "用户", "userId"),
                custom_fields=KEEP if custom is strawberry.UNSET else _dict_or_error(custom),
                national_id=_keep(input.national_id),
            )
            return await employee_service.update(tenant, employee_id, changes)

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(EmployeeUpdateError, result)
        return EmployeePayload(employee=EmployeeType.from_model(result))

    @root_mutation(description="Archive a person's record: kept, but out of lists.")
    async def archive_employee(self, info: Info, id: relay.GlobalID) -> EmployeeArchiveResult:
        tenant = info.context.tenant_id

        async def archive() -> Employee:
            return await employee_service.archive(
                tenant, await employee_id_of(info, id, "Mutation.archiveEmployee")
            )

        result = await attempt(archive)
        if isinstance(result, ServiceError):
            return error_from(EmployeeArchiveError, result)
        return EmployeePayload(employee=EmployeeType.from_model(result))

    @root_mutation(
        description="Create or update up to 500 people by employee number (ERP sync). "
        "Idempotent; one result per item, in order."
    )
    async def upsert_employees(
        self, info: Info, items: list[EmployeeUpsertInput]
    ) -> EmployeesUpsertResult:
        tenant = info.context.tenant_id

        def changes(item: EmployeeUpsertInput) -> EmployeeChanges:
            custom = item.custom_fields
            return EmployeeChanges(
                employee_number=item.employee_number,
                name=item.name,
                email=item.email,
                phone=item.phone,
                org_unit_external_key=item.org_unit_external_key,
                level=item.level,
                title=item.title,
                hire_date=item.hire_date,
                status=item.status,
                custom_fields=custom if isinstance(custom, dict) else KEEP,
                national_id=item.national_id,
            )

        result = await attempt(lambda: employee_service.upsert(tenant, [changes(i) for i in items]))
        if isinstance(result, ServiceError):
            return error_from(EmployeesUpsertError, result)
        return EmployeesUpsertPayload(
            results=[
                EmployeeUpsertItemResult(
                    key=r.key,
                    outcome=r.outcome,
                    employee=EmployeeType.from_model(r.record) if r.record is not None else None,
                    error=item_error(r.error) if r.error is not None else None,
                )
                for r in result
            ]
        )


# --- custom fields -----------------------------------------------------------------------------


@strawberry.type
class CustomFieldOption:
    value: str
    label: LocalizedText


@strawberry.type(
    name="CustomFieldDefinition", description="A field the tenant adds to a record type."
)
class CustomFieldDefinitionType(relay.Node):
    id: relay.NodeID[str]
    entity: str
    key: str
    label: LocalizedText
    type: CustomFieldType
    required: bool
    options: list[CustomFieldOption]
    position: int
    archived_at: datetime | None

    @classmethod
    def from_model(cls, row: CustomFieldDefinition) -> CustomFieldDefinitionType:
        return cls(
            id=str(row.id),
            entity=row.entity,
            key=row.key,
            label=LocalizedText(zh=row.label_zh, en=row.label_en),
            type=row.type,
            required=row.required,
            options=[
                CustomFieldOption(value=o["value"], label=LocalizedText(zh=o["zh"], en=o["en"]))
                for o in row.options
            ],
            position=row.position,
            archived_at=row.archived_at,
        )


@node_type("CustomFieldDefinition")
async def load_custom_field(
    context: RequestContext, node_id: UUID, reach: Reach
) -> CustomFieldDefinitionType | None:
    row = await people_repo.get_custom_field_definition(context.tenant_id, node_id)
    return CustomFieldDefinitionType.from_model(row) if row is not None else None


@strawberry.input
class CustomFieldOptionInput:
    value: str
    zh: str
    en: str


@strawberry.input
class CustomFieldCreateInput:
    key: str
    label_zh: str
    label_en: str
    type: CustomFieldType
    required: bool = False
    options: list[CustomFieldOptionInput] | None = None
    position: int = 0


@strawberry.input
class CustomFieldUpdateInput:
    id: relay.GlobalID
    label_zh: str | None = strawberry.UNSET
    label_en: str | None = strawberry.UNSET
    required: bool | None = strawberry.UNSET
    options: list[CustomFieldOptionInput] | None = strawberry.UNSET
    position: int | None = strawberry.UNSET


@strawberry.type
class CustomFieldPayload:
    definition: CustomFieldDefinitionType


@strawberry.type
class CustomFieldCreateError(Error):
    pass


@strawberry.type
class CustomFieldUpdateError(Error):
    pass


@strawberry.type
class CustomFieldArchiveError(Error):
    pass


CustomFieldCreateResult = Annotated[
    CustomFieldPayload | CustomFieldCreateError, strawberry.union("CustomFieldCreateResult")
]
CustomFieldUpdateResult = Annotated[
    CustomFieldPayload | CustomFieldUpdateError, strawberry.union("CustomFieldUpdateResult")
]
CustomFieldArchiveResult = Annotated[
    CustomFieldPayload | CustomFieldArchiveError, strawberry.union("CustomFieldArchiveResult")
]


def _options(options: list[CustomFieldOptionInput] | None) -> list[EnumOption]:
    return [EnumOption(value=o.value, zh=o.zh, en=o.en) for o in options or []]


def _definition_id(global_id: relay.GlobalID) -> UUID:
    return require_node_id(global_id, "CustomFieldDefinition", "custom field", "自定义字段")


@strawberry.type
class CustomFieldQueries:
    @root_field(description="The tenant's custom fields of a record type, in form order.")
    async def custom_field_definitions(
        self, info: Info, entity: str = "employee"
    ) -> list[CustomFieldDefinitionType]:
        rows = await custom_field_service.definitions(info.context.tenant_id, entity)
        return [CustomFieldDefinitionType.from_model(row) for row in rows]


@strawberry.type
class CustomFieldMutations:
    @root_mutation()
    async def create_custom_field(
        self, info: Info, input: CustomFieldCreateInput
    ) -> CustomFieldCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: custom_field_service.create(
                tenant,
                key=input.key,
                label_zh=input.label_zh,
                label_en=input.label_en,
                kind=input.type,
                required=input.required,
                options=_options(input.options),
                position=input.position,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(CustomFieldCreateError, result)
        return CustomFieldPayload(definition=CustomFieldDefinitionType.from_model(result))

    @root_mutation()
    async def update_custom_field(
        self, info: Info, input: CustomFieldUpdateInput
    ) -> CustomFieldUpdateResult:
        tenant = info.context.tenant_id

        async def update() -> CustomFieldDefinition:
            changes = CustomFieldChanges(
                label_zh=_keep(input.label_zh),
                label_en=_keep(input.label_en),
                required=_keep(input.required),
                options=KEEP if input.options is strawberry.UNSET else _options(input.options),
                position=_keep(input.position),
            )
            return await custom_field_service.update(tenant, _definition_id(input.id), changes)

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(CustomFieldUpdateError, result)
        return CustomFieldPayload(definition=CustomFieldDefinitionType.from_model(result))

    @root_mutation(
        description="Archive a custom field: its values stay, it is no longer asked for."
    )
    async def archive_custom_field(
        self, info: Info, id: relay.GlobalID
    ) -> CustomFieldArchiveResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: custom_field_service.archive(tenant, _definition_id(id)))
        if isinstance(result, ServiceError):
            return error_from(CustomFieldArchiveError, result)
        return CustomFieldPayload(definition=CustomFieldDefinitionType.from_model(result))
