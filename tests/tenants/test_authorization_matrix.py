"""The authorization matrix, walked: every row, every role, every kind of caller.

For each operation the test calls it as anonymous, as a user of each single role, as a client
holding the scopes the row names and as a client holding none of them, and checks the answer
against the matrix: allowed calls carry no access error, denied ones are refused with
UNAUTHENTICATED (anonymous) or FORBIDDEN (everyone else).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from strawberry.types import ExecutionResult

from api.feedback import NAMED_FIELD, SUMMARY_FIELD, source_row
from api.graphql.context import RequestContext
from api.graphql.relay import registered_node_types
from api.graphql.schema import Mutation, Query, Subscription, build_schema
from api.graphql.view import SELF_SCOPED_FIELDS
from api.history import APPRAISALS_FIELD
from api.runtime import AppRuntime
from api.work import ANSWER_ON_BEHALF_ROW
from domain.audit.models import AuditEntry
from domain.feedback.models import FeedbackSource
from domain.imports.models import ImportFormat
from domain.imports.service import import_service
from domain.indicators.models import Scorecard
from tenants.authorization import Principal, Role, load_matrix
from tenants.models import ApiClient, Tenant, User
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from tests.factories import (
    PASSWORD,
    client_token,
    create_api_client,
    create_job,
    create_tenant,
    create_user,
    global_id,
    user_token,
)
from tests.factories_indicators import (
    create_period,
    on_time,
    recompute,
    record_facts,
)
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    create_org_unit,
    create_skill,
    give_feedback,
)
from tests.factories_work import create_item
from tests.support.graphql import GraphQLClient

MATRIX = load_matrix()
SCHEMA = build_schema(Settings(), MATRIX)
ACCESS_CODES = {"FORBIDDEN", "UNAUTHENTICATED"}


@dataclass
class World:
    tenant: Tenant
    users: dict[Role, User]


Sample = Callable[[World], Awaitable[tuple[str, dict[str, Any]]]]


async def _fixed(
    document: str, variables: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    return document, variables or {}


def fixed(document: str, variables: dict[str, Any] | None = None) -> Sample:
    return lambda world: _fixed(document, variables)


async def _delete_user(world: World) -> tuple[str, dict[str, Any]]:
    victim = await create_user(world.tenant)
    return "mutation($id: ID!) { deleteUser(id: $id) { __typename } }", {
        "id": global_id("User", victim.id)
    }


async def _update_user(world: World) -> tuple[str, dict[str, Any]]:
    target = await create_user(world.tenant)
    return (
        'mutation($id: ID!) { updateUser(input: {id: $id, displayName: "Renamed"}) { __typename } }',
        {"id": global_id("User", target.id)},
    )


async def _revoke_client(world: World) -> tuple[str, dict[str, Any]]:
    issued = await create_api_client(world.tenant, scopes=("users:read",))
    return "mutation($id: ID!) { revokeApiClient(id: $id) { __typename } }", {
        "id": global_id("ApiClient", issued.client.id)
    }


async def _node_job(world: World) -> tuple[str, dict[str, Any]]:
    job = await create_job(world.tenant)
    return "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Job", job.id)}


async def _node_client(world: World) -> tuple[str, dict[str, Any]]:
    issued = await create_api_client(world.tenant, scopes=("users:read",))
    return "query($id: ID!) { node(id: $id) { id } }", {
        "id": global_id("ApiClient", issued.client.id)
    }


def _node_user(world: World) -> Awaitable[tuple[str, dict[str, Any]]]:
    return _fixed(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": global_id("User", world.users[Role.ADMIN].id)},
    )


def _node_tenant(world: World) -> Awaitable[tuple[str, dict[str, Any]]]:
    return _fixed(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Tenant", world.tenant.id)}
    )


NODE = "query($id: ID!) { node(id: $id) { id } }"
NOBODY = global_id("Employee", UUID(int=1))


def node_of(type_name: str, make: Callable[[World], Awaitable[Any]]) -> Sample:
    async def sample(world: World) -> tuple[str, dict[str, Any]]:
        return NODE, {"id": global_id(type_name, (await make(world)).id)}

    return sample


def on_employee(document: str, extra: dict[str, Any] | None = None) -> Sample:
    """``document`` with ``$id``: a fresh employee's global id."""

    async def sample(world: World) -> tuple[str, dict[str, Any]]:
        person = await create_employee(world.tenant)
        return document, {"id": global_id("Employee", person.id), **(extra or {})}

    return sample


