"""The personal dashboard through GraphQL: one's own, a manager's people, null for anyone
else (out of reach, another tenant's, nobody), a wrong id type refused, both packs, and a
statement count that does not grow with the periods."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import uuid4

from api.runtime import AppRuntime
from domain.indicators.models import Period
from domain.org.models import OrgUnit
from domain.people.models import Employee
from tenants.models import Tenant
from tests.factories import create_user, global_id, user_token
from tests.factories_dashboards_school import (
    create_manager,
    create_school,
    create_scorecard,
    create_teacher,
    set_min_group_size,
)
from tests.factories_indicators import create_period
from tests.factories_records import create_org_unit
from tests.support.graphql import GraphQLClient

PERSONAL = """
query($e: ID!, $from: Date, $to: Date) {
  personalDashboard(employeeId: $e, startsOn: $from, endsOn: $to) {
    employeeId name level { key labelEn labelZh }
    points { periodId periodCode startsOn endsOn status totalPoints levelMedian levelP25
             levelP75 levelN levelSuppressed insufficientData level { key } }
  }
}
"""


@dataclass
class Office:
    tenant: Tenant
    unit: OrgUnit
    me: Employee
    colleague: Employee
    outsider: Employee
    periods: list[Period]
    tokens: dict[str, str]


async def _office(runtime: AppRuntime, template: str = "school_teaching") -> Office:
    """Me and a colleague in a managed unit, an outsider elsewhere; two periods scored:
    in the first, three other seniors (60, 70, 80), in the second one (50)."""
    tenant = await create_school(template)
    await set_min_group_size(tenant, 3)
    unit = await create_org_unit(tenant, name="Team")
    elsewhere = await create_org_unit(tenant, name="Elsewhere")
    head_user, _ = await create_manager(tenant, unit)
    my_user = await create_user(tenant, roles=("employee",))
    me = await create_teacher(tenant, org_unit=unit, name="Me", user=my_user)
    colleague = await create_teacher(tenant, org_unit=unit, name="Colleague")
    outsider = await create_teacher(tenant, org_unit=elsewhere, name="Outsider")
    first = await create_period(
        tenant, code="2026-Q1", kind="quarter", starts_on=date(2026, 1, 1),
        ends_on=date(2026, 3, 31),
    )  # fmt: skip
    second = await create_period(
        tenant, code="2026-Q2", kind="quarter", starts_on=date(2026, 4, 1),
        ends_on=date(2026, 6, 30),
    )  # fmt: skip
    await create_scorecard(tenant, first, me, 75.0)
    await create_scorecard(tenant, first, colleague, 60.0)
    await create_scorecard(tenant, first, outsider, 70.0)
    await create_scorecard(tenant, first, await create_teacher(tenant, org_unit=elsewhere), 80.0)
    await create_scorecard(tenant, second, me, 90.0)
    await create_scorecard(tenant, second, colleague, 50.0)
    tokens = {
        role: user_token(runtime.tokens, await create_user(tenant, roles=(role,)))
        for role in ("admin", "hr")
    }
    tokens["manager"] = user_token(runtime.tokens, head_user)
    tokens["employee"] = user_token(runtime.tokens, my_user)
    return Office(tenant, unit, me, colleague, outsider, [first, second], tokens)


async def _dashboard(
    gql: GraphQLClient, office: Office, person: Employee | str, role: str, **extra: Any
) -> Any:
    employee = person if isinstance(person, str) else global_id("Employee", person.id)
    response = await gql(PERSONAL, {"e": employee, **extra}, token=office.tokens[role])
    return response.ok()["personalDashboard"]


async def test_an_employee_sees_their_own_dashboard_and_null_for_a_colleague(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    await _office(runtime)  # a second tenant alike: never counted

    mine = await _dashboard(gql, office, office.me, "employee")

    assert mine["employeeId"] == global_id("Employee", office.me.id)
    assert mine["name"] == "Me"
    assert mine["level"] == {"key": "senior", "labelEn": "Senior teacher", "labelZh": "高级教师"}
    first, second = office.periods
    assert mine["points"] == [
        {
            "periodId": global_id("Period", first.id), "periodCode": "2026-Q1",
            "startsOn": "2026-01-01", "endsOn": "2026-03-31", "status": "open",
            "totalPoints": 75.0, "levelMedian": 70.0, "levelP25": 65.0, "levelP75": 75.0,
            "levelN": 3, "levelSuppressed": False, "insufficientData": False,
            "level": {"key": "senior"},
        },
        {
            # one other senior: under the minimum of 3, withheld
            "periodId": global_id("Period", second.id), "periodCode": "2026-Q2",
            "startsOn": "2026-04-01", "endsOn": "2026-06-30", "status": "open",
            "totalPoints": 90.0, "levelMedian": None, "levelP25": None, "levelP75": None,
            "levelN": 1, "levelSuppressed": True, "insufficientData": False,
            "level": {"key": "senior"},
        },
    ]  # fmt: skip
    assert await _dashboard(gql, office, office.colleague, "employee") is None
    only_q2 = await _dashboard(gql, office, office.me, "employee", **{"from": "2026-05-01"})
    assert [p["periodCode"] for p in only_q2["points"]] == ["2026-Q2"]


async def test_a_manager_sees_their_people_and_null_outside(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)

    colleague = await _dashboard(gql, office, office.colleague, "manager")

    assert [p["totalPoints"] for p in colleague["points"]] == [60.0, 50.0]
    # the colleague's first-quarter level: me 75, the outsider 70 and 80: median 75
    assert colleague["points"][0]["levelMedian"] == 75.0
    assert await _dashboard(gql, office, office.outsider, "manager") is None
    assert (await _dashboard(gql, office, office.outsider, "hr"))["name"] == "Outsider"


async def test_admins_see_the_spread_of_small_levels(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)

    mine = await _dashboard(gql, office, office.me, "admin")

    assert mine["points"][1]["levelMedian"] == 50.0
    assert mine["points"][1]["levelSuppressed"] is False


async def test_unknown_and_foreign_people_are_null_and_other_ids_bad_input(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office, other = await _office(runtime), await _office(runtime)

    foreign = await _dashboard(gql, office, other.me, "admin")
    nobody = await _dashboard(gql, office, global_id("Employee", uuid4()), "admin")
    wrong = await gql(
        PERSONAL, {"e": global_id("OrgUnit", office.unit.id)}, token=office.tokens["admin"]
    )
    reversed_range = await gql(
        PERSONAL,
        {"e": global_id("Employee", office.me.id), "from": "2026-05-01", "to": "2026-04-01"},
        token=office.tokens["admin"],
    )

    assert foreign is None
    assert nobody is None
    assert wrong.error_codes == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["field"] == "employeeId"
    assert reversed_range.error_codes == ["BAD_USER_INPUT"]


async def test_the_dashboard_works_for_the_rd_pack(gql: GraphQLClient, runtime: AppRuntime) -> None:
    office = await _office(runtime, "enterprise_rd")

    mine = await _dashboard(gql, office, office.me, "employee")

    assert mine["level"]["labelEn"] == "Senior engineer"
    assert [p["totalPoints"] for p in mine["points"]] == [75.0, 90.0]


async def test_the_dashboard_costs_the_same_statements_for_any_number_of_periods(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    costs = set()
    for role in ("employee", "admin"):
        await gql(PERSONAL, {"e": global_id("Employee", office.me.id)}, token=office.tokens[role])
    for year in (2024, 2025):
        response = await gql(
            PERSONAL, {"e": global_id("Employee", office.me.id)}, token=office.tokens["employee"]
        )
        costs.add(response.statements)
        assert len(response.ok()["personalDashboard"]["points"]) == 2 + 4 * (year - 2024)
        for quarter in range(4):
            period = await create_period(
                office.tenant, code=f"{year}-Q{quarter + 1}", kind="quarter",
                starts_on=date(year, 3 * quarter + 1, 1),
                ends_on=date(year, 3 * quarter + 3, calendar.monthrange(year, 3 * quarter + 3)[1]),
            )  # fmt: skip
            await create_scorecard(office.tenant, period, office.me, 70.0)
            await create_scorecard(office.tenant, period, office.colleague, 60.0)
    # the scope, the caller, the caller's own record, the tenant's minimum group size, the
    # person, the points
    assert costs == {6}
