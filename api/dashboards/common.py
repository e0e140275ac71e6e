"""What every dashboard takes and shows: the filter input, the grouping, a group, and the
audience (reach, admin or not, the tenant's minimum group size) a caller looks as."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry
from strawberry import relay

from api.graphql.context import Info
from api.graphql.errors import bad_input
from api.graphql.relay import parse_node_id
from domain.dashboards.scope import (
    Audience,
    DashboardFilter,
    DashboardInputError,
    Group,
    Grouping,
    min_group_size,
)
from tenants.authorization import Role

DashboardGrouping = strawberry.enum(
    Grouping, name="DashboardGrouping", description="How a dashboard's series are grouped."
)


@strawberry.input(
    name="DashboardFilterInput",
    description="The period (both days included), the grouping and optional narrowing; "
    "narrowing combines with AND and with the caller's reach.",
)
class DashboardFilterInput:
    starts_on: date
    ends_on: date
    group_by: Grouping = Grouping.MONTH
    org_unit_id: relay.GlobalID | None = strawberry.field(
        default=None, description="An org unit: its whole subtree."
    )
    level: str | None = None
    skill_id: relay.GlobalID | None = None
    customer: str | None = None

    def to_filter(self) -> DashboardFilter:
        unit = _node_id(self.org_unit_id, "OrgUnit", "orgUnitId")
        skill = _node_id(self.skill_id, "Skill", "skillId")
        try:
            return DashboardFilter(
                starts_on=self.starts_on,
                ends_on=self.ends_on,
                group_by=self.group_by,
                org_unit_id=unit,
                level=self.level or None,
                skill_id=skill,
                customer=(self.customer or "").strip() or None,
            )
        except DashboardInputError as exc:
            raise bad_input(exc.field, str(exc)) from exc


def _node_id(global_id: relay.GlobalID | None, type_name: str, field: str) -> UUID | None:
    if global_id is None:
        return None
    parsed = parse_node_id(global_id, type_name)
    if parsed is None:
        raise bad_input(field, f"not an id of a {type_name}")
    return parsed


@strawberry.type(name="DashboardGroup", description="A month, quarter, org unit or level.")
class DashboardGroupType:
    key: str
    label_en: str
    label_zh: str
    starts_on: date | None

    @classmethod
    def of(cls, group: Group) -> DashboardGroupType:
        return cls(
            key=group.key, label_en=group.label_en, label_zh=group.label_zh,
            starts_on=group.starts_on,
        )  # fmt: skip


async def audience_of(info: Info, operation: str) -> Audience:
    """The caller as a dashboard audience for ``operation`` (``Query.<field>``): the people
    its matrix reach shows, and small groups only for admins."""
    context = info.context
    principal = context.require_actor().principal
    visibility = await context.visibility(operation)
    return Audience(
        visibility=visibility,
        sees_small_groups=Role.ADMIN in principal.roles,
        min_group_size=await min_group_size(context.tenant_id),
    )
