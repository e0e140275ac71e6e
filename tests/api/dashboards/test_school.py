"""The school dashboard through GraphQL: every panel for an admin, suppressed groups and
anonymous dots for HR, a manager's subtree, refusals, bad filters, a second tenant, and a
statement count that does not grow with the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from api.runtime import AppRuntime
from domain.org.models import OrgUnit
from domain.people.models import Employee
from tenants.models import Tenant
from tests.factories import create_user, global_id, user_token
from tests.factories_dashboards_school import (
    create_manager,
    create_school,
    create_teacher,
    parent_responses,
    set_min_group_size,
)
from tests.factories_indicators import record_facts
from tests.factories_records import create_appraisal, create_org_unit
from tests.support.graphql import GraphQLClient

JAN = datetime(2026, 1, 12, 9, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 9, tzinfo=UTC)

DASHBOARD = """
query($filter: DashboardFilterInput!) { schoolDashboard(filter: $filter) {
  gainByStyle { style labelEn labelZh classes teachers meanGain gainN excellentRate excellentN
                suppressed }
  note { en zh }
  ratingVsParents { points { employeeId name rating parentSatisfaction responses }
                    rho pValue n hiddenTeachers minResponses suppressed note { en zh } }
  slaTrend { group { key labelEn labelZh startsOn } homeworkRate homeworkN questionRate
             questionN people suppressed }
} }
"""
SLA = """
query($filter: DashboardFilterInput!) { schoolDashboard(filter: $filter) {
  slaTrend { group { key labelEn } homeworkRate homeworkN questionRate questionN people
             suppressed }
} }
"""


def _filter(group_by: str = "MONTH", **extra: Any) -> dict[str, Any]:
    return {"filter": {"startsOn": "2026-01-01", "endsOn": "2026-03-31", "groupBy": group_by,
                       **extra}}  # fmt: skip


@dataclass
class School:
    tenant: Tenant
    grade_a: OrgUnit
    grade_b: OrgUnit
    teachers: dict[str, Employee]
    tokens: dict[str, str]


async def _school(runtime: AppRuntime) -> School:
    """Grade A: T1 (interactive), T2 (lecture, junior); grade B: T3 (interactive), T4
    (lecture) and their head M; the tenant's minimum group size is 2."""
    tenant = await create_school()
    await set_min_group_size(tenant, 2)
    top = await create_org_unit(tenant, name="Sunrise", kind="school")
    grade_a = await create_org_unit(tenant, name="Grade A", kind="grade", parent=top)
    grade_b = await create_org_unit(tenant, name="Grade B", kind="grade", parent=top)
    head_user, head = await create_manager(tenant, grade_b, name="M")
    employee_user = await create_user(tenant, roles=("employee",))
    teachers = {
        "T1": await create_teacher(
            tenant, style="interactive", org_unit=grade_a, name="T1", user=employee_user
        ),
        "T2": await create_teacher(tenant, style="lecture", org_unit=grade_a, name="T2",
                                   level="junior"),
        "T3": await create_teacher(tenant, style="interactive", org_unit=grade_b, name="T3"),
        "T4": await create_teacher(tenant, style="lecture", org_unit=grade_b, name="T4"),
        "M": head,
    }  # fmt: skip
    t = teachers
    for name, pre, post, extra in (
        ("T1", 40, 70.0, {"excellent": 0.5}),  # g 0.5
        ("T3", 50, 80.0, {"excellent": 0.3}),  # g 0.6
        ("T2", 60, 70.0, {}),  # g 0.25
        ("T4", 80, 85.0, {}),  # g 0.25
    ):
        row = {"value": post, "attributes": {"pre": pre, **extra}, "at": JAN}
        await record_facts(tenant, t[name], "class_test", [row])
    for name, hours, at in (
        ("T1", 10.0, JAN), ("T1", 30.0, JAN), ("T2", 5.0, JAN), ("T3", 20.0, FEB),
        ("T4", 25.0, FEB), ("M", 2.0, FEB),
    ):  # fmt: skip
        await record_facts(tenant, t[name], "homework_graded", [{"value": hours, "at": at}])
    await record_facts(tenant, t["T1"], "question_answered", [{"value": 0.5, "at": JAN}])
    await record_facts(tenant, t["T3"], "question_answered", [{"value": 2.0, "at": FEB}])
    for name, score, care, responses in (("T1", 80, 4, 20), ("T3", 90, 5, 20), ("T2", 70, 3, 10)):
        await create_appraisal(tenant, t[name], period="2025-26 autumn", score=score,
                               period_start=JAN.date(), period_end=FEB.date())  # fmt: skip
        await parent_responses(tenant, t[name], [{"care": care}] * responses, at=FEB)
    tokens = {
        role: user_token(runtime.tokens, await create_user(tenant, roles=(role,)))
        for role in ("admin", "hr", "sales")
    }
    tokens["manager"] = user_token(runtime.tokens, head_user)
    tokens["employee"] = user_token(runtime.tokens, employee_user)
    return School(tenant, grade_a, grade_b, teachers, tokens)


