"""What a dashboard looks at and who looks: the filters, the grouping, the caller's reach,
and the people those allow, as one SQL fragment every aggregate starts from.

People are the unit of scope: an org subtree, a level and a skill all select employees, and
a manager sees the people of the units under the ones they manage (and themselves). A work
item is in scope through its assignees; a fact through its person. Groups whose figures rest
on fewer than ``min_group_size`` people are suppressed for everyone but admins, so a
dashboard never becomes a way to read one person's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.people.service import EVERYONE, Visibility
from domain.templates.registry import PackFile
from tenants.repository import get_tenant
from tenants.scope import TenantID

DEFAULT_MIN_GROUP_SIZE = 5
# The tenant setting that changes the size under which groups hide (2 at the least).
MIN_GROUP_SIZE_SETTING = "dashboardMinGroupSize"


class Grouping(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    ORG_UNIT = "org_unit"
    LEVEL = "level"


# date_trunc units of the time groupings.
TIME_UNITS = {Grouping.MONTH: "month", Grouping.QUARTER: "quarter"}


class DashboardInputError(ValueError):
    """A filter that cannot be answered (an empty or reversed period, too long a range)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# Longer ranges are a report, not a dashboard: five years of months is 60 points per series.
MAX_RANGE_DAYS = 366 * 5


@dataclass(frozen=True)
class DashboardFilter:
    """The period ``[starts_on, ends_on]`` (both days included) and the optional narrowing."""

    starts_on: date
    ends_on: date
    group_by: Grouping = Grouping.MONTH
    org_unit_id: UUID | None = None
    level: str | None = None
    skill_id: UUID | None = None
    customer: str | None = None

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise DashboardInputError("endsOn", "The period ends before it starts.")
        if (self.ends_on - self.starts_on).days > MAX_RANGE_DAYS:
            raise DashboardInputError("endsOn", "A dashboard covers at most five years.")

    @property
    def time_unit(self) -> str | None:
        """The date_trunc unit when grouping by time, else None."""
        return TIME_UNITS.get(self.group_by)


@dataclass(frozen=True)
class Audience:
    """Who is looking: whose people they may see and whether small groups are shown."""

    visibility: Visibility = field(default_factory=lambda: EVERYONE)
    sees_small_groups: bool = False
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE

    def suppresses(self, people: int) -> bool:
        """Whether a group resting on ``people`` people is hidden from this audience."""
        return not self.sees_small_groups and 0 < people < self.min_group_size


class Params:
    """Positional SQL parameters collected while a statement is assembled."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


_SUBTREE = """e.org_unit_id IN (
    SELECT u.id FROM org_units u
    JOIN org_units r ON r.tenant_id = u.tenant_id AND u.path <@ r.path
    WHERE u.tenant_id = {tenant} AND r.id = {root})"""
_HAS_SKILL = """EXISTS (
    SELECT 1 FROM employee_skills s
    WHERE s.tenant_id = e.tenant_id AND s.employee_id = e.id AND s.skill_id = {skill})"""


def scoped_people_sql(tenant_param: str, flt: DashboardFilter, audience: Audience,
                      params: Params) -> str:  # fmt: skip
    """A SELECT of the employees (id, org_unit_id, level) within both the caller's reach and
    the filter, to be used as a CTE named ``people``. Archived people and those who left
    stay in: history counts."""
    conditions = [f"e.tenant_id = {tenant_param}"]
    visibility = audience.visibility
    if not visibility.everyone:
        units = params.add(sorted(visibility.unit_ids or ()), "uuid[]")
        own = params.add(sorted(visibility.employee_ids), "uuid[]")
        conditions.append(f"(e.org_unit_id = ANY({units}) OR e.id = ANY({own}))")
    if flt.org_unit_id is not None:
        root = params.add(flt.org_unit_id, "uuid")
        conditions.append(_SUBTREE.format(tenant=tenant_param, root=root))
    if flt.level is not None:
        conditions.append(f"e.level = {params.add(flt.level, 'text')}")
    if flt.skill_id is not None:
        skill = params.add(flt.skill_id, "uuid")
        conditions.append(_HAS_SKILL.format(skill=skill))
    where = " AND ".join(conditions)
    # Only placeholders are interpolated; every value travels as a parameter.
    return f"SELECT e.id, e.org_unit_id, e.level FROM employees e WHERE {where}"  # noqa: S608


@dataclass(frozen=True)
class Label:
    """Text shown to people, in both languages."""

    en: str
    zh: str


# The key of the group of people without a unit, or without a level.
NONE_KEY = "none"
NO_UNIT = Label(en="No unit", zh="未分配单元")
NO_LEVEL = Label(en="No level", zh="未定职级")


@dataclass(frozen=True)
class Group:
    """One group of a grouped aggregate: a month or quarter, an org unit or a level."""

    key: str  # "2026-03", "2026-Q1", an org unit's id, a level's code
    label_en: str
    label_zh: str
    starts_on: date | None = None  # the first day, for time groups


def no_unit_group() -> Group:
    return Group(NONE_KEY, NO_UNIT.en, NO_UNIT.zh)


def level_group(pack: PackFile, code: str | None) -> Group:
    """A level's group, labelled with the pack's name for it (its code when unknown)."""
    if not code:
        return Group(NONE_KEY, NO_LEVEL.en, NO_LEVEL.zh)
    level = pack.level(code)
    if level is None:
        return Group(code, code, code)
    return Group(code, level.name.en, level.name.zh)


def time_group(starts_on: date, unit: str) -> Group:
    """The group of the month or quarter starting on ``starts_on``."""
    if unit == "quarter":
        quarter = (starts_on.month - 1) // 3 + 1
        return Group(
            f"{starts_on.year}-Q{quarter}",
            f"{starts_on.year} Q{quarter}",
            f"{starts_on.year}年第{quarter}季度",
            starts_on,
        )
    return Group(
        f"{starts_on.year}-{starts_on.month:02d}",
        f"{starts_on.year}-{starts_on.month:02d}",
        f"{starts_on.year}年{starts_on.month}月",
        starts_on,
    )


async def min_group_size(tenant: TenantID) -> int:
    """The tenant's minimum group size: its setting when it is a whole number of 2 or more."""
    row = await get_tenant(tenant)
    size = row.settings.get(MIN_GROUP_SIZE_SETTING) if row is not None else None
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        return DEFAULT_MIN_GROUP_SIZE
    return size