def on_record(document: str, type_name: str, make: Callable[[World], Awaitable[Any]]) -> Sample:
    async def sample(world: World) -> tuple[str, dict[str, Any]]:
        return document, {"id": global_id(type_name, (await make(world)).id)}

    return sample


async def _engagement(world: World) -> Any:
    return await create_engagement(world.tenant, await create_employee(world.tenant))


async def _appraisal(world: World) -> Any:
    return await create_appraisal(world.tenant, await create_employee(world.tenant))


async def _feedback(world: World) -> Any:
    return await give_feedback(world.tenant, await create_employee(world.tenant))


async def _audit_entry(world: World) -> Any:
    person = await create_employee(world.tenant)
    async with tenant_transaction(TenantID(world.tenant.id)):
        return await AuditEntry.filter(entity_id=person.id).first()


async def _custom_field(world: World) -> Any:
    from domain.people.models import CustomFieldType
    from domain.people.service import custom_field_service

    tid = TenantID(world.tenant.id)
    async with tenant_transaction(tid):
        return await custom_field_service.create(
            tid,
            key=f"f_{uuid4().hex}",
            label_zh="字段",
            label_en="Field",
            kind=CustomFieldType.STRING,
        )


async def _unit(world: World) -> Any:
    return await create_org_unit(world.tenant)


async def _skill(world: World) -> Any:
    return await create_skill(world.tenant, f"Skill {uuid4().hex}")


async def _skill_of_employee(world: World) -> tuple[str, dict[str, Any]]:
    person = await create_employee(world.tenant)
    skill = await create_skill(world.tenant, f"Skill {uuid4().hex}")
    return (
        """mutation($e: ID!, $s: ID!) { setEmployeeSkill(input: {employeeId: $e, skillId: $s,
        level: 3, source: SELF}) { __typename } }""",
        {"e": global_id("Employee", person.id), "s": global_id("Skill", skill.id)},
    )


async def _manager_link(world: World) -> tuple[str, dict[str, Any]]:
    unit, person = await create_org_unit(world.tenant), await create_employee(world.tenant)
    return (
        "mutation($u: ID!, $e: ID!) { addOrgUnitManager(orgUnitId: $u, employeeId: $e) "
        "{ __typename } }",
        {"u": global_id("OrgUnit", unit.id), "e": global_id("Employee", person.id)},
    )


async def _manager_unlink(world: World) -> tuple[str, dict[str, Any]]:
    document, variables = await _manager_link(world)
    return document.replace("addOrgUnitManager", "removeOrgUnitManager"), variables