def _sla(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["group"]["key"], r["homeworkN"],
            None if r["homeworkRate"] is None else round(r["homeworkRate"], 4), r["questionN"],
            r["questionRate"], r["people"], r["suppressed"],
        )
        for r in rows
    ]  # fmt: skip


async def test_an_admin_sees_every_panel_with_names(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _school(runtime)
    await _school(runtime)  # a second tenant just like it: never counted

    data = (await gql(DASHBOARD, _filter(), token=world.tokens["admin"])).ok()["schoolDashboard"]

    gains = {row["style"]: row for row in data["gainByStyle"]}
    assert list(gains) == ["interactive", "lecture", "mixed"]
    assert gains["interactive"] == {
        "style": "interactive", "labelEn": "Interactive", "labelZh": "互动式", "classes": 2,
        "teachers": 2, "meanGain": pytest.approx(0.55), "gainN": 2,
        "excellentRate": pytest.approx(0.4), "excellentN": 2, "suppressed": False,
    }  # fmt: skip
    assert (gains["lecture"]["meanGain"], gains["lecture"]["excellentN"]) == (0.25, 0)
    assert gains["lecture"]["excellentRate"] is None
    assert data["note"]["en"].startswith("Association, not causation")
    assert "1-14 %" in data["note"]["en"]
    assert "ASA 2014" in data["note"]["en"]
    assert data["note"]["zh"].startswith("相关不等于因果")
    scatter = data["ratingVsParents"]
    t1, t3 = (global_id("Employee", world.teachers[n].id) for n in ("T1", "T3"))
    assert scatter["points"] == [
        {"employeeId": t1, "name": "T1", "rating": 80.0, "parentSatisfaction": 4.0,
         "responses": 20},
        {"employeeId": t3, "name": "T3", "rating": 90.0, "parentSatisfaction": 5.0,
         "responses": 20},
    ]  # fmt: skip
    # two points have no rank correlation worth the name
    assert (scatter["rho"], scatter["pValue"], scatter["n"]) == (None, None, 2)
    assert (scatter["hiddenTeachers"], scatter["minResponses"]) == (1, 20)  # T2: 10 responses
    assert "Spearman" in scatter["note"]["en"]
    # January: 10, 30 and 5 h; 0.5 h. February: 20, 25 and 2 h; 2 h. March: nothing.
    assert _sla(data["slaTrend"]) == [
        ("2026-01", 3, 0.6667, 1, 1.0, 2, False),
        ("2026-02", 3, 0.6667, 1, 0.0, 3, False),
        ("2026-03", 0, None, 0, None, 0, False),
    ]
    assert data["slaTrend"][0]["group"] == {
        "key": "2026-01", "labelEn": "2026-01", "labelZh": "2026年1月", "startsOn": "2026-01-01"
    }  # fmt: skip


async def test_hr_sees_small_groups_suppressed_and_anonymous_dots(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _school(runtime)
    hr = world.tokens["hr"]

    data = (await gql(DASHBOARD, _filter("LEVEL"), token=hr)).ok()["schoolDashboard"]

    assert [(p["employeeId"], p["name"]) for p in data["ratingVsParents"]["points"]] == [
        (None, None),
        (None, None),
    ]
    assert [p["rating"] for p in data["ratingVsParents"]["points"]] == [80.0, 90.0]
    # junior: T2 alone, listed without figures; senior: T1, T3, T4 and M
    assert _sla(data["slaTrend"]) == [
        ("junior", None, None, None, None, None, True),
        ("senior", 5, 0.6, 2, 0.5, 4, False),
    ]
    assert data["slaTrend"][0]["group"]["labelEn"] == "Junior teacher"
    # with a minimum of 5 even the seniors hide, and so does the scatter; admins see all
    await set_min_group_size(world.tenant, 5)
    data = (await gql(DASHBOARD, _filter("LEVEL"), token=hr)).ok()["schoolDashboard"]
    assert [row["suppressed"] for row in data["slaTrend"]] == [True, True]
    assert all(row["suppressed"] for row in data["gainByStyle"][:2])
    assert data["ratingVsParents"] == {
        "points": [], "rho": None, "pValue": None, "n": None, "hiddenTeachers": None,
        "minResponses": 20, "suppressed": True, "note": data["ratingVsParents"]["note"],
    }  # fmt: skip
    admin = world.tokens["admin"]
    data = (await gql(DASHBOARD, _filter("LEVEL"), token=admin)).ok()["schoolDashboard"]
    assert [row["suppressed"] for row in data["slaTrend"]] == [False, False]
    assert data["ratingVsParents"]["n"] == 2


async def test_a_manager_sees_their_subtree_only(gql: GraphQLClient, runtime: AppRuntime) -> None:
    world = await _school(runtime)
    manager = world.tokens["manager"]

    data = (await gql(DASHBOARD, _filter("QUARTER"), token=manager)).ok()["schoolDashboard"]

    # grade B: T3, T4 and M; 20, 25 and 2 h; 2 h
    assert _sla(data["slaTrend"]) == [("2026-Q1", 3, 0.6667, 1, 0.0, 3, False)]
    # one interactive and one lecture teacher there: both under the minimum of 2
    assert [(g["style"], g["suppressed"]) for g in data["gainByStyle"]] == [
        ("interactive", True),
        ("lecture", True),
        ("mixed", False),
    ]
    assert data["ratingVsParents"]["suppressed"]  # T3 alone
    # grade A is outside: narrowing to it leaves nobody
    outside = _filter("QUARTER", orgUnitId=global_id("OrgUnit", world.grade_a.id))
    data = (await gql(SLA, outside, token=manager)).ok()["schoolDashboard"]
    assert _sla(data["slaTrend"]) == [("2026-Q1", 0, None, 0, None, 0, False)]


async def test_grouped_by_org_unit_under_a_unit(gql: GraphQLClient, runtime: AppRuntime) -> None:
    world = await _school(runtime)
    admin = world.tokens["admin"]
    top = await gql(SLA, _filter("ORG_UNIT"), token=admin)
    (school,) = top.ok()["schoolDashboard"]["slaTrend"]
    assert (school["group"]["labelEn"], school["homeworkN"], school["people"]) == (
        "Sunrise",
        6,
        5,
    )

    unit = global_id("OrgUnit", world.grade_a.id)
    under = await gql(SLA, _filter("ORG_UNIT", orgUnitId=unit), token=admin)

    assert _sla(under.ok()["schoolDashboard"]["slaTrend"]) == [
        (str(world.grade_a.id), 3, 0.6667, 1, 1.0, 2, False)
    ]


async def test_people_without_the_dashboard_row_are_refused(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _school(runtime)
    for role in ("employee", "sales"):
        response = await gql(SLA, _filter(), token=world.tokens[role])
        assert response.error_codes == ["FORBIDDEN"], role
    assert (await gql(SLA, _filter())).error_codes == ["UNAUTHENTICATED"]


async def test_a_filter_that_cannot_be_answered_is_bad_input(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _school(runtime)
    admin = world.tokens["admin"]
    reversed_period = {"filter": {"startsOn": "2026-03-01", "endsOn": "2026-01-01"}}
    not_a_unit = _filter(orgUnitId=global_id("Skill", world.grade_a.id))

    for variables in (reversed_period, not_a_unit):
        response = await gql(SLA, variables, token=admin)
        assert response.error_codes == ["BAD_USER_INPUT"], variables


async def test_the_dashboard_costs_the_same_statements_whatever_the_data(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await _school(runtime)
    costs = set()
    for token in (world.tokens["admin"], world.tokens["manager"]):
        await gql(DASHBOARD, _filter(), token=token)  # the pack, looked up once
        for _ in range(2):
            response = await gql(DASHBOARD, _filter("LEVEL"), token=token)
            response.ok()
            costs.add((token, response.statements))
            # more teachers, classes, answers and parents' responses
            for index in range(4):
                unit = world.grade_a if index % 2 else world.grade_b
                person = await create_teacher(world.tenant, style="mixed", org_unit=unit)
                await record_facts(
                    world.tenant, person, "class_test",
                    [{"value": 60.0, "attributes": {"pre": 50}, "at": JAN}] * 3,
                )  # fmt: skip
                await record_facts(
                    world.tenant, person, "homework_graded", [{"value": 3.0, "at": FEB}] * 3
                )
                await parent_responses(world.tenant, person, [{"care": 4}] * 20, at=FEB)
    # the scope, the caller, [the manager's reach,] the tenant's minimum group size, and one
    # statement per panel
    assert sorted(cost for _, cost in costs) == [6, 7]
