"""Indicators and scoring through GraphQL: the pack's indicator part, indicator set versions,
facts, periods, the recompute job, scorecards with their explanations, adjustments, and who
reads what (oneself, one's subtree, the tenant; never another tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.runtime import AppRuntime
from domain.indicators.models import Period, TargetAdjustment
from domain.indicators.service import RECOMPUTE_JOB
from domain.jobs.service import job_service
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    client_token,
    create_api_client,
    create_tenant,
    create_user,
    global_id,
    node_uuid,
    tenant_id,
    user_token,
)
from tests.factories_indicators import (
    IN_QUARTER,
    close_period,
    create_period,
    on_time,
    recompute,
    record_facts,
    scorecard_of,
)
from tests.factories_records import create_employee, create_org_unit
from tests.support.graphql import GraphQLClient
from tests.support.jobs import wait_for_job

# --- documents -------------------------------------------------------------------------------

TEMPLATE_PACK = """
{ templatePack {
  code
  vocabulary { workItem { en zh } scorecard { en zh } }
  factKinds { code name { en } unit value { zh } denominator { en } attributes }
  indicators { code category group weight factKind aggregation limit shrink minN
    target { policy baseline threshold target stretch } }
  weightGroups { code weight }
  rules { kind code indicators params }
  scorecardPolicy { periodKind managerAdjustmentMax
    blend { indicators reviews sources scale points minResponses } }
  dashboardPanels { code chart indicators }
} }
"""

INDICATOR_SET = """
query($version: Int) { indicatorSet(version: $version) {
  version note createdAt
  indicators { code weight }
  weightGroups { code weight }
  rules { kind code }
  definition
} }
"""

HISTORY = "{ indicatorSetHistory { version note } }"

UPDATE_INDICATOR_SET = """
mutation($input: IndicatorSetUpdateInput!) { updateIndicatorSet(input: $input) {
  __typename
  ... on IndicatorSetUpdatePayload { indicatorSet { version note indicators { code weight } } }
  ... on IndicatorSetUpdateError { code field message messageZh details { field message } }
} }
"""

FACT_FIELDS = """
id employeeId kind occurredAt value denominator source externalKey attributes
current supersededAt supersededBy correctionOf
"""

RECORD_FACT = f"""
mutation($input: FactInput!) {{ recordFact(input: $input) {{
  __typename
  ... on FactRecordPayload {{ outcome superseded fact {{ {FACT_FIELDS} }} }}
  ... on FactRecordError {{ code field message messageZh }}
}} }}
"""

RECORD_FACTS = """
mutation($items: [FactInput!]!) { recordFacts(items: $items) {
  __typename
  ... on FactsRecordPayload { results {
    key outcome superseded fact { id value } error { code field message messageZh }
  } }
  ... on FactsRecordError { code field message }
} }
"""

CORRECT_FACT = f"""
mutation($input: FactCorrectInput!) {{ correctFact(input: $input) {{
  __typename
  ... on FactCorrectPayload {{ fact {{ {FACT_FIELDS} }} }}
  ... on FactCorrectError {{ code field message }}
}} }}
"""

FACTS = """
query($first: Int, $after: String, $employeeId: ID, $kind: String, $from: DateTime,
      $before: DateTime, $all: Boolean) {
  facts(first: $first, after: $after, employeeId: $employeeId, kind: $kind, from: $from,
        before: $before, includeSuperseded: $all) {
    edges { node { id employeeId kind value current } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PERIOD_FIELDS = """
id code kind startsOn endsOn status indicatorSetVersion computedAt closedAt
indicatorSet { version }
"""

CREATE_PERIOD = f"""
mutation($input: PeriodCreateInput!) {{ createPeriod(input: $input) {{
  __typename
  ... on PeriodPayload {{ period {{ {PERIOD_FIELDS} }} }}
  ... on PeriodCreateError {{ code field message messageZh }}
}} }}
"""

CLOSE_PERIOD = """
mutation($id: ID!) { closePeriod(id: $id) {
  __typename
  ... on PeriodPayload { period { status closedAt computedAt } }
  ... on PeriodCloseError { code field message }
} }
"""

REOPEN_PERIOD = """
mutation($id: ID!, $reason: String!) { reopenPeriod(id: $id, reason: $reason) {
  __typename
  ... on PeriodPayload { period { status closedAt } }
  ... on PeriodReopenError { code field message messageZh }
} }
"""

PERIODS = "{ periods { code status } }"

RECOMPUTE = """
mutation($id: ID!) { recomputeScorecards(periodId: $id) {
  __typename
  ... on ScorecardsRecomputePayload { job { id kind status } }
  ... on ScorecardsRecomputeError { code field message messageZh }
} }
"""

JOB = "query($id: ID!) { node(id: $id) { ... on Job { status counts errorReport } } }"

BASELINES = """
query($id: ID!, $indicator: String, $level: String) {
  levelBaselines(periodId: $id, indicator: $indicator, level: $level) {
    periodId indicator level value people facts low high windowStart windowEnd
  }
}
"""

ADJUSTMENTS = """
query($id: ID!, $indicator: String) { targetAdjustments(periodId: $id, indicator: $indicator) {
  periodId rule ruleKind indicator orgUnitId employeeId inputs effect reason { en zh }
} }
"""

LINE_FIELDS = """
indicator name { en zh } category group status actual rawActual n facts baseline baselineKind
baselineN threshold target stretch limit achievement points weight effectiveWeight watch
adjustments { rule kind effect reason { en zh } }
explanation { sentenceEn sentenceZh data }
"""

SCORECARD_FIELDS = f"""
id employeeId employee {{ name }} level levelName {{ en zh }} status indicatorTotal
reviewPoints reviewResponses blendedTotal adjustment adjustmentComment adjustedBy total
percentile scoredWeight indicatorSetVersion
period {{ code status }}
categories {{ category name {{ en }} points }}
groups {{ group name {{ en }} points }}
redistributed {{ indicator name {{ en }} weight status }}
lines {{ {LINE_FIELDS} }}
explanation {{ sentenceEn sentenceZh data }}
"""

SCORECARDS = f"""
query($period: ID!, $first: Int, $after: String, $employeeId: ID, $orgUnitId: ID,
      $level: String, $order: ScorecardOrder) {{
  scorecards(periodId: $period, first: $first, after: $after, employeeId: $employeeId,
             orgUnitId: $orgUnitId, level: $level, orderBy: $order) {{
    edges {{ node {{ {SCORECARD_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

SCORECARD_TOTALS = """
query($period: ID!, $first: Int, $after: String, $orgUnitId: ID, $level: String,
      $order: ScorecardOrder) {
  scorecards(periodId: $period, first: $first, after: $after, orgUnitId: $orgUnitId,
             level: $level, orderBy: $order) {
    edges { node { employeeId total } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SCORECARD = f"""
query($period: ID!, $employee: ID!) {{ scorecard(periodId: $period, employeeId: $employee) {{
  {SCORECARD_FIELDS}
}} }}
"""

NODE = """
query($id: ID!) { node(id: $id) {
  __typename
  ... on Scorecard { employeeId total explanation { sentenceEn } }
  ... on Fact { employeeId value }
  ... on Period { code status }
} }
"""

ADJUST = """
mutation($input: ScorecardAdjustInput!) { adjustScorecard(input: $input) {
  __typename
  ... on ScorecardAdjustPayload { scorecard {
    id adjustment adjustmentComment adjustedBy blendedTotal total
    explanation { sentenceEn sentenceZh data }
  } }
  ... on ScorecardAdjustError { code field message messageZh }
} }
"""

# --- helpers ---------------------------------------------------------------------------------


async def _mutate(
    gql: GraphQLClient, document: str, token: str, **variables: Any
) -> dict[str, Any]:
    """The one root field's result of a mutation."""
    data = (await gql(document, variables, token=token)).ok()
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


def _rows(kind: str, person: Employee, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """recordFacts items for ``person``, dated in the quarter unless a row says otherwise."""
    return [
        {
            "employeeId": global_id("Employee", person.id),
            "kind": kind,
            "occurredAt": row.get("at", IN_QUARTER).isoformat(),
            "value": row["value"],
            **({"denominator": row["denominator"]} if "denominator" in row else {}),
            **({"externalKey": row["key"]} if "key" in row else {}),
        }
        for row in rows
    ]


async def _manager_of(tenant: Tenant, unit: OrgUnit, name: str) -> tuple[User, Employee]:
    """A manager's account, linked to a senior who manages ``unit``."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_employee(tenant, name=name, org_unit=unit, user=user, level="senior")
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user, person


@dataclass
class World:
    """A department with a team under it and a side team, scored for 2026-Q3."""

    tenant: Tenant
    dept: OrgUnit
    team: OrgUnit
    side: OrgUnit
    boss_user: User
    boss: Employee
    side_boss_user: User
    ada_user: User
    ada: Employee
    bo_user: User
    bo: Employee
    cy: Employee
    tokens: dict[str, str]
    period_id: str

    def token(self, runtime: AppRuntime, user: User) -> str:
        return user_token(runtime.tokens, user)


async def _world(gql: GraphQLClient, runtime: AppRuntime) -> World:
    # given an organisation
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="R&D", kind="department")
    team = await create_org_unit(tenant, name="Payments", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Search", kind="team")
    boss_user, boss = await _manager_of(tenant, dept, "Boss")
    side_boss_user, _ = await _manager_of(tenant, side, "Side boss")
    ada_user = await create_user(tenant, roles=("employee",))
    ada = await create_employee(tenant, name="Ada", org_unit=team, user=ada_user, level="senior")
    bo_user = await create_user(tenant, roles=("employee",))
    bo = await create_employee(tenant, name="Bo", org_unit=team, user=bo_user, level="senior")
    cy = await create_employee(tenant, name="Cy", org_unit=side, level="senior")
    tokens = {
        role: user_token(runtime.tokens, await create_user(tenant, roles=(role,)))
        for role in ("admin", "hr", "sales")
    }
    # and facts recorded through the API (before the period exists: no job yet)
    items = (
        _rows("due_item", ada, on_time(9, 1))
        + _rows("due_item", bo, on_time(7, 3))
        + _rows("due_item", cy, on_time(10, 0))
        + _rows("due_item", boss, on_time(8, 2))
        + _rows("feasibility_answer", ada, [{"value": h} for h in (2.0, 5.0, 20.0, 23.0, 30.0)])
    )
    recorded = await _mutate(gql, RECORD_FACTS, tokens["hr"], items=items)
    assert {r["outcome"] for r in recorded["results"]} == {"RECORDED"}
    created = await _mutate(
        gql,
        CREATE_PERIOD,
        tokens["admin"],
        input={
            "code": "2026-Q3",
            "kind": "quarter",
            "startsOn": "2026-07-01",
            "endsOn": "2026-09-30",
        },
    )
    period_id = created["period"]["id"]
    # when HR asks for the scorecards and the job runs
    started = await _mutate(gql, RECOMPUTE, tokens["hr"], id=period_id)
    assert started["__typename"] == "ScorecardsRecomputePayload"
    await wait_for_job(tenant_id(tenant), node_uuid(started["job"]["id"]))
    return World(
        tenant=tenant,
        dept=dept,
        team=team,
        side=side,
        boss_user=boss_user,
        boss=boss,
        side_boss_user=side_boss_user,
        ada_user=ada_user,
        ada=ada,
        bo_user=bo_user,
        bo=bo,
        cy=cy,
        tokens=tokens,
        period_id=period_id,
    )


async def _scorecards(
    gql: GraphQLClient, token: str, period_id: str, document: str = SCORECARDS, **variables: Any
) -> list[dict[str, Any]]:
    data = (await gql(document, {"period": period_id, **variables}, token=token)).ok()
    return [edge["node"] for edge in data["scorecards"]["edges"]]


def _eid(person: Employee) -> str:
    return global_id("Employee", person.id)


# --- the pack and the indicator set ----------------------------------------------------------


async def test_the_template_pack_shows_its_indicator_part(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    rd, school = await create_tenant(), await create_tenant(template="school_teaching")
    for tenant, expected in ((rd, "enterprise_rd"), (school, "school_teaching")):
        token = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
        pack = (await gql(TEMPLATE_PACK, token=token)).ok()["templatePack"]
        assert pack["code"] == expected
        assert sum(i["weight"] for i in pack["indicators"]) == 100
        assert sum(g["weight"] for g in pack["weightGroups"]) == 100
        assert pack["factKinds"]
        assert pack["dashboardPanels"]
    rd_pack = (
        await gql(TEMPLATE_PACK, token=user_token(runtime.tokens, await create_user(rd)))
    ).ok()["templatePack"]
    assert rd_pack["vocabulary"] == {
        "workItem": {"en": "Requirement", "zh": "需求"},
        "scorecard": {"en": "Performance scorecard", "zh": "绩效记分卡"},
    }
    cycle = next(i for i in rd_pack["indicators"] if i["code"] == "cycle_time")
    assert cycle == {
        "code": "cycle_time",
        "category": "core",
        "group": "delivery",
        "weight": 20.0,
        "factKind": "requirement_delivered",
        "aggregation": "median",
        "limit": None,
        "shrink": "normal",
        "minN": 5,
        "target": {
            "policy": "baseline",
            "baseline": "level",
            "threshold": 1.2,
            "target": 1.0,
            "stretch": 0.85,
        },
    }
    due = next(k for k in rd_pack["factKinds"] if k["code"] == "due_item")
    assert due["denominator"] == {"en": "1 per item due"}
    spike = next(r for r in rd_pack["rules"] if r["kind"] == "demand_spike")
    assert spike["indicators"] == ["response_24h"]
    assert spike["params"] == {
        "fact_kind": "sales_request",
        "multiple": 1.5,
        "min_baseline": 3.0,
        "set_limit": 48.0,
    }
    assert rd_pack["scorecardPolicy"] == {
        "periodKind": "quarter",
        "managerAdjustmentMax": 10.0,
        "blend": None,
    }
    school_pack = (
        await gql(TEMPLATE_PACK, token=user_token(runtime.tokens, await create_user(school)))
    ).ok()["templatePack"]
    assert school_pack["scorecardPolicy"]["blend"] == {
        "indicators": 80.0,
        "reviews": 20.0,
        "sources": ["student", "parent"],
        "scale": [1.0, 5.0],
        "points": [0.0, 120.0],
        "minResponses": 3,
    }


async def test_the_indicator_set_is_versioned_and_only_admins_edit_it(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    employee = user_token(runtime.tokens, await create_user(tenant))

    # everyone reads the current set: version 1, the pack's defaults
    current = (await gql(INDICATOR_SET, token=employee)).ok()["indicatorSet"]
    assert (current["version"], current["note"]) == (1, "enterprise_rd defaults")
    assert [i["code"] for i in current["indicators"]][:2] == ["cycle_time", "on_time_delivery"]
    definition = current["definition"]
    assert set(definition) == {"weight_groups", "indicators", "rules"}

    # an admin moves a point of weight inside the collaboration group
    for indicator in definition["indicators"]:
        if indicator["code"] == "tech_accumulation":
            indicator["weight"] = 4
        if indicator["code"] == "knowledge_sharing":
            indicator["weight"] = 9
    saved = await _mutate(
        gql,
        UPDATE_INDICATOR_SET,
        admin,
        input={"baseVersion": 1, "definition": definition, "note": "More weight on training"},
    )
    assert saved["__typename"] == "IndicatorSetUpdatePayload"
    assert saved["indicatorSet"]["version"] == 2
    weights = {i["code"]: i["weight"] for i in saved["indicatorSet"]["indicators"]}
    assert (weights["tech_accumulation"], weights["knowledge_sharing"]) == (4.0, 9.0)

    # an edit made from an old version is a conflict; a bad one names its problems
    stale = await _mutate(
        gql, UPDATE_INDICATOR_SET, admin, input={"baseVersion": 1, "definition": definition}
    )
    assert (stale["__typename"], stale["code"], stale["field"]) == (
        "IndicatorSetUpdateError",
        "CONFLICT",
        "baseVersion",
    )
    definition["indicators"][0]["weight"] = 19
    bad = await _mutate(
        gql, UPDATE_INDICATOR_SET, admin, input={"baseVersion": 2, "definition": definition}
    )
    assert (bad["code"], bad["field"]) == ("INVALID", "definition")
    assert "indicator weights total 99, they must total 100" in bad["message"]
    not_an_object = await _mutate(
        gql, UPDATE_INDICATOR_SET, admin, input={"baseVersion": 2, "definition": [1]}
    )
    assert (not_an_object["code"], not_an_object["field"]) == ("INVALID", "definition")

    # versions stay readable; HR and employees do not edit
    history = (await gql(HISTORY, token=hr)).ok()["indicatorSetHistory"]
    assert history == [
        {"version": 2, "note": "More weight on training"},
        {"version": 1, "note": "enterprise_rd defaults"},
    ]
    first = (await gql(INDICATOR_SET, {"version": 1}, token=hr)).ok()["indicatorSet"]
    assert {i["code"]: i["weight"] for i in first["indicators"]}["tech_accumulation"] == 5.0
    assert (await gql(INDICATOR_SET, {"version": 9}, token=hr)).ok()["indicatorSet"] is None
    for refused in (hr, employee):
        response = await gql(
            UPDATE_INDICATOR_SET, {"input": {"baseVersion": 2, "definition": {}}}, token=refused
        )
        assert response.error_codes == ["FORBIDDEN"]


# --- facts -----------------------------------------------------------------------------------


async def test_facts_are_recorded_idempotently_corrected_and_listed(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    ada = await create_employee(tenant, name="Ada", employee_number="E-1", level="senior")
    foreigner = await create_employee(other, name="Elsewhere", employee_number="X-1")
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    answer = {
        "employeeId": _eid(ada),
        "kind": "feasibility_answer",
        "occurredAt": "2026-08-03T10:00:00+08:00",
        "value": 20.5,
        "source": "tracker",
        "externalKey": "REQ-1",
    }

    # one fact; the same again is unchanged; a changed one supersedes it
    first = await _mutate(gql, RECORD_FACT, hr, input=answer)
    assert (first["__typename"], first["outcome"], first["superseded"]) == (
        "FactRecordPayload",
        "RECORDED",
        None,
    )
    fact = first["fact"]
    assert {k: v for k, v in fact.items() if k != "id"} == {
        "employeeId": _eid(ada),
        "kind": "feasibility_answer",
        "occurredAt": "2026-08-03T02:00:00+00:00",
        "value": 20.5,
        "denominator": None,
        "source": "tracker",
        "externalKey": "REQ-1",
        "attributes": {},
        "current": True,
        "supersededAt": None,
        "supersededBy": None,
        "correctionOf": None,
    }
    again = await _mutate(gql, RECORD_FACT, hr, input=answer)
    assert (again["outcome"], again["fact"]["id"]) == ("UNCHANGED", fact["id"])
    changed = await _mutate(gql, RECORD_FACT, hr, input={**answer, "value": 30.0})
    assert (changed["outcome"], changed["superseded"]) == ("SUPERSEDED", fact["id"])

    # expected failures are data, with the field at fault
    unknown = await _mutate(gql, RECORD_FACT, hr, input={**answer, "kind": "nope"})
    assert (unknown["__typename"], unknown["code"], unknown["field"]) == (
        "FactRecordError",
        "INVALID",
        "kind",
    )
    assert unknown["messageZh"] == "未知的事实类型"
    foreign = await _mutate(
        gql, RECORD_FACT, hr, input={**answer, "employeeId": _eid(foreigner), "externalKey": None}
    )
    assert (foreign["code"], foreign["field"]) == ("NOT_FOUND", "employee")

    # a batch: one result per item, in order, the valid ones kept
    items = [
        {**answer, "externalKey": "REQ-2", "value": 3.0},
        {**answer, "externalKey": "REQ-3", "kind": "due_item"},  # needs a denominator
        {**answer, "externalKey": None, "employeeId": global_id("Skill", ada.id)},
        {**answer, "externalKey": None, "employeeId": None, "employeeNumber": "X-1"},
        {**answer, "externalKey": "REQ-2", "value": 4.0},  # repeated in the call
        {**answer, "externalKey": "REQ-4", "occurredAt": "2099-01-01T00:00:00Z"},
        {**answer, "externalKey": "REQ-5", "occurredAt": "2026-08-04T09:00:00"},  # no zone
    ]
    batch = await _mutate(gql, RECORD_FACTS, hr, items=items)
    assert [
        (r["key"], r["outcome"], r["error"] and (r["error"]["code"], r["error"]["field"]))
        for r in batch["results"]
    ] == [
        ("REQ-2", "RECORDED", None),
        ("REQ-3", "FAILED", ("INVALID", "denominator")),
        ("#3", "FAILED", ("NOT_FOUND", "employeeId")),
        ("#4", "FAILED", ("NOT_FOUND", "employee")),
        ("REQ-2", "FAILED", ("INVALID", "externalKey")),
        ("REQ-4", "FAILED", ("INVALID", "occurredAt")),
        ("REQ-5", "FAILED", ("INVALID", "occurredAt")),
    ]
    too_many = await _mutate(gql, RECORD_FACTS, hr, items=[answer] * 1001)
    assert (too_many["__typename"], too_many["code"], too_many["field"]) == (
        "FactsRecordError",
        "INVALID",
        "items",
    )

    # a correction supersedes the current fact, which stays on record
    current_id = changed["fact"]["id"]
    corrected = await _mutate(gql, CORRECT_FACT, hr, input={"id": current_id, "value": 12.0})
    assert corrected["__typename"] == "FactCorrectPayload"
    assert (corrected["fact"]["value"], corrected["fact"]["correctionOf"]) == (12.0, current_id)
    assert corrected["fact"]["externalKey"] == "REQ-1"
    twice = await _mutate(gql, CORRECT_FACT, hr, input={"id": current_id, "value": 13.0})
    assert (twice["code"], twice["field"]) == ("CONFLICT", "id")
    their_fact = (await record_facts(other, foreigner, "due_item", on_time(1, 0)))[0]
    for missing_id in (global_id("Fact", their_fact.id), global_id("Fact", uuid4())):
        missing = await _mutate(gql, CORRECT_FACT, hr, input={"id": missing_id, "value": 1.0})
        assert (missing["code"], missing["field"]) == ("NOT_FOUND", "id")

    # the list: current facts by default, every version when asked, filtered by time
    listed = (await gql(FACTS, {"kind": "feasibility_answer"}, token=hr)).ok()["facts"]
    assert sorted((e["node"]["value"], e["node"]["current"]) for e in listed["edges"]) == [
        (3.0, True),
        (12.0, True),
    ]
    every = (await gql(FACTS, {"all": True}, token=hr)).ok()["facts"]
    assert sorted(e["node"]["value"] for e in every["edges"]) == [3.0, 12.0, 20.5, 30.0]
    window = {"from": "2026-08-03T02:00:00Z", "before": "2026-08-03T02:00:01Z", "all": True}
    assert len((await gql(FACTS, window, token=hr)).ok()["facts"]["edges"]) == 4
    later = {"from": "2026-08-03T02:00:01Z"}
    assert (await gql(FACTS, later, token=hr)).ok()["facts"]["edges"] == []
    paged = (await gql(FACTS, {"first": 1, "all": True}, token=hr)).ok()["facts"]
    assert paged["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql(
            FACTS, {"first": 10, "all": True, "after": paged["pageInfo"]["endCursor"]}, token=hr
        )
    ).ok()["facts"]
    assert len(rest["edges"]) == 3
    bad_cursor = await gql(FACTS, {"after": "nope"}, token=hr)
    assert bad_cursor.error_codes == ["BAD_USER_INPUT"]

    # an ERP client with facts:write records by employee number; another tenant's people are
    # not found, and its facts are not listed
    erp = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("facts:write",))).client
    )
    by_number = await _mutate(
        gql,
        RECORD_FACTS,
        erp,
        items=[
            {
                "employeeNumber": "E-1",
                "kind": "due_item",
                "occurredAt": "2026-08-05T00:00:00Z",
                "value": 1,
                "denominator": 1,
                "source": "erp",
                "externalKey": "D-1",
            },
        ],
    )
    assert by_number["results"][0]["outcome"] == "RECORDED"
    other_hr = user_token(runtime.tokens, await create_user(other, roles=("hr",)))
    theirs = (await gql(FACTS, {"all": True}, token=other_hr)).ok()["facts"]["edges"]
    assert [e["node"]["id"] for e in theirs] == [global_id("Fact", their_fact.id)]
    assert (await gql(NODE, {"id": global_id("Fact", their_fact.id)}, token=hr)).ok()[
        "node"
    ] is None


async def test_who_reads_facts(gql: GraphQLClient, runtime: AppRuntime) -> None:
    # given Ada and Bo in a team under the boss's department, Cy in another team
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, dept, "Boss")
    ada_user = await create_user(tenant)
    ada = await create_employee(tenant, name="Ada", org_unit=team, user=ada_user)
    bo = await create_employee(tenant, name="Bo", org_unit=team)
    cy = await create_employee(tenant, name="Cy", org_unit=side)
    facts = {
        person.id: (await record_facts(tenant, person, "due_item", on_time(1, 0)))[0]
        for person in (ada, bo, cy)
    }

    async def seen(token: str, **variables: Any) -> set[UUID]:
        data = (await gql(FACTS, variables, token=token)).ok()["facts"]
        return {node_uuid(e["node"]["employeeId"]) for e in data["edges"]}

    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    boss = user_token(runtime.tokens, boss_user)
    me = user_token(runtime.tokens, ada_user)
    assert await seen(hr) == {ada.id, bo.id, cy.id}
    assert await seen(boss) == {ada.id, bo.id}
    assert await seen(boss, employeeId=_eid(cy)) == set()
    assert await seen(me) == {ada.id}
    assert await seen(me, employeeId=_eid(bo)) == set()
    reader = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("scorecards:read",))).client
    )
    assert await seen(reader) == {ada.id, bo.id, cy.id}

    # a fact out of reach reads as one that does not exist
    bo_fact = {"id": global_id("Fact", facts[bo.id].id)}
    assert (await gql(NODE, bo_fact, token=me)).ok()["node"] is None
    assert (await gql(NODE, bo_fact, token=boss)).ok()["node"] == {
        "__typename": "Fact",
        "employeeId": _eid(bo),
        "value": 1.0,
    }
    # sales and employees neither list facts of others nor record any
    sales = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
    assert (await gql(FACTS, token=sales)).error_codes == ["FORBIDDEN"]
    record = {
        "input": {
            "employeeId": _eid(ada),
            "kind": "due_item",
            "value": 1,
            "denominator": 1,
            "occurredAt": "2026-08-01T00:00:00Z",
        }
    }
    for refused in (me, boss, sales):
        assert (await gql(RECORD_FACT, record, token=refused)).error_codes == ["FORBIDDEN"]


# --- periods and the recompute job -----------------------------------------------------------


async def test_periods_are_created_closed_and_reopened(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant, level="senior")
    await record_facts(tenant, person, "due_item", on_time(9, 1))
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    employee = user_token(runtime.tokens, await create_user(tenant))
    quarter = {
        "code": "2026-Q3",
        "kind": "quarter",
        "startsOn": "2026-07-01",
        "endsOn": "2026-09-30",
    }

    created = await _mutate(gql, CREATE_PERIOD, admin, input=quarter)
    period = created["period"]
    assert {k: v for k, v in period.items() if k != "id"} == {
        "code": "2026-Q3",
        "kind": "quarter",
        "startsOn": "2026-07-01",
        "endsOn": "2026-09-30",
        "status": "OPEN",
        "indicatorSetVersion": 1,
        "computedAt": None,
        "closedAt": None,
        "indicatorSet": {"version": 1},
    }
    duplicate = await _mutate(gql, CREATE_PERIOD, admin, input=quarter)
    assert (duplicate["__typename"], duplicate["code"], duplicate["field"]) == (
        "PeriodCreateError",
        "DUPLICATE",
        "code",
    )
    crooked = await _mutate(
        gql, CREATE_PERIOD, admin, input={**quarter, "code": "Q", "startsOn": "2026-08-01"}
    )
    assert (crooked["code"], crooked["field"]) == ("INVALID", "startsOn")
    assert crooked["messageZh"] == "季度周期须为自然季度"
    assert (await gql(CREATE_PERIOD, {"input": quarter}, token=hr)).error_codes == ["FORBIDDEN"]
    assert (await gql(PERIODS, token=employee)).ok()["periods"] == [
        {"code": "2026-Q3", "status": "OPEN"}
    ]
    assert (await gql(NODE, {"id": period["id"]}, token=employee)).ok()["node"] == {
        "__typename": "Period",
        "code": "2026-Q3",
        "status": "OPEN",
    }

    # HR closes it: scored one last time, then frozen
    closed = await _mutate(gql, CLOSE_PERIOD, hr, id=period["id"])
    assert closed["period"]["status"] == "CLOSED"
    assert closed["period"]["closedAt"] is not None
    assert closed["period"]["computedAt"] is not None
    again = await _mutate(gql, CLOSE_PERIOD, hr, id=period["id"])
    assert (again["code"], again["field"]) == ("CONFLICT", "id")
    frozen = await _mutate(gql, RECOMPUTE, hr, id=period["id"])
    assert (frozen["__typename"], frozen["code"], frozen["field"]) == (
        "ScorecardsRecomputeError",
        "CONFLICT",
        "period",
    )
    assert "已关闭" in frozen["messageZh"]

    # only an admin reopens it, saying why
    assert (
        await gql(
            REOPEN_PERIOD, {"id": period["id"], "reason": "Late facts from the ERP"}, token=hr
        )
    ).error_codes == ["FORBIDDEN"]
    terse = await _mutate(gql, REOPEN_PERIOD, admin, id=period["id"], reason="oops")
    assert (terse["__typename"], terse["code"], terse["field"]) == (
        "PeriodReopenError",
        "INVALID",
        "reason",
    )
    reopened = await _mutate(
        gql, REOPEN_PERIOD, admin, id=period["id"], reason="Late facts from the ERP"
    )
    assert reopened["period"] == {"status": "OPEN", "closedAt": None}

    # another tenant's periods, and ids of other types, are not found
    async with tenant_transaction(tenant_id(other)):
        from domain.indicators.service import period_service

        theirs: Period = await period_service.create(
            tenant_id(other),
            code="2026-Q3",
            kind="quarter",
            starts_on=datetime(2026, 7, 1).date(),
            ends_on=datetime(2026, 9, 30).date(),
        )
    for missing_id in (global_id("Period", theirs.id), global_id("Employee", person.id)):
        missing = await _mutate(gql, CLOSE_PERIOD, hr, id=missing_id)
        assert (missing["code"], missing["field"]) == ("NOT_FOUND", "id")
        refused = await _mutate(gql, RECOMPUTE, hr, id=missing_id)
        assert (refused["code"], refused["field"]) == ("NOT_FOUND", "periodId")
    assert (await gql(NODE, {"id": global_id("Period", theirs.id)}, token=hr)).ok()["node"] is None


async def test_the_recompute_job_scores_an_open_period_and_skips_a_closed_one(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    people = [await create_employee(tenant, level="senior") for _ in range(3)]
    for person in people:
        await record_facts(tenant, person, "due_item", on_time(8, 2))
    period = await create_period(tenant)
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    period_id = global_id("Period", period.id)

    started = await _mutate(gql, RECOMPUTE, hr, id=period_id)
    assert (started["job"]["kind"], started["job"]["status"]) == (RECOMPUTE_JOB, "QUEUED")
    job_id = node_uuid(started["job"]["id"])
    await wait_for_job(tenant_id(tenant), job_id)
    job = (await gql(JOB, {"id": started["job"]["id"]}, token=hr)).ok()["node"]
    assert job["status"] == "SUCCEEDED"
    assert job["counts"]["employees"] == 3
    assert job["counts"]["lines"] == 3 * 9
    assert job["counts"]["facts"] == 30
    assert len(await _scorecards(gql, hr, period_id, SCORECARD_TOTALS)) == 3

    # a job queued for a period closed meanwhile ends succeeded, having skipped it
    await close_period(tenant, period)
    async with tenant_transaction(tenant_id(tenant)):
        queued = await job_service.create(
            tenant_id(tenant), kind=RECOMPUTE_JOB, payload={"period_id": str(period.id)}
        )
    skipped = await wait_for_job(tenant_id(tenant), queued.id)
    assert (skipped.status.value, skipped.counts) == ("succeeded", {"skipped": 1})


# --- scorecards ------------------------------------------------------------------------------


async def test_scorecards_explain_themselves_line_by_line(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _world(gql, runtime)
    hr = world.tokens["hr"]

    # HR sees every scorecard, the highest total first
    cards = await _scorecards(gql, hr, world.period_id)
    names = [card["employee"]["name"] for card in cards]
    # Ada: 9 of 10 on time (110 points) and 4 of 5 answers in 24 h (86.7), over weight 38;
    # Cy: all on time (120) over weight 28; counts without facts score 0 but never make a
    # scorecard alone: Side boss, who has no facts, has no total and comes last
    assert names == ["Ada", "Cy", "Boss", "Bo", "Side boss"]
    totals = [card["total"] for card in cards]
    assert totals[-1] is None
    assert totals[:-1] == sorted(totals[:-1], reverse=True)
    ada = cards[0]
    assert (ada["employeeId"], ada["level"], ada["levelName"]) == (
        _eid(world.ada),
        "senior",
        {"en": "Senior engineer", "zh": "高级工程师"},
    )
    assert (ada["status"], ada["period"]) == ("SCORED", {"code": "2026-Q3", "status": "OPEN"})
    assert ada["adjustment"] == 0.0
    assert ada["blendedTotal"] == ada["indicatorTotal"] == ada["total"]
    assert ada["total"] == pytest.approx((110 * 15 + (80 + 20 / 3) * 10) / 38)
    assert ada["percentile"] == 100.0
    # lines in the indicator set's order, each explained
    lines = {line["indicator"]: line for line in ada["lines"]}
    assert list(lines)[:3] == ["cycle_time", "on_time_delivery", "escaped_defect_rate"]
    on_time_line = lines["on_time_delivery"]
    assert (on_time_line["status"], on_time_line["actual"], on_time_line["n"]) == (
        "SCORED",
        0.9,
        10,
    )
    assert on_time_line["points"] == pytest.approx(110.0)
    assert on_time_line["explanation"]["sentenceEn"].startswith(
        "On-time delivery: 90 % from 10 data points (10 facts of “Item due” dated 2026-07-01 "
        "to 2026-09-30)"
    )
    assert "按时交付率：实际值 90 %" in on_time_line["explanation"]["sentenceZh"]
    assert on_time_line["explanation"]["data"]["facts"]["from"] == "2026-07-01T00:00:00+00:00"
    response = lines["response_24h"]
    assert (response["actual"], response["limit"], response["n"]) == (0.8, 24.0, 5)
    missing = lines["cycle_time"]
    assert (missing["status"], missing["points"]) == ("NO_DATA", None)
    assert "its weight of 20 was redistributed" in missing["explanation"]["sentenceEn"]
    # the card's subtotals, redistributed weight and explanation
    assert [c["category"] for c in ada["categories"]] == ["auxiliary", "core", "target"]
    assert sum(c["points"] for c in ada["categories"]) == pytest.approx(ada["total"])
    assert sum(g["points"] for g in ada["groups"]) == pytest.approx(ada["total"])
    assert {r["indicator"] for r in ada["redistributed"]} == {
        "cycle_time",
        "escaped_defect_rate",
        "defects_per_item",
        "complaint_fix_72h",
        "meeting_resolution",
    }
    explanation = ada["explanation"]
    assert explanation["sentenceEn"].startswith(f"Total {ada['total']:.1f} of 120 points")
    assert explanation["sentenceEn"].endswith("100th percentile within level Senior engineer.")
    assert "在高级工程师职级中位于第 100 百分位" in explanation["sentenceZh"]
    assert explanation["data"]["period"]["code"] == "2026-Q3"

    # baselines and adjustments of the period are there to read
    baselines = (
        await gql(BASELINES, {"id": world.period_id, "indicator": "on_time_delivery"}, token=hr)
    ).ok()["levelBaselines"]
    assert [(b["level"], b["people"]) for b in baselines] == [("senior", 0)]
    assert baselines[0]["windowStart"] == "2025-07-01"
    assert (await gql(ADJUSTMENTS, {"id": world.period_id}, token=hr)).ok()[
        "targetAdjustments"
    ] == []

    # filters: a unit and everything below it, a level, one person; pages by total
    in_dept = await _scorecards(
        gql, hr, world.period_id, SCORECARD_TOTALS, orgUnitId=global_id("OrgUnit", world.dept.id)
    )
    assert {c["employeeId"] for c in in_dept} == {_eid(world.ada), _eid(world.bo), _eid(world.boss)}
    assert await _scorecards(gql, hr, world.period_id, SCORECARD_TOTALS, level="junior") == []
    assert len(await _scorecards(gql, hr, world.period_id, SCORECARD_TOTALS, level="senior")) == 5
    only_bo = await _scorecards(gql, hr, world.period_id, employeeId=_eid(world.bo))
    assert [c["employee"]["name"] for c in only_bo] == ["Bo"]
    seen: list[str] = []
    after = None
    while True:
        data = (
            await gql(
                SCORECARD_TOTALS, {"period": world.period_id, "first": 3, "after": after}, token=hr
            )
        ).ok()["scorecards"]
        seen += [e["node"]["employeeId"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [c["employeeId"] for c in cards]
    by_person = await _scorecards(gql, hr, world.period_id, SCORECARD_TOTALS, order="EMPLOYEE")
    assert [node_uuid(c["employeeId"]) for c in by_person] == sorted(
        node_uuid(c["employeeId"]) for c in cards
    )


async def test_who_reads_scorecards(gql: GraphQLClient, runtime: AppRuntime) -> None:
    world = await _world(gql, runtime)
    other = await create_tenant()
    foreigner = await create_employee(other, level="senior")
    await record_facts(other, foreigner, "due_item", on_time(9, 1))
    their_period = await create_period(other)
    await recompute(other, their_period)

    def names(cards: list[dict[str, Any]]) -> list[str]:
        return sorted(card["employee"]["name"] for card in cards)

    ada = world.token(runtime, world.ada_user)
    bo = world.token(runtime, world.bo_user)
    boss = world.token(runtime, world.boss_user)
    side_boss = world.token(runtime, world.side_boss_user)
    sales = world.tokens["sales"]
    admin = world.tokens["admin"]

    # an employee reads their own scorecard and its explanation, nobody else's
    assert names(await _scorecards(gql, ada, world.period_id)) == ["Ada"]
    own = (
        await gql(SCORECARD, {"period": world.period_id, "employee": _eid(world.ada)}, token=ada)
    ).ok()["scorecard"]
    assert own["employee"]["name"] == "Ada"
    assert own["explanation"]["sentenceEn"].startswith("Total")
    assert own["lines"][1]["explanation"]["sentenceEn"].startswith("On-time delivery")
    colleague = {"period": world.period_id, "employee": _eid(world.bo)}
    assert (await gql(SCORECARD, colleague, token=ada)).ok()["scorecard"] is None
    bo_card = (await gql(SCORECARD, colleague, token=bo)).ok()["scorecard"]
    assert (await gql(NODE, {"id": bo_card["id"]}, token=ada)).ok()["node"] is None
    assert (await gql(NODE, {"id": bo_card["id"]}, token=bo)).ok()["node"]["employeeId"] == (
        _eid(world.bo)
    )

    # a manager reads their subtree (and themselves), not the side team
    assert names(await _scorecards(gql, boss, world.period_id)) == ["Ada", "Bo", "Boss"]
    assert names(await _scorecards(gql, side_boss, world.period_id)) == ["Cy", "Side boss"]
    cy = {"period": world.period_id, "employee": _eid(world.cy)}
    assert (await gql(SCORECARD, cy, token=boss)).ok()["scorecard"] is None
    assert (await gql(NODE, {"id": bo_card["id"]}, token=side_boss)).ok()["node"] is None

    # sales read no scorecards at all
    for document, variables in (
        (SCORECARDS, {"period": world.period_id}),
        (SCORECARD, colleague),
        (NODE, {"id": bo_card["id"]}),
    ):
        assert (await gql(document, variables, token=sales)).error_codes == ["FORBIDDEN"]

    # an integrator with scorecards:read reads them all, without people's records
    reader = client_token(
        runtime.tokens, (await create_api_client(world.tenant, scopes=("scorecards:read",))).client
    )
    integrated = await _scorecards(gql, reader, world.period_id)
    assert len(integrated) == 5
    assert {card["employee"] for card in integrated} == {None}

    # another tenant's period, people and scorecards are not found
    their_card = await scorecard_of(other, their_period, foreigner)
    their_period_id = global_id("Period", their_period.id)
    assert await _scorecards(gql, admin, their_period_id) == []
    assert (
        await gql(SCORECARD, {"period": their_period_id, "employee": _eid(foreigner)}, token=admin)
    ).ok()["scorecard"] is None
    assert (
        await gql(SCORECARD, {"period": world.period_id, "employee": _eid(foreigner)}, token=admin)
    ).ok()["scorecard"] is None
    their_node = {"id": global_id("Scorecard", their_card.id)}
    assert (await gql(NODE, their_node, token=admin)).ok()["node"] is None
    assert (await gql(BASELINES, {"id": their_period_id}, token=admin)).ok()["levelBaselines"] == []


async def test_rules_that_moved_targets_say_why_to_those_who_may_know(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a team that usually gets 4 sales requests a quarter and got 12 this one
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Payments", kind="team", parent=dept)
    ada_user, bo_user = await create_user(tenant), await create_user(tenant)
    ada = await create_employee(tenant, name="Ada", org_unit=team, user=ada_user, level="mid")
    bo = await create_employee(tenant, name="Bo", org_unit=team, user=bo_user, level="mid")
    boss_user, _ = await _manager_of(tenant, dept, "Boss")
    # (the usual volume is the rate over the history there is: a year of it here)
    before = datetime(2025, 7, 10, 9, tzinfo=UTC)
    await record_facts(tenant, ada, "sales_request", [{"value": 1.0, "at": before}] * 16)
    await record_facts(tenant, ada, "sales_request", [{"value": 1.0}] * 12)
    await record_facts(
        tenant, ada, "feasibility_answer", [{"value": 30.0}] * 3 + [{"value": 10.0}] * 2
    )
    period = await create_period(tenant)
    await recompute(tenant, period)
    # and a person's own adjustment (as the sustained-quality rule writes them) for Bo
    async with tenant_transaction(tenant_id(tenant)):
        await TargetAdjustment.create(
            tenant_id=tenant.id,
            period_id=period.id,
            rule="sustained_quality",
            rule_kind="sustained_quality",
            indicator="escaped_defect_rate",
            org_unit_id=team.id,
            employee_id=bo.id,
            inputs={"signal": "eight_in_a_row"},
            effect={"target": {"from": 0.1, "to": 0.125}},
            reason_en="quality better than the baseline: the target relaxes",
            reason_zh="质量优于基线：目标放宽",
        )
    period_id = global_id("Period", period.id)

    async def rules(token: str) -> list[tuple[str, str | None]]:
        found = (await gql(ADJUSTMENTS, {"id": period_id}, token=token)).ok()
        return sorted(
            (a["rule"], a["employeeId"] and node_uuid(a["employeeId"]).hex)
            for a in found["targetAdjustments"]
        )

    unit_wide = ("demand_spike", None)
    bos = ("sustained_quality", bo.id.hex)
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    sales = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
    # then the unit-wide stretch is for everyone; Bo's own adjustment for Bo, his manager, HR
    assert await rules(hr) == sorted([unit_wide, bos])
    assert await rules(user_token(runtime.tokens, boss_user)) == sorted([unit_wide, bos])
    assert await rules(user_token(runtime.tokens, bo_user)) == sorted([unit_wide, bos])
    assert await rules(user_token(runtime.tokens, ada_user)) == [unit_wide]
    assert await rules(sales) == [unit_wide]
    spike = next(
        a
        for a in (
            await gql(ADJUSTMENTS, {"id": period_id, "indicator": "response_24h"}, token=hr)
        ).ok()["targetAdjustments"]
    )
    assert (spike["ruleKind"], spike["orgUnitId"]) == (
        "demand_spike",
        global_id("OrgUnit", team.id),
    )
    assert spike["effect"] == {"limit": {"from": 24.0, "to": 48.0}}
    assert "由 24 放宽到 48" in spike["reason"]["zh"]
    # and Ada's line carries the rule and says so
    mine = (
        await gql(
            SCORECARD,
            {"period": period_id, "employee": _eid(ada)},
            token=user_token(runtime.tokens, ada_user),
        )
    ).ok()["scorecard"]
    line = next(line for line in mine["lines"] if line["indicator"] == "response_24h")
    assert (line["limit"], line["actual"]) == (48.0, 1.0)
    assert [(a["rule"], a["kind"]) for a in line["adjustments"]] == [
        ("demand_spike", "demand_spike")
    ]
    assert "counting facts within 48 hours" in line["explanation"]["sentenceEn"]
    assert "rule demand_spike: 12 incoming" in line["explanation"]["sentenceEn"]


async def test_a_manager_adjusts_scorecards_in_their_subtree_with_a_comment(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _world(gql, runtime)
    hr = world.tokens["hr"]
    cards = {card["employee"]["name"]: card for card in await _scorecards(gql, hr, world.period_id)}
    boss = world.token(runtime, world.boss_user)
    comment = "Took over the billing incident for the whole team"

    # the manager moves Bo's total, within the pack's ten points, saying why
    adjusted = await _mutate(
        gql,
        ADJUST,
        boss,
        input={"scorecardId": cards["Bo"]["id"], "points": 4, "comment": comment},
    )
    assert adjusted["__typename"] == "ScorecardAdjustPayload"
    card = adjusted["scorecard"]
    assert (card["adjustment"], card["adjustmentComment"]) == (4.0, comment)
    assert card["total"] == pytest.approx(cards["Bo"]["blendedTotal"] + 4)
    assert card["adjustedBy"] == global_id("User", world.boss_user.id)
    assert f"manager adjustment +4 (“{comment}”)" in card["explanation"]["sentenceEn"]
    assert card["explanation"]["data"]["adjustment"]["comment"] == comment
    # Bo reads it, with the comment
    bo = world.token(runtime, world.bo_user)
    mine = (
        await gql(SCORECARD, {"period": world.period_id, "employee": _eid(world.bo)}, token=bo)
    ).ok()["scorecard"]
    assert (mine["adjustment"], mine["adjustmentComment"]) == (4.0, comment)

    # out of bounds, without a reason, outside the subtree, or one's own: refused
    for variables, expected in (
        (
            {"scorecardId": cards["Ada"]["id"], "points": 10.5, "comment": comment},
            ("INVALID", "points"),
        ),
        (
            {"scorecardId": cards["Ada"]["id"], "points": 2, "comment": "because"},
            ("INVALID", "comment"),
        ),
        (
            {"scorecardId": cards["Cy"]["id"], "points": 2, "comment": comment},
            ("NOT_FOUND", "scorecardId"),
        ),
        (
            {"scorecardId": cards["Boss"]["id"], "points": 2, "comment": comment},
            ("INVALID", "scorecardId"),
        ),
        (
            {"scorecardId": global_id("Scorecard", uuid4()), "points": 2, "comment": comment},
            ("NOT_FOUND", "scorecardId"),
        ),
        (
            {"scorecardId": _eid(world.ada), "points": 2, "comment": comment},
            ("NOT_FOUND", "scorecardId"),
        ),
    ):
        refused = await _mutate(gql, ADJUST, boss, input=variables)
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "ScorecardAdjustError",
            *expected,
        ), variables
        assert refused["messageZh"]

    # HR, employees and sales do not adjust; an admin does
    attempt = {"input": {"scorecardId": cards["Ada"]["id"], "points": 1, "comment": comment}}
    for refused_token in (hr, bo, world.tokens["sales"]):
        assert (await gql(ADJUST, attempt, token=refused_token)).error_codes == ["FORBIDDEN"]
    by_admin = await _mutate(gql, ADJUST, world.tokens["admin"], **attempt)
    assert by_admin["scorecard"]["adjustment"] == 1.0

    # a recomputation keeps the adjustment; a closed period refuses new ones
    started = await _mutate(gql, RECOMPUTE, hr, id=world.period_id)
    await wait_for_job(tenant_id(world.tenant), node_uuid(started["job"]["id"]))
    kept = (
        await gql(SCORECARD, {"period": world.period_id, "employee": _eid(world.bo)}, token=bo)
    ).ok()["scorecard"]
    assert (kept["adjustment"], kept["total"]) == (4.0, card["total"])
    closed = await _mutate(gql, CLOSE_PERIOD, hr, id=world.period_id)
    assert closed["period"]["status"] == "CLOSED"
    frozen = await _mutate(
        gql, ADJUST, boss, input={**attempt["input"], "scorecardId": cards["Bo"]["id"]}
    )
    assert (frozen["code"], frozen["field"]) == ("CONFLICT", "period")


# --- costs -----------------------------------------------------------------------------------


SCORECARD_PAGE = """
query($period: ID!, $first: Int) { scorecards(periodId: $period, first: $first) { edges { node {
  total percentile employee { name } period { code }
  categories { category points } redistributed { indicator name { en } }
  lines { indicator points explanation { sentenceEn } }
  explanation { sentenceEn }
} } } }
"""


async def test_a_page_of_scorecards_costs_the_same_statements_for_any_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given 12 scored people in a team under a managed department, 4 elsewhere
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, dept, "Boss")
    for index in range(16):
        person = await create_employee(
            tenant, name=f"P{index:02d}", org_unit=team if index < 12 else side, level="senior"
        )
        await record_facts(tenant, person, "due_item", on_time(5 + index % 5, 2))
    period = await create_period(tenant)
    await recompute(tenant, period)
    foreigner = await create_employee(other, level="senior")
    await record_facts(other, foreigner, "due_item", on_time(9, 1))
    await recompute(other, await create_period(other))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    boss = user_token(runtime.tokens, boss_user)
    period_id = global_id("Period", period.id)
    await gql(SCORECARD_PAGE, {"period": period_id, "first": 1}, token=hr)  # the pack, looked up

    for token, visible, expected in ((hr, 17, 7), (boss, 13, 8)):
        costs = set()
        for first in (2, 7, 20):
            response = await gql(SCORECARD_PAGE, {"period": period_id, "first": first}, token=token)
            edges = response.ok()["scorecards"]["edges"]
            assert len(edges) == min(first, visible)
            assert all(len(e["node"]["lines"]) == 9 for e in edges)
            costs.add(response.statements)
        # the scope, the caller, [the manager's reach,] the period, the page, one statement
        # for every line of the page, the indicator set version, the page's people
        assert costs == {expected}, (token == hr, costs)


async def test_a_page_of_facts_costs_the_same_statements_for_any_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    boss_user, boss_person = await _manager_of(tenant, dept, "Boss")
    people = [await create_employee(tenant, org_unit=dept) for _ in range(3)]
    outsider = await create_employee(tenant)
    for index, person in enumerate([*people, outsider]):
        rows = [
            {"value": 1.0, "denominator": 1.0, "at": datetime(2026, 8, 1 + day, index, tzinfo=UTC)}
            for day in range(10)
        ]
        await record_facts(tenant, person, "due_item", rows)
    await record_facts(other, await create_employee(other), "due_item", on_time(5, 0))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    boss = user_token(runtime.tokens, boss_user)

    for token, visible, expected in ((hr, 40, 3), (boss, 30, 4)):
        costs = set()
        for first in (3, 10, 25):
            response = await gql(FACTS, {"first": first}, token=token)
            edges = response.ok()["facts"]["edges"]
            assert len(edges) == min(first, visible)
            costs.add(response.statements)
        # the scope, the caller, [the manager's reach,] the page
        assert costs == {expected}, (token == hr, costs)
    assert boss_person.id not in {
        node_uuid(e["node"]["employeeId"])
        for e in (await gql(FACTS, {"first": 100}, token=boss)).ok()["facts"]["edges"]
    }


FACTS_USED = """
query($period: ID!, $employee: ID!) { scorecard(periodId: $period, employeeId: $employee) {
  lines { indicator facts factsUsed(first: 20) { edges { node { kind value occurredAt } } } }
} }
"""


async def test_a_line_links_to_the_facts_it_was_computed_from(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _world(gql, runtime)
    ada = world.token(runtime, world.ada_user)
    # a fact of the same kind outside the period is not among them
    await record_facts(
        world.tenant,
        world.ada,
        "due_item",
        [{"value": 0.0, "denominator": 1.0, "at": datetime(2026, 5, 4, tzinfo=UTC)}],
    )
    variables = {"period": world.period_id, "employee": _eid(world.ada)}
    card = (await gql(FACTS_USED, variables, token=ada)).ok()["scorecard"]
    lines = {line["indicator"]: line for line in card["lines"]}
    on_time = lines["on_time_delivery"]
    used = [edge["node"] for edge in on_time["factsUsed"]["edges"]]
    assert len(used) == on_time["facts"] == 10
    assert {fact["kind"] for fact in used} == {"due_item"}
    assert sorted(fact["value"] for fact in used) == [0.0] + [1.0] * 9
    assert lines["cycle_time"]["factsUsed"]["edges"] == []