RECORD_SAMPLES: dict[str, Sample] = {
    "Query.orgUnits": fixed("{ orgUnits { edges { node { id } } } }"),
    "Query.employees": fixed("{ employees { edges { node { id } } } }"),
    "Query.skills": fixed("{ skills { edges { node { id } } } }"),
    "Query.customFieldDefinitions": fixed("{ customFieldDefinitions { key } }"),
    "Query.auditLog": fixed("{ auditLog { edges { node { id } } } }"),
    "Query.templatePack": fixed("{ templatePack { code } }"),
    "Mutation.createOrgUnit": fixed(
        'mutation { createOrgUnit(input: {name: "", kind: "team"}) { __typename } }'
    ),
    "Mutation.updateOrgUnit": on_record(
        'mutation($id: ID!) { updateOrgUnit(input: {id: $id, name: "X"}) { __typename } }',
        "OrgUnit",
        _unit,
    ),
    "Mutation.archiveOrgUnit": on_record(
        "mutation($id: ID!) { archiveOrgUnit(id: $id) { __typename } }", "OrgUnit", _unit
    ),
    "Mutation.addOrgUnitManager": _manager_link,
    "Mutation.removeOrgUnitManager": _manager_unlink,
    "Mutation.upsertOrgUnits": fixed(
        'mutation { upsertOrgUnits(items: [{externalKey: "K", name: "", kind: "team"}]) '
        "{ __typename } }"
    ),
    "Mutation.createEmployee": fixed(
        'mutation { createEmployee(input: {employeeNumber: "", name: ""}) { __typename } }'
    ),
    "Mutation.updateEmployee": on_employee(
        'mutation($id: ID!) { updateEmployee(input: {id: $id, title: "T"}) { __typename } }'
    ),
    "Mutation.archiveEmployee": on_employee(
        "mutation($id: ID!) { archiveEmployee(id: $id) { __typename } }"
    ),
    "Mutation.upsertEmployees": fixed(
        'mutation { upsertEmployees(items: [{employeeNumber: "", name: ""}]) { __typename } }'
    ),
    "Mutation.createCustomField": fixed(
        'mutation { createCustomField(input: {key: "Bad Key", labelZh: "字", labelEn: "F", '
        "type: STRING}) { __typename } }"
    ),
    "Mutation.updateCustomField": on_record(
        'mutation($id: ID!) { updateCustomField(input: {id: $id, labelEn: "G"}) { __typename } }',
        "CustomFieldDefinition",
        _custom_field,
    ),
    "Mutation.archiveCustomField": on_record(
        "mutation($id: ID!) { archiveCustomField(id: $id) { __typename } }",
        "CustomFieldDefinition",
        _custom_field,
    ),
    "Mutation.createSkill": fixed('mutation { createSkill(input: {name: ""}) { __typename } }'),
    "Mutation.updateSkill": on_record(
        'mutation($id: ID!) { updateSkill(input: {id: $id, category: "C"}) { __typename } }',
        "Skill",
        _skill,
    ),
    "Mutation.archiveSkill": on_record(
        "mutation($id: ID!) { archiveSkill(id: $id) { __typename } }", "Skill", _skill
    ),
    "Mutation.upsertSkills": fixed(
        'mutation { upsertSkills(items: [{externalKey: "K", name: ""}]) { __typename } }'
    ),
    "Mutation.setEmployeeSkill": _skill_of_employee,
    "Mutation.removeEmployeeSkill": on_employee(
        "mutation($id: ID!, $s: ID!) { removeEmployeeSkill(employeeId: $id, skillId: $s) "
        "{ __typename } }",
        {"s": global_id("Skill", UUID(int=1))},
    ),
    "Mutation.createEngagement": on_employee(
        'mutation($id: ID!) { createEngagement(input: {employeeId: $id, kind: "nope", '
        'name: "P", startedOn: "2024-01-01"}) { __typename } }'
    ),
    "Mutation.updateEngagement": on_record(
        'mutation($id: ID!) { updateEngagement(input: {id: $id, role: "Lead"}) { __typename } }',
        "Engagement",
        _engagement,
    ),
    "Mutation.archiveEngagement": on_record(
        "mutation($id: ID!) { archiveEngagement(id: $id) { __typename } }",
        "Engagement",
        _engagement,
    ),
    "Mutation.upsertEngagements": fixed(
        'mutation { upsertEngagements(items: [{externalKey: "K", employeeNumber: "none", '
        'kind: "project", name: "P", startedOn: "2024-01-01"}]) { __typename } }'
    ),
    "Mutation.createAppraisal": on_employee(
        'mutation($id: ID!) { createAppraisal(input: {employeeId: $id, period: "", '
        'periodStart: "2024-01-01", periodEnd: "2023-01-01"}) { __typename } }'
    ),
    "Mutation.updateAppraisal": on_record(
        'mutation($id: ID!) { updateAppraisal(input: {id: $id, grade: "A"}) { __typename } }',
        "Appraisal",
        _appraisal,
    ),
    "Mutation.archiveAppraisal": on_record(
        "mutation($id: ID!) { archiveAppraisal(id: $id) { __typename } }",
        "Appraisal",
        _appraisal,
    ),
    "Mutation.upsertAppraisals": fixed(
        'mutation { upsertAppraisals(items: [{externalKey: "K", employeeNumber: "none", '
        'period: "2024", periodStart: "2024-01-01", periodEnd: "2024-12-31"}]) { __typename } }'
    ),
    "Mutation.giveFeedback": fixed(
        "mutation($id: ID!) { giveFeedback(input: {subjectId: $id, source: PEER, ratings: []}) "
        "{ __typename } }",
        {"id": NOBODY},
    ),
    "Mutation.archiveFeedback": on_record(
        "mutation($id: ID!) { archiveFeedback(id: $id) { __typename } }", "Feedback", _feedback
    ),
    "Node.OrgUnit": node_of("OrgUnit", _unit),
    "Node.Employee": node_of("Employee", lambda world: create_employee(world.tenant)),
    "Node.CustomFieldDefinition": node_of("CustomFieldDefinition", _custom_field),
    "Node.AuditEntry": node_of("AuditEntry", _audit_entry),
    "Node.Skill": node_of("Skill", _skill),
    "Node.Engagement": node_of("Engagement", _engagement),
    "Node.Appraisal": node_of("Appraisal", _appraisal),
    "Node.Feedback": node_of("Feedback", _feedback),
}

