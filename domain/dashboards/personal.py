"""The personal dashboard: one person's scorecards over time against their level's spread.

Works for every pack: it reads scorecards, not facts. A point is one scorecard, oldest period
first, with its total (``Scorecard.total``, after a manager's adjustment) and whether it had
too little data to be scored (``ScorecardStatus.INSUFFICIENT_DATA``). The level's median,
25th and 75th percentiles are over the totals of the same period's scorecards held at the
same level (the level on the person's own card, the one it was scored against), the person
excluded, across the whole tenant: a level is a tenant-wide yardstick, like its baseline. They
are withheld from everyone but admins when fewer than the minimum group size of others stand
behind them, so the comparison never reads out a colleague's total.

Two statements: the person (within the caller's reach, else nothing at all), then the points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.dashboards.scope import Audience, Params
from domain.indicators.models import ScorecardStatus
from domain.people.service import Visibility
from tenants.scope import TenantID, require_tenant


@dataclass(frozen=True)
class Person:
    id: UUID
    name: str
    level: str | None


@dataclass(frozen=True)
class PersonalPoint:
    period_id: UUID
    period_code: str
    starts_on: date
    ends_on: date
    status: str  # the period's: open or closed
    level: str  # the level the card was scored at
    total_points: float | None
    level_median: float | None
    level_p25: float | None
    level_p75: float | None
    level_n: int
    level_suppressed: bool
    insufficient_data: bool


async def person_in_reach(
    tenant: TenantID, employee_id: UUID, visibility: Visibility
) -> Person | None:
    """The person if they exist in the tenant and the caller's reach; None otherwise (the
    two answers are the same on purpose)."""
    tx = require_tenant(tenant)
    params = Params(tenant, employee_id)
    condition = ""
    if not visibility.everyone:
        units = params.add(sorted(visibility.unit_ids or ()), "uuid[]")
        own = params.add(sorted(visibility.employee_ids), "uuid[]")
        condition = f" AND (org_unit_id = ANY({units}) OR id = ANY({own}))"
    row = await tx.fetchrow(
        "SELECT id, name, level FROM employees "  # noqa: S608 - placeholders only
        f"WHERE tenant_id = $1 AND id = $2{condition}",
        *params.values,
    )
    return Person(row["id"], row["name"], row["level"]) if row is not None else None


_POINTS_SQL = """
SELECT s.period_id, p.code, p.starts_on, p.ends_on, p.status AS period_status,
       s.status, s.level, s.total, l.median, l.p25, l.p75, l.n
FROM scorecards s
JOIN periods p ON p.tenant_id = s.tenant_id AND p.id = s.period_id
CROSS JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY o.total) AS median,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY o.total) AS p25,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY o.total) AS p75,
           count(*)::int AS n
    FROM scorecards o
    WHERE o.tenant_id = s.tenant_id AND o.period_id = s.period_id AND o.level = s.level
      AND o.employee_id <> s.employee_id AND o.total IS NOT NULL
) l
WHERE s.tenant_id = $1 AND s.employee_id = $2{period}
ORDER BY p.starts_on, p.ends_on, p.code
"""


async def personal_points(
    tenant: TenantID,
    employee_id: UUID,
    audience: Audience,
    *,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> list[PersonalPoint]:
    """The person's scorecards of the periods overlapping ``[starts_on, ends_on]`` (either
    end open when None), oldest first, each with its level's spread that period."""
    tx = require_tenant(tenant)
    params = Params(tenant, employee_id)
    period = ""
    if starts_on is not None:
        period += f" AND p.ends_on >= {params.add(starts_on, 'date')}"
    if ends_on is not None:
        period += f" AND p.starts_on <= {params.add(ends_on, 'date')}"
    rows = await tx.fetch(_POINTS_SQL.format(period=period), *params.values)
    return [_point(row, audience) for row in rows]


def _point(row: Any, audience: Audience) -> PersonalPoint:
    n = row["n"]
    suppressed = audience.suppresses(n)
    return PersonalPoint(
        period_id=row["period_id"],
        period_code=row["code"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        status=row["period_status"],
        level=row["level"],
        total_points=row["total"],
        level_median=None if suppressed else row["median"],
        level_p25=None if suppressed else row["p25"],
        level_p75=None if suppressed else row["p75"],
        level_n=n,
        level_suppressed=suppressed,
        insufficient_data=row["status"] == ScorecardStatus.INSUFFICIENT_DATA,
    )
