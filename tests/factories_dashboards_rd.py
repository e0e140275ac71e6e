"""Factories for the R&D dashboard's tests: an R&D organisation with a quarter of work items
whose figures are worked out by hand, scorecards with chosen totals, and the tenant's
minimum group size.

Items are created through the work service with their whole lifecycle at once (as a ticket
system sends them), so their statuses and facts are the product's own. Scorecards are
written as rows with chosen totals: the dashboard summarises totals, and computing them
through scoring would bury the figures under the scoring rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.indicators.models import Period, PeriodStatus, Scorecard, ScorecardStatus
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee, EmployeeStatus
from domain.skills.models import Skill
from domain.work.models import FoundIn, Verdict, WorkItem
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tenants.service import tenant_service
from tests.factories import create_tenant, create_user, tenant_id
from tests.factories_records import create_employee, create_org_unit, create_skill, set_skill
from tests.factories_work import create_item

H = timedelta(hours=1)
D = timedelta(days=1)


def at(month: int, day: int, hour: int = 9, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def requirement(
    tenant: Tenant,
    people: list[Employee],
    *,
    requested: datetime,
    answerer: Employee | None = None,
    answer_after: timedelta = 2 * H,
    promised_on: date | None = None,
    started: datetime | None = None,
    delivered: datetime | None = None,
    delay_cause: str | None = None,
    customer: str | None = "ACME",
) -> WorkItem:
    """A requirement with its lifecycle up to the last time given; shares split evenly."""
    fields: dict[str, Any] = {}
    if answerer is not None:
        fields.update(
            answered_at=requested + answer_after, answered_by=answerer.id, verdict=Verdict.FEASIBLE
        )
    return await create_item(
        tenant,
        assignees=[(person, 1 / len(people)) for person in people],
        requested_at=requested,
        promised_on=promised_on,
        started_at=started,
        delivered_at=delivered,
        delay_cause=delay_cause,
        customer=customer,
        **fields,
    )


async def complaint(
    tenant: Tenant, person: Employee, *, requested: datetime, cause: str, customer: str = "ACME"
) -> WorkItem:
    return await create_item(
        tenant,
        "complaint",
        title="Robot stopped",
        assignees=[(person, 1.0)],
        requested_at=requested,
        cause=cause,
        customer=customer,
    )


async def defect(
    tenant: Tenant,
    person: Employee,
    *,
    kind: str = "bug",
    requested: datetime,
    found_in: FoundIn | None,
    linked: WorkItem | None = None,
) -> WorkItem:
    return await create_item(
        tenant,
        kind,
        title="Crash",
        assignees=[(person, 1.0)],
        requested_at=requested,
        found_in=found_in,
        linked_item_id=linked.id if linked is not None else None,
    )


async def period_with_totals(
    tenant: Tenant, code: str, starts_on: date, ends_on: date, totals: dict[Employee, float | None]
) -> Period:
    """A closed period and a scorecard with each given total (None: insufficient data)."""
    tid = tenant_id(tenant)
    now = datetime.now(UTC)
    async with tenant_transaction(tid):
        period = await Period.create(
            tenant_id=tid, code=code, kind="quarter", starts_on=starts_on, ends_on=ends_on,
            status=PeriodStatus.CLOSED, indicator_set_version=1, computed_at=now, closed_at=now,
        )  # fmt: skip
        for person, total in totals.items():
            await Scorecard.create(
                tenant_id=tid, period_id=period.id, employee_id=person.id, level=person.level,
                org_unit_id=person.org_unit_id,
                status=ScorecardStatus.SCORED if total is not None else ScorecardStatus.INSUFFICIENT_DATA,
                total=total, indicator_total=total, scored_weight=100.0 if total is not None else 0.0,
                indicator_set_version=1, computed_at=now,
            )  # fmt: skip
    return period


async def set_min_group_size(tenant: Tenant, size: int) -> None:
    """The tenant's ``dashboardMinGroupSize`` setting."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        row = await tenant_service.get(tid)
        await tenant_service.update(tid, settings={**row.settings, "dashboardMinGroupSize": size})