_INDICATOR_PERIODS: dict[UUID, Any] = {}


async def _scored_period(world: World) -> Any:
    """One scored month per world (periods of a kind may not overlap): made on first use."""
    period = _INDICATOR_PERIODS.get(world.tenant.id)
    if period is None:
        await create_employee(world.tenant, level="senior")
        period = await create_period(
            world.tenant,
            code="2025-01",
            kind="month",
            starts_on=date(2025, 1, 1),
            ends_on=date(2025, 1, 31),
        )
        await recompute(world.tenant, period)
        _INDICATOR_PERIODS[world.tenant.id] = period
    return period


async def _fact(world: World) -> Any:
    person = await create_employee(world.tenant)
    (fact,) = await record_facts(world.tenant, person, "due_item", on_time(1, 0))
    return fact


async def _scorecard(world: World) -> Any:
    period = await _scored_period(world)
    async with tenant_transaction(TenantID(world.tenant.id)):
        return await Scorecard.filter(period_id=period.id).first()


NO_PERIOD = global_id("Period", UUID(int=1))

# Refusals past the matrix are expected failures (data), so no call here changes anything.
INDICATOR_SAMPLES: dict[str, Sample] = {
    "Query.indicatorSet": fixed("{ indicatorSet { version } }"),
    "Query.indicatorSetHistory": fixed("{ indicatorSetHistory { version } }"),
    "Query.periods": fixed("{ periods { code } }"),
    "Query.levelBaselines": fixed(
        "query($id: ID!) { levelBaselines(periodId: $id) { level } }", {"id": NO_PERIOD}
    ),
    "Query.targetAdjustments": fixed(
        "query($id: ID!) { targetAdjustments(periodId: $id) { rule } }", {"id": NO_PERIOD}
    ),
    "Query.facts": fixed("{ facts { edges { node { id } } } }"),
    "Query.scorecards": fixed(
        "query($id: ID!) { scorecards(periodId: $id) { edges { node { id } } } }",
        {"id": NO_PERIOD},
    ),
    "Query.scorecard": fixed(
        "query($p: ID!, $e: ID!) { scorecard(periodId: $p, employeeId: $e) { id } }",
        {"p": NO_PERIOD, "e": NOBODY},
    ),
    "Mutation.updateIndicatorSet": fixed(
        "mutation { updateIndicatorSet(input: {baseVersion: 0, definition: {}}) { __typename } }"
    ),
    "Mutation.recordFact": fixed(
        'mutation { recordFact(input: {employeeNumber: "none", kind: "nope", '
        'occurredAt: "2026-01-01T00:00:00Z", value: 1}) { __typename } }'
    ),
    "Mutation.recordFacts": fixed(
        'mutation { recordFacts(items: [{employeeNumber: "none", kind: "nope", '
        'occurredAt: "2026-01-01T00:00:00Z", value: 1}]) { __typename } }'
    ),
    "Mutation.correctFact": fixed(
        "mutation($id: ID!) { correctFact(input: {id: $id, value: 1}) { __typename } }",
        {"id": global_id("Fact", UUID(int=1))},
    ),
    "Mutation.createPeriod": fixed(
        'mutation { createPeriod(input: {code: "", kind: "month", startsOn: "2026-01-01", '
        'endsOn: "2026-01-31"}) { __typename } }'
    ),
    "Mutation.closePeriod": fixed(
        "mutation($id: ID!) { closePeriod(id: $id) { __typename } }", {"id": NO_PERIOD}
    ),
    "Mutation.reopenPeriod": fixed(
        'mutation($id: ID!) { reopenPeriod(id: $id, reason: "Late facts") { __typename } }',
        {"id": NO_PERIOD},
    ),
    "Mutation.recomputeScorecards": fixed(
        "mutation($id: ID!) { recomputeScorecards(periodId: $id) { __typename } }",
        {"id": NO_PERIOD},
    ),
    "Mutation.adjustScorecard": fixed(
        "mutation($id: ID!) { adjustScorecard(input: {scorecardId: $id, points: 1, "
        'comment: "A good enough reason"}) { __typename } }',
        {"id": global_id("Scorecard", UUID(int=1))},
    ),
    "Node.Period": node_of("Period", _scored_period),
    "Node.Fact": node_of("Fact", _fact),
    "Node.Scorecard": node_of("Scorecard", _scorecard),
}

