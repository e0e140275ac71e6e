"""GraphQL of the personal dashboard: ``personalDashboard(employeeId:)``, one person's
scorecards against their level's spread (``domain.dashboards.personal``).

Somebody out of the caller's reach, of another tenant or of nobody answers the same null; an
id of something other than an employee is a BAD_USER_INPUT.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry
from strawberry import relay

from api.dashboards.common import DashboardGroupType, audience_of
from api.graphql.context import Info
from api.graphql.errors import bad_input
from api.graphql.fields import field, root_field
from api.graphql.relay import parse_node_id
from domain.dashboards import personal
from domain.dashboards.scope import Audience, level_group
from domain.templates.service import pack_of
from tenants.scope import TenantID

OPERATION = "Query.personalDashboard"


@strawberry.type(
    name="PersonalPoint",
    description="One scorecard of the person, with the spread of the same period's totals "
    "at the same level (others only); the spread is null for everyone but admins when "
    "fewer people than the minimum group size stand behind it.",
)
class PersonalPointType:
    period_id: relay.GlobalID
    period_code: str
    starts_on: date
    ends_on: date
    status: str = strawberry.field(description="The period's status: open or closed.")
    level: DashboardGroupType = strawberry.field(description="The level the card was scored at.")
    total_points: float | None = strawberry.field(
        description="The scorecard's total, after any adjustment."
    )
    level_median: float | None
    level_p25: float | None
    level_p75: float | None
    level_n: int = strawberry.field(description="Others' scored cards at the level that period.")
    level_suppressed: bool
    insufficient_data: bool = strawberry.field(description="Too little data to be scored.")


@strawberry.type(
    name="PersonalDashboard",
    description="A person's scorecards over time against their level.",
)
class PersonalDashboardType:
    employee_id: relay.GlobalID
    name: str
    level: DashboardGroupType | None = strawberry.field(description="The person's current level.")
    tenant: strawberry.Private[TenantID]
    person: strawberry.Private[UUID]
    audience: strawberry.Private[Audience]
    starts_on: strawberry.Private[date | None]
    ends_on: strawberry.Private[date | None]

    @field(
        description="The person's scorecards of the periods overlapping the range, oldest first."
    )
    async def points(self) -> list[PersonalPointType]:
        rows = await personal.personal_points(
            self.tenant, self.person, self.audience, starts_on=self.starts_on, ends_on=self.ends_on
        )
        pack = await pack_of(self.tenant)
        return [
            PersonalPointType(
                period_id=relay.GlobalID("Period", str(row.period_id)),
                period_code=row.period_code,
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                status=row.status,
                level=DashboardGroupType.of(level_group(pack, row.level)),
                total_points=row.total_points,
                level_median=row.level_median,
                level_p25=row.level_p25,
                level_p75=row.level_p75,
                level_n=row.level_n,
                level_suppressed=row.level_suppressed,
                insufficient_data=row.insufficient_data,
            )
            for row in rows
        ]


@strawberry.type
class PersonalDashboardQueries:
    @root_field(
        description="A person's scorecards against their level: null when they do not exist "
        "or are out of reach. `startsOn`/`endsOn` keep the periods overlapping them."
    )
    async def personal_dashboard(
        self,
        info: Info,
        employee_id: relay.GlobalID,
        starts_on: date | None = None,
        ends_on: date | None = None,
    ) -> PersonalDashboardType | None:
        person_id = parse_node_id(employee_id, "Employee")
        if person_id is None:
            raise bad_input("employeeId", "not an id of an Employee")
        if starts_on is not None and ends_on is not None and ends_on < starts_on:
            raise bad_input("endsOn", "The period ends before it starts.")
        tenant = info.context.tenant_id
        audience = await audience_of(info, OPERATION)
        found = await personal.person_in_reach(tenant, person_id, audience.visibility)
        if found is None:
            return None
        pack = await pack_of(tenant)
        return PersonalDashboardType(
            employee_id=relay.GlobalID("Employee", str(found.id)),
            name=found.name,
            level=DashboardGroupType.of(level_group(pack, found.level)) if found.level else None,
            tenant=tenant,
            person=found.id,
            audience=audience,
            starts_on=starts_on,
            ends_on=ends_on,
        )