async def manager_of(tenant: Tenant, unit: OrgUnit, name: str, level: str = "senior") -> User:
    """A manager's account, linked to a person of ``unit`` who manages it."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_employee(tenant, name=name, org_unit=unit, user=user, level=level)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user


@dataclass
class RdWorld:
    """An R&D department (Payments and Search teams, and Zed in the department itself) and a
    Sales unit, with Q1 2026's work. The figures each test expects are worked out in it."""

    tenant: Tenant
    rnd: OrgUnit
    payments: OrgUnit
    search: OrgUnit
    sales: OrgUnit
    ada: Employee  # Payments, senior
    bo: Employee  # Payments, mid
    cy: Employee  # Payments, junior
    di: Employee  # Search, senior
    ed: Employee  # Search, mid
    zed: Employee  # R&D itself, mid
    python: Skill
    go: Skill
    items: dict[str, WorkItem]


async def rd_world() -> RdWorld:
    """Q1 2026 (every time UTC):

    R1  Ada+Bo, answered by Ada in 6 h, promised Jan 20, started Jan 6, delivered Jan 16: on
        time, 10 days
    R2  Cy, answered by Cy in 30 h, promised Jan 25, started Jan 12, delivered Jan 26: late
        (cause rd), 14 days; customer Globex
    R3  Di, answered by Di in 2 h, promised Feb 10, started Feb 2 09:00, delivered Feb 11
        00:00, the very end of the promised day: late (no cause), 8.625 days
    R4  Ed, answered by Ada in 3 h, not promised, started Feb 4 09:00, delivered Feb 10 21:00:
        6.5 days
    R5  Ada, requested in December (not in the funnel), promised Jan 10, started Dec 21,
        delivered Jan 9: on time, 19 days
    R6  Bo, requested Mar 2, answered in 1 h, promised Apr 15: not delivered yet
    R7  requested Mar 5, nobody answered or assigned: nobody's, out of every scope
    R8  Zed, requested Feb 26, answered in 2 h, not promised, started Mar 1, delivered Mar 4:
        3 days; customer Initech
    C1  complaint (rd) Jan 20, Ada;  C2 complaint (sales over-promise) Jan 21, Bo;  C3
        complaint (rd) Feb 15, Di, Globex
    B1  bug found in test Jan 18, Bo;  I1 incident found in production Feb 20, Di;  B2 bug
        found in production Mar 10, Ed;  B3 bug with no place found Jan 19, Cy
    """
    tenant = await create_tenant()
    rnd = await create_org_unit(tenant, name="R&D", kind="department")
    payments = await create_org_unit(tenant, name="Payments", kind="team", parent=rnd)
    search = await create_org_unit(tenant, name="Search", kind="team", parent=rnd)
    sales = await create_org_unit(tenant, name="Sales", kind="department")

    async def person(name: str, unit: OrgUnit, level: str) -> Employee:
        return await create_employee(tenant, name=name, org_unit=unit, level=level)

    ada = await person("Ada", payments, "senior")
    bo = await person("Bo", payments, "mid")
    cy = await person("Cy", payments, "junior")
    di = await person("Di", search, "senior")
    ed = await person("Ed", search, "mid")
    zed = await person("Zed", rnd, "mid")
    await person("Sal", sales, "junior")
    gone = await create_employee(
        tenant, name="Old", org_unit=search, level="senior", status=EmployeeStatus.LEFT
    )
    python = await create_skill(tenant, "Python")
    go = await create_skill(tenant, "Go")
    for who, skill, level in (
        (ada, python, 4), (bo, python, 3), (di, python, 2), (gone, python, 5),
        (cy, go, 1), (ed, go, 5), (zed, go, 3),
    ):  # fmt: skip
        await set_skill(tenant, who, skill, level)

    items: dict[str, WorkItem] = {}
    items["R1"] = await requirement(
        tenant, [ada, bo], requested=at(1, 5), answerer=ada, answer_after=6 * H,
        promised_on=date(2026, 1, 20), started=at(1, 6), delivered=at(1, 16),
    )  # fmt: skip
    items["R2"] = await requirement(
        tenant, [cy], requested=at(1, 10), answerer=cy, answer_after=30 * H,
        promised_on=date(2026, 1, 25), started=at(1, 12), delivered=at(1, 26),
        delay_cause="rd", customer="Globex",
    )  # fmt: skip
    items["R3"] = await requirement(
        tenant, [di], requested=at(2, 1), answerer=di, promised_on=date(2026, 2, 10),
        started=at(2, 2), delivered=at(2, 11, 0),
    )  # fmt: skip
    items["R4"] = await requirement(
        tenant, [ed], requested=at(2, 3), answerer=ada, answer_after=3 * H,
        started=at(2, 4), delivered=at(2, 10, 21),
    )  # fmt: skip
    items["R5"] = await requirement(
        tenant, [ada], requested=at(12, 20, year=2025), answerer=ada,
        promised_on=date(2026, 1, 10), started=at(12, 21, year=2025), delivered=at(1, 9),
    )  # fmt: skip
    items["R6"] = await requirement(
        tenant, [bo], requested=at(3, 2), answerer=bo, answer_after=H,
        promised_on=date(2026, 4, 15),
    )  # fmt: skip
    items["R7"] = await requirement(tenant, [], requested=at(3, 5))
    items["R8"] = await requirement(
        tenant, [zed], requested=at(2, 26), answerer=zed, started=at(3, 1),
        delivered=at(3, 4), customer="Initech",
    )  # fmt: skip
    items["C1"] = await complaint(tenant, ada, requested=at(1, 20), cause="rd")
    items["C2"] = await complaint(tenant, bo, requested=at(1, 21), cause="sales_overpromise")
    items["C3"] = await complaint(tenant, di, requested=at(2, 15), cause="rd", customer="Globex")
    items["B1"] = await defect(
        tenant, bo, requested=at(1, 18), found_in=FoundIn.TEST, linked=items["R1"]
    )
    items["I1"] = await defect(
        tenant, di, kind="incident", requested=at(2, 20), found_in=FoundIn.PRODUCTION,
        linked=items["R3"],
    )  # fmt: skip
    items["B2"] = await defect(
        tenant, ed, requested=at(3, 10), found_in=FoundIn.PRODUCTION, linked=items["R4"]
    )
    items["B3"] = await defect(tenant, cy, requested=at(1, 19), found_in=None)
    await period_with_totals(tenant, "2025-Q4", date(2025, 10, 1), date(2025, 12, 31), {ada: 50.0})
    await period_with_totals(
        tenant, "2026-Q1", date(2026, 1, 1), date(2026, 3, 31),
        {ada: 100.0, di: 110.0, bo: 90.0, ed: 80.0, zed: 120.0, cy: 95.0, gone: None},
    )  # fmt: skip
    return RdWorld(
        tenant=tenant, rnd=rnd, payments=payments, search=search, sales=sales, ada=ada, bo=bo,
        cy=cy, di=di, ed=ed, zed=zed, python=python, go=go, items=items,
    )  # fmt: skip


async def other_tenant_work() -> Tenant:
    """Another tenant whose Q1 2026 work would change every figure if it leaked in."""
    other = await create_tenant()
    unit = await create_org_unit(other, name="R&D", kind="department")
    people = [await create_employee(other, org_unit=unit, level="senior") for _ in range(6)]
    for index, who in enumerate(people):
        await requirement(
            other, [who], requested=at(1, 2), answerer=who, promised_on=date(2026, 1, 3),
            started=at(1, 2, 12), delivered=at(1, 20 + index), delay_cause="external",
        )  # fmt: skip
        await complaint(other, who, requested=at(1, 5), cause="rd")
        await defect(other, who, requested=at(1, 6), found_in=FoundIn.PRODUCTION)
    await period_with_totals(
        other, "2026-Q1", date(2026, 1, 1), date(2026, 3, 31), dict.fromkeys(people, 1.0)
    )
    return other