NO_ITEM = global_id("WorkItem", UUID(int=1))


async def _work_item(world: World) -> Any:
    return await create_item(world.tenant, title=f"Item {uuid4().hex}")


# Every mutation names an item that does not exist (or is invalid): refused as data, so no
# call changes anything.
WORK_SAMPLES: dict[str, Sample] = {
    "Query.workItemKinds": fixed("{ workItemKinds { code } }"),
    "Query.workItems": fixed("{ workItems { edges { node { id } } } }"),
    "Query.workItem": fixed("query($id: ID!) { workItem(id: $id) { id } }", {"id": NO_ITEM}),
    "Query.matchCandidates": fixed(
        "query($s: ID!) { matchCandidates(input: {skills: [{skillId: $s, minLevel: 3}], "
        'size: 5, deadline: "2100-01-01"}) { confidence } }',
        {"s": global_id("Skill", UUID(int=1))},
    ),
    "Query.salesView": fixed("{ salesView { total } }"),
    "Mutation.createWorkItem": fixed(
        'mutation { createWorkItem(input: {kind: "nope", title: "T"}) { __typename } }'
    ),
    "Mutation.answerFeasibility": fixed(
        "mutation($id: ID!) { answerFeasibility(input: {id: $id, verdict: FEASIBLE}) "
        "{ __typename } }",
        {"id": NO_ITEM},
    ),
    "Mutation.promiseWorkItem": fixed(
        'mutation($id: ID!) { promiseWorkItem(input: {id: $id, promisedOn: "2100-01-01"}) '
        "{ __typename } }",
        {"id": NO_ITEM},
    ),
    "Mutation.assignWorkItem": fixed(
        "mutation($id: ID!) { assignWorkItem(input: {id: $id, assignees: []}) { __typename } }",
        {"id": NO_ITEM},
    ),
    "Mutation.startWorkItem": fixed(
        "mutation($id: ID!) { startWorkItem(id: $id) { __typename } }", {"id": NO_ITEM}
    ),
    "Mutation.deliverWorkItem": fixed(
        "mutation($id: ID!) { deliverWorkItem(id: $id) { __typename } }", {"id": NO_ITEM}
    ),
    "Mutation.closeWorkItem": fixed(
        "mutation($id: ID!) { closeWorkItem(input: {id: $id}) { __typename } }", {"id": NO_ITEM}
    ),
    "Mutation.cancelWorkItem": fixed(
        'mutation($id: ID!) { cancelWorkItem(id: $id, reason: "Withdrawn") { __typename } }',
        {"id": NO_ITEM},
    ),
    "Mutation.setWorkItemCause": fixed(
        "mutation($id: ID!) { setWorkItemCause(input: {id: $id, cause: RD, "
        'comment: "Took longer", delay: true}) { __typename } }',
        {"id": NO_ITEM},
    ),
    "Mutation.linkDefect": fixed(
        "mutation($id: ID!) { linkDefect(input: {id: $id, linkedItemId: null, "
        "foundIn: TEST}) { __typename } }",
        {"id": NO_ITEM},
    ),
    "Mutation.correctWorkItemTimes": fixed(
        "mutation($id: ID!) { correctWorkItemTimes(input: {id: $id, requestedAt: "
        '"2026-01-01T00:00:00Z"}) { __typename } }',
        {"id": NO_ITEM},
    ),
    "Mutation.upsertWorkItems": fixed(
        'mutation { upsertWorkItems(items: [{externalKey: "K", kind: "nope", title: "T"}]) '
        "{ __typename } }"
    ),
    "Node.WorkItem": node_of("WorkItem", _work_item),
}


