"""``rdDashboard`` through GraphQL: the whole dashboard in one query, who sees what (HR and
admins the tenant with small groups hidden from HR, a manager their subtree, another tenant
nothing of this one), refused input, and as many statements for ten times the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from starlette.applications import Starlette

from api.runtime import AppRuntime
from tests.factories import create_tenant, create_user, global_id, node_uuid, user_token
from tests.factories_dashboards_rd import (
    RdWorld,
    at,
    complaint,
    manager_of,
    rd_world,
    requirement,
    set_min_group_size,
)
from tests.support.graphql import GraphQLClient

GROUP = "group { key labelEn labelZh startsOn }"
DASHBOARD = f"""
query($filter: DashboardFilterInput!, $changeOn: Date!, $window: Int!) {{
  rdDashboard(filter: $filter) {{
    onTime {{ {GROUP} hits n rate people suppressed }}
    lateByCause {{ {GROUP} late causes {{ cause labelEn labelZh count }} people suppressed }}
    complaints {{ center points {{ {GROUP} complaints delivered rate lower upper signals
      people suppressed }} }}
    cycleTime {{ {GROUP} n median p80 people suppressed }}
    escapedDefects {{ {GROUP} hits n rate people suppressed }}
    beforeAfter(changeOn: $changeOn, windowDays: $window) {{ changeOn windowDays
      before {{ n median p80 people }} after {{ n median p80 people }} u pValue effectSize
      suppressed note {{ en zh }} }}
    scorecardDistribution {{ {GROUP} n min q1 median q3 max mean people suppressed }}
    capabilityHeatmap {{ skillId skillNameEn skillNameZh level {{ key labelEn }} headCount
      meanLevel suppressed }}
    funnel {{ requested answeredWithin24h promised deliveredOnTime people suppressed }}
  }}
}}
"""
FUNNEL = """
query($filter: DashboardFilterInput!) { rdDashboard(filter: $filter) {
  funnel { requested people suppressed }
  cycleTime { group { key } n median people suppressed }
} }
"""
Q1: dict[str, Any] = {"startsOn": "2026-01-01", "endsOn": "2026-03-31", "groupBy": "MONTH"}


@dataclass
class Office:
    world: RdWorld
    admin: str
    hr: str
    manager: str  # of Search (Di, Ed and the manager)
    employee: str


@pytest.fixture(scope="module")
async def office(app: Starlette) -> Office:
    runtime: AppRuntime = app.state.runtime
    world = await rd_world()
    await set_min_group_size(world.tenant, 2)
    manager = await manager_of(world.tenant, world.search, "Sam")

    async def token(role: str) -> str:
        return user_token(runtime.tokens, await create_user(world.tenant, roles=(role,)))

    return Office(
        world=world,
        admin=await token("admin"),
        hr=await token("hr"),
        manager=user_token(runtime.tokens, manager),
        employee=await token("employee"),
    )


async def _dashboard(
    gql: GraphQLClient, token: str, flt: dict[str, Any] = Q1, **variables: Any
) -> dict[str, Any]:
    data = (
        await gql(
            DASHBOARD, {"filter": flt, "changeOn": "2026-02-01", "window": 31, **variables},
            token=token,
        )
    ).ok()  # fmt: skip
    dashboard: dict[str, Any] = data["rdDashboard"]
    return dashboard


async def test_the_whole_dashboard_in_one_query(gql: GraphQLClient, office: Office) -> None:
    # when an admin asks for every panel of Q1 by month
    dashboard = await _dashboard(gql, office.admin)
    # then each panel answers with the figures worked out in the fixture
    on_time = dashboard["onTime"]
    assert [(g["group"]["key"], g["hits"], g["n"], g["people"]) for g in on_time] == [
        ("2026-01", 2, 3, 3), ("2026-02", 0, 1, 1), ("2026-03", 0, 0, 0),
    ]  # fmt: skip
    assert on_time[0]["group"] == {
        "key": "2026-01", "labelEn": "2026-01", "labelZh": "2026年1月", "startsOn": "2026-01-01"
    }  # fmt: skip
    january = dashboard["lateByCause"][0]
    assert january["late"] == 1
    assert january["causes"][0] == {
        "cause": "rd", "labelEn": "R&D", "labelZh": "研发原因", "count": 1
    }  # fmt: skip
    assert [c["cause"] for c in january["causes"]] == [
        "rd", "sales_overpromise", "customer_change", "external", "unknown"
    ]  # fmt: skip
    complaints = dashboard["complaints"]
    assert complaints["center"] == pytest.approx(1 / 3)
    assert [(p["complaints"], p["delivered"], p["signals"]) for p in complaints["points"]] == [
        (1, 3, []), (1, 2, []), (0, 1, []),
    ]  # fmt: skip
    assert [g["median"] for g in dashboard["cycleTime"]] == [
        pytest.approx(14.0), pytest.approx(7.5625), pytest.approx(3.0),
    ]  # fmt: skip
    assert [(g["hits"], g["n"]) for g in dashboard["escapedDefects"]] == [(0, 1), (1, 1), (1, 1)]
    before_after = dashboard["beforeAfter"]
    assert (before_after["before"]["n"], before_after["after"]["n"], before_after["u"]) == (
        3, 2, 6.0,
    )  # fmt: skip
    assert before_after["effectSize"] == -1.0
    assert before_after["pValue"] == pytest.approx(0.2)
    assert before_after["note"]["zh"]
    assert [(g["group"]["key"], g["n"], g["median"]) for g in dashboard["scorecardDistribution"]] == [
        ("junior", 1, 95.0), ("mid", 3, 90.0), ("senior", 2, 105.0),
    ]  # fmt: skip
    heat = dashboard["capabilityHeatmap"]
    assert [(c["skillNameEn"], c["level"]["key"], c["headCount"]) for c in heat] == [
        ("Go", "junior", 1), ("Go", "mid", 2), ("Python", "mid", 1), ("Python", "senior", 2),
    ]  # fmt: skip
    assert node_uuid(heat[0]["skillId"]) == office.world.go.id
    assert dashboard["funnel"] == {
        "requested": 6, "answeredWithin24h": 5, "promised": 4, "deliveredOnTime": 1,
        "people": 6, "suppressed": False,
    }  # fmt: skip


async def test_filters_travel_as_global_ids(gql: GraphQLClient, office: Office) -> None:
    world = office.world
    flt = {
        **Q1, "groupBy": "ORG_UNIT", "orgUnitId": global_id("OrgUnit", world.rnd.id),
        "skillId": global_id("Skill", world.python.id), "level": "senior", "customer": "ACME",
    }  # fmt: skip
    dashboard = await _dashboard(gql, office.admin, flt)
    # seniors with Python (Ada, Di) on ACME's work: R1 and R5 (Payments), R3 (Search)
    assert [(g["group"]["labelEn"], g["hits"], g["n"]) for g in dashboard["onTime"]] == [
        ("Payments", 2, 2), ("Search", 0, 1),
    ]  # fmt: skip


async def test_small_groups_are_hidden_from_hr_but_not_from_admins(
    gql: GraphQLClient, office: Office
) -> None:
    # the tenant hides groups of fewer than 2 people: February's on-time group rests on Di
    flt = {**Q1, "groupBy": "MONTH"}
    hr = await _dashboard(gql, office.hr, flt)
    admin = await _dashboard(gql, office.admin, flt)
    assert hr["onTime"][1] == {
        "group": admin["onTime"][1]["group"], "hits": None, "n": None, "rate": None,
        "people": None, "suppressed": True,
    }  # fmt: skip
    assert (admin["onTime"][1]["n"], admin["onTime"][1]["suppressed"]) == (1, False)
    # January rests on three people: shown to both
    assert hr["onTime"][0] == admin["onTime"][0]


async def test_a_manager_sees_their_subtree_only(gql: GraphQLClient, office: Office) -> None:
    quarter = {**Q1, "groupBy": "QUARTER"}
    hr = (await gql(FUNNEL, {"filter": quarter}, token=office.hr)).ok()["rdDashboard"]
    manager = (await gql(FUNNEL, {"filter": quarter}, token=office.manager)).ok()["rdDashboard"]
    # Search's people (Di, Ed and the manager): R3 and R4
    assert (hr["funnel"]["requested"], hr["funnel"]["people"]) == (6, 6)
    assert (manager["funnel"]["requested"], manager["funnel"]["people"]) == (2, 2)
    assert manager["cycleTime"] == [
        {"group": {"key": "2026-Q1"}, "n": 2, "median": pytest.approx(7.5625), "people": 2,
         "suppressed": False}
    ]  # fmt: skip
    # asking for another unit's subtree narrows further, never widens
    payments = {**quarter, "orgUnitId": global_id("OrgUnit", office.world.payments.id)}
    narrowed = (await gql(FUNNEL, {"filter": payments}, token=office.manager)).ok()
    assert narrowed["rdDashboard"]["funnel"] == {"requested": 0, "people": 0, "suppressed": False}


async def test_employees_may_not_read_it(gql: GraphQLClient, office: Office) -> None:
    response = await gql(FUNNEL, {"filter": Q1}, token=office.employee)
    assert response.error_codes == ["FORBIDDEN"]


async def test_another_tenant_sees_nothing_of_this_one(
    gql: GraphQLClient, office: Office, runtime: AppRuntime
) -> None:
    other = await create_tenant()
    admin = user_token(runtime.tokens, await create_user(other, roles=("admin",)))
    dashboard = await _dashboard(gql, admin)
    assert [g["n"] for g in dashboard["onTime"]] == [0, 0, 0]
    assert dashboard["funnel"]["requested"] == 0
    assert dashboard["scorecardDistribution"] == dashboard["capabilityHeatmap"] == []
    # and this tenant's unit is not a filter there: nobody is in it
    flt = {**Q1, "orgUnitId": global_id("OrgUnit", office.world.rnd.id)}
    assert (await _dashboard(gql, admin, flt))["funnel"]["people"] == 0


@pytest.mark.parametrize(
    ("flt", "variables", "field"),
    [
        ({**Q1, "endsOn": "2025-12-31"}, {}, "endsOn"),
        ({**Q1, "endsOn": "2031-12-31"}, {}, "endsOn"),
        ({**Q1, "orgUnitId": global_id("Employee", uuid4())}, {}, "orgUnitId"),
        ({**Q1, "skillId": global_id("OrgUnit", uuid4())}, {}, "skillId"),
        (Q1, {"window": 0}, "windowDays"),
    ],
)
async def test_bad_input_is_refused(
    gql: GraphQLClient, office: Office, flt: dict[str, Any], variables: dict[str, Any], field: str
) -> None:
    variables = {"filter": flt, "changeOn": "2026-02-01", "window": 31, **variables}
    response = await gql(DASHBOARD, variables, token=office.admin)
    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == field


async def test_the_dashboard_costs_as_many_statements_for_ten_times_the_data(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    world = await rd_world()
    admin = user_token(runtime.tokens, await create_user(world.tenant, roles=("admin",)))
    hr = user_token(runtime.tokens, await create_user(world.tenant, roles=("hr",)))
    variables = {"filter": Q1, "changeOn": "2026-02-01", "window": 31}
    by_level = {**variables, "filter": {**Q1, "groupBy": "LEVEL", "level": "mid"}}

    async def costs() -> list[int]:
        found = []
        for token, asked in ((admin, variables), (hr, by_level)):
            response = await gql(DASHBOARD, asked, token=token)
            response.ok()
            found.append(response.statements)
        return found

    small = await costs()
    for day in range(1, 29):
        await requirement(
            world.tenant, [world.bo, world.ed], requested=at(2, day, 8), answerer=world.zed,
            promised_on=date(2026, 3, 1), started=at(2, day, 10), delivered=at(2, day, 18),
        )  # fmt: skip
        await complaint(world.tenant, world.bo, requested=at(3, day), cause="rd")
    large = await costs()
    # the scope, the caller, the tenant's minimum group size, the tuning, the period's
    # items (six panels), before/after, scorecards and capabilities
    assert small == [8, 8]
    # the rows kept from the first requests are checked (a statement) and found stale
    assert large == [9, 9]
    # unchanged since: the check replaces the period's statement
    assert await costs() == [8, 8]