async def _import(world: World) -> Any:
    tid = TenantID(world.tenant.id)
    async with tenant_transaction(tid):
        return await import_service.create(tid, kind="facts", format=ImportFormat.CSV)


NO_IMPORT = global_id("Import", UUID(int=3))
# Dashboards over a quiet month; the personal one of somebody who does not exist.
DASHBOARD_FILTER = '{startsOn: "2026-01-01", endsOn: "2026-01-31"}'
DASHBOARD_SAMPLES: dict[str, Sample] = {
    "Query.rdDashboard": fixed(
        f"{{ rdDashboard(filter: {DASHBOARD_FILTER}) {{ onTime {{ group {{ key }} }} }} }}"
    ),
    "Query.schoolDashboard": fixed(
        f"{{ schoolDashboard(filter: {DASHBOARD_FILTER}) {{ slaTrend {{ group {{ key }} }} }} }}"
    ),
    "Query.personalDashboard": fixed(
        "query($e: ID!) { personalDashboard(employeeId: $e) { points { periodCode } } }",
        {"e": NOBODY},
    ),
}

# Mutations name an import that does not exist or give invalid input: refused as data.
IMPORT_SAMPLES: dict[str, Sample] = {
    "Query.imports": fixed("{ imports { edges { node { id } } } }"),
    "Query.importKinds": fixed("{ importKinds { code } }"),
    "Query.importProfiles": fixed("{ importProfiles { name } }"),
    "Query.importKeys": fixed("{ importKeys { keyId } }"),
    "Query.suggestImportMapping": fixed(
        'query { suggestImportMapping(kind: "facts", headers: ["工号"]) { mapping } }'
    ),
    "Mutation.createImport": fixed(
        'mutation { createImport(input: {kind: "nope", format: CSV}) { __typename } }'
    ),
    "Mutation.startImport": fixed(
        "mutation($id: ID!) { startImport(input: {id: $id, mode: DRY_RUN}) { __typename } }",
        {"id": NO_IMPORT},
    ),
    "Mutation.cancelImport": fixed(
        "mutation($id: ID!) { cancelImport(id: $id) { __typename } }", {"id": NO_IMPORT}
    ),
    "Mutation.deleteImport": fixed(
        "mutation($id: ID!) { deleteImport(id: $id) { __typename } }", {"id": NO_IMPORT}
    ),
    "Mutation.saveImportProfile": fixed(
        'mutation { saveImportProfile(input: {kind: "nope", name: "x", mapping: {}}) '
        "{ __typename } }"
    ),
    "Mutation.deleteImportProfile": fixed(
        'mutation { deleteImportProfile(id: "00000000-0000-0000-0000-000000000000") '
        "{ __typename } }"
    ),
    "Mutation.createImportKey": fixed("mutation { createImportKey { __typename } }"),
    "Mutation.disableImportKey": fixed("mutation { disableImportKey(keyId: 1) { __typename } }"),
    "Node.Import": node_of("Import", _import),
    "Subscription.importProgress": fixed(
        "subscription($id: ID!) { importProgress(id: $id) { status } }", {"id": NO_IMPORT}
    ),
}

# Rows guarding part of an object rather than an operation: a refusal reads as null (or an
# empty page), so each is checked where its field is tested, and named here to stay in sync.
FIELD_ROWS = {
    "Field.Employee.nationalId",
    APPRAISALS_FIELD,
    SUMMARY_FIELD,
    NAMED_FIELD,
    *(source_row(source) for source in FeedbackSource),
    ANSWER_ON_BEHALF_ROW,
}


SAMPLES: dict[str, Sample] = {
    "Query.viewer": fixed("{ viewer { kind } }"),
    "Query.node": fixed(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Nothing", UUID(int=1))}
    ),
    "Query.tenant": fixed("{ tenant { slug } }"),
    "Query.users": fixed("{ users { edges { node { id } } } }"),
    "Query.apiClients": fixed("{ apiClients { edges { node { id } } } }"),
    "Query.apiScopes": fixed("{ apiScopes { name } }"),
    "Query.jobs": fixed("{ jobs { edges { node { id } } } }"),
    "Mutation.login": fixed(
        'mutation($p: String!) { login(tenant: "nobody", email: "x@example.com", password: $p) { __typename } }',
        {"p": PASSWORD},
    ),
    "Mutation.refreshToken": fixed(
        'mutation { refreshToken(refreshToken: "rt1.x.y") { __typename } }'
    ),
    "Mutation.logout": fixed('mutation { logout(refreshToken: "rt1.x.y") { __typename } }'),
    "Mutation.changePassword": fixed(
        'mutation { changePassword(currentPassword: "wrong password!", newPassword: "x") { __typename } }'
    ),
    "Mutation.createUser": fixed(
        'mutation { createUser(input: {email: "not an email", displayName: "N", roles: [EMPLOYEE]}) { __typename } }'
    ),
    "Mutation.updateUser": _update_user,
    "Mutation.deleteUser": _delete_user,
    "Mutation.createApiClient": fixed(
        'mutation { createApiClient(input: {name: "X", scopes: ["users:read"]}) { __typename } }'
    ),
    "Mutation.revokeApiClient": _revoke_client,
    "Mutation.updateTenant": fixed(
        'mutation { updateTenant(input: {name: "Renamed"}) { __typename } }'
    ),
    "Mutation.purgeExpiredSessions": fixed("mutation { purgeExpiredSessions { __typename } }"),
    "Node.Tenant": _node_tenant,
    "Node.User": _node_user,
    "Node.ApiClient": _node_client,
    "Node.Job": _node_job,
    **RECORD_SAMPLES,
    **INDICATOR_SAMPLES,
    **WORK_SAMPLES,
    **IMPORT_SAMPLES,
    **DASHBOARD_SAMPLES,
}
OPERATION_ROWS = sorted(set(MATRIX.rules) - FIELD_ROWS)


def test_every_operation_and_node_type_has_a_row_and_a_sample() -> None:
    from strawberry.types.base import get_object_definition

    operations = {
        f"{definition.name}.{field.graphql_name or _camel(field.python_name)}"
        for root in (Query, Mutation, Subscription)
        for definition in [get_object_definition(root, strict=True)]
        for field in definition.fields
    }
    operations |= {f"Node.{name}" for name in registered_node_types()}
    assert operations == set(OPERATION_ROWS), "the matrix and the schema disagree"
    assert set(SAMPLES) == set(OPERATION_ROWS), "every matrix row needs a sample call"
    assert set(MATRIX.rules) >= FIELD_ROWS, "a field guard without its matrix row"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Caller:
    label: str
    principal: Principal | None
    token: str | None


@pytest.fixture(scope="module")
async def world() -> World:
    tenant = await create_tenant()
    users = {role: await create_user(tenant, roles=(role.value,)) for role in Role}
    await create_user(tenant, roles=("admin",))  # a second administrator, so changes stay legal
    return World(tenant=tenant, users=users)


async def _client(world: World, scopes: tuple[str, ...]) -> ApiClient:
    return (await create_api_client(world.tenant, scopes=scopes)).client


async def _callers(world: World, runtime: AppRuntime, operation: str) -> list[Caller]:
    callers = [Caller("anonymous", None, None)]
    for role, user in world.users.items():
        principal = Principal(
            tenant_id=TenantID(world.tenant.id),
            subject_id=user.id,
            kind="user",
            roles=frozenset({role}),
        )
        callers.append(Caller(f"role {role.value}", principal, user_token(runtime.tokens, user)))
    rule = MATRIX.rules[operation]
    unrelated = sorted(set(MATRIX.scopes) - rule.scopes)[:1]
    for scopes in ({*rule.scopes} or set(), set(unrelated)):
        if not scopes:
            continue
        client = await _client(world, tuple(sorted(scopes)))
        principal = Principal(
            tenant_id=TenantID(world.tenant.id),
            subject_id=client.id,
            kind="client",
            scopes=frozenset(scopes),
            client_id=client.client_id,
        )
        callers.append(
            Caller(f"client {sorted(scopes)}", principal, client_token(runtime.tokens, client))
        )
    return callers


async def _subscription_codes(
    runtime: AppRuntime, caller: Caller, document: str, variables: dict[str, Any]
) -> set[str]:
    """The access codes of a subscription's first event, subscribed as WebSocket clients are:
    the actor authenticated from the token first (``GraphQLView.on_ws_connect``)."""
    context = RequestContext(
        request=cast("Any", None),
        response=cast("Any", None),
        runtime=runtime,
        principal=caller.principal,
        request_id="matrix",
    )
    if caller.principal is not None:
        async with tenant_transaction(caller.principal.tenant_id):
            context.actor = await runtime.identity.authenticate(caller.principal)
    result: Any = await SCHEMA.subscribe(document, variable_values=variables, context_value=context)
    if isinstance(result, ExecutionResult):
        first = result
    else:
        first = await anext(result)
        await result.aclose()
    codes = {str((e.extensions or {}).get("code")) for e in first.errors or []}
    return codes & ACCESS_CODES


@pytest.mark.parametrize("operation", OPERATION_ROWS)
async def test_the_matrix_row_holds(
    operation: str, world: World, gql: GraphQLClient, runtime: AppRuntime
) -> None:
    field = operation.split(".", 1)[1]
    for caller in await _callers(world, runtime, operation):
        # login, refreshToken and logout ignore the bearer token: they carry their own credentials
        principal = None if field in SELF_SCOPED_FIELDS else caller.principal
        expected = MATRIX.decide(operation, principal).allowed
        document, variables = await SAMPLES[operation](world)
        if operation.startswith("Subscription."):
            codes = await _subscription_codes(runtime, caller, document, variables)
        else:
            response = await gql(document, variables, token=caller.token)
            assert response.status == 200, (caller.label, response.body)
            codes = set(response.error_codes) & ACCESS_CODES
        if expected:
            assert not codes, f"{operation} should be allowed for {caller.label}: {codes}"
        else:
            wanted = "UNAUTHENTICATED" if caller.principal is None else "FORBIDDEN"
            assert codes == {wanted}, f"{operation} should be denied for {caller.label}: {codes}"
