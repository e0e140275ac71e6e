"""The scoring engine's SQL: facts aggregated per person in the database, never in Python.

Each indicator costs two statements over the covering ``facts_scoring_idx``: one groups a
person's facts of its kind into the period and the baseline window before it, one into
months (for control charts and watch runs). What comes back is a handful of figures per
person, from which every aggregation in ``domain.templates.indicators`` is finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.templates.indicators import IndicatorDefinition
from tenants.scope import TenantID, require_tenant

PERIOD = "p"
WINDOW = "w"


@dataclass(frozen=True)
class Stats:
    """One person's facts of one kind in one bucket (the period, the window or a month)."""

    facts: int
    sum_value: float
    sum_denominator: float
    mean_ratio: float | None
    var_ratio: float | None
    median_ratio: float | None
    within: int
    within_stretched: int
    at_least: int


@dataclass(frozen=True)
class RosterEntry:
    employee_id: UUID
    level: str
    org_unit_id: UUID | None


async def roster(tenant: TenantID) -> list[RosterEntry]:
    """People scored: on the records with a level, not archived, not gone."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT id, level, org_unit_id FROM employees "
        "WHERE tenant_id = $1 AND archived_at IS NULL AND level IS NOT NULL "
        "AND status <> 'left' ORDER BY id",
        tenant,
    )
    return [RosterEntry(row["id"], row["level"], row["org_unit_id"]) for row in rows]


def _ratio(indicator: IndicatorDefinition) -> str:
    """The per-fact figure an indicator averages or takes the median of."""
    if indicator.aggregation == "normalised_gain":
        # pre < 100 is checked on the way in.
        pre = "(attributes->>'pre')::float8"
        return f"((value - {pre}) / (100 - {pre}))"
    return "(value / COALESCE(denominator, 1))"


def _figures(indicator: IndicatorDefinition) -> str:
    ratio = _ratio(indicator)
    median = (
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {ratio})"
        if indicator.aggregation == "median"
        else "NULL::float8"
    )
    return (
        f"count(*)::int, sum(value), sum(COALESCE(denominator, 1)), avg({ratio}), "
        f"var_samp({ratio}), {median}, "
        "(count(*) FILTER (WHERE value <= $5))::int, "
        "(count(*) FILTER (WHERE value <= $6))::int, "
        "(count(*) FILTER (WHERE value >= $5))::int"
    )


def _stats(row: Any, offset: int) -> Stats:
    return Stats(
        facts=row[offset],
        sum_value=float(row[offset + 1] or 0.0),
        sum_denominator=float(row[offset + 2] or 0.0),
        mean_ratio=row[offset + 3],
        var_ratio=row[offset + 4],
        median_ratio=row[offset + 5],
        within=row[offset + 6],
        within_stretched=row[offset + 7],
        at_least=row[offset + 8],
    )


@dataclass
class IndicatorFacts:
    """What one indicator's two statements return, by person."""

    period: dict[UUID, Stats]
    window: dict[UUID, Stats]
    months: dict[UUID, dict[int, Stats]]


async def indicator_facts(
    tenant: TenantID,
    indicator: IndicatorDefinition,
    *,
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
    months_start: datetime,
    stretched_limit: float | None,
) -> IndicatorFacts:
    """Aggregate the facts an indicator reads: per person in the period and in the
    baseline window, and per person and month from ``months_start`` to the period's end."""
    tx = require_tenant(tenant)
    limit = indicator.limit if indicator.limit is not None else 0.0
    stretched = stretched_limit if stretched_limit is not None else limit
    figures = _figures(indicator)
    buckets = await tx.fetch(
        f"SELECT employee_id, occurred_at >= $3 AS in_period, {figures} "  # noqa: S608 - built from constants
        "FROM facts WHERE tenant_id = $1 AND kind = $2 AND superseded_at IS NULL "
        "AND occurred_at >= $4 AND occurred_at < $7 "
        "GROUP BY employee_id, in_period",
        tenant,
        indicator.fact_kind,
        period_start,
        window_start,
        limit,
        stretched,
        period_end,
    )
    period: dict[UUID, Stats] = {}
    window: dict[UUID, Stats] = {}
    for row in buckets:
        (period if row["in_period"] else window)[row["employee_id"]] = _stats(row, 2)
    monthly = await tx.fetch(
        "SELECT employee_id, "  # noqa: S608 - built from constants
        "(extract(year FROM occurred_at AT TIME ZONE 'UTC')::int * 12 "
        "+ extract(month FROM occurred_at AT TIME ZONE 'UTC')::int) AS month, "
        f"{figures} "
        "FROM facts WHERE tenant_id = $1 AND kind = $2 AND superseded_at IS NULL "
        "AND occurred_at >= $3 AND occurred_at < $4 "
        "GROUP BY employee_id, month",
        tenant,
        indicator.fact_kind,
        months_start,
        period_end,
        limit,
        stretched,
    )
    months: dict[UUID, dict[int, Stats]] = {}
    for row in monthly:
        months.setdefault(row["employee_id"], {})[row["month"]] = _stats(row, 2)
    return IndicatorFacts(period=period, window=window, months=months)


@dataclass(frozen=True)
class Volumes:
    """Facts of one kind per org unit in the period and in the window, and how much of the
    window has any such facts at all (a young tenant's window starts at its first fact)."""

    by_unit: dict[UUID, tuple[int, int]]
    first_in_window: datetime | None


async def volume_by_unit(
    tenant: TenantID,
    fact_kind: str,
    *,
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> Volumes:
    """Facts of ``fact_kind`` per org unit (of the person they are about): (period, window)."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT e.org_unit_id, "
        "(count(*) FILTER (WHERE f.occurred_at >= $3))::int AS period, "
        "(count(*) FILTER (WHERE f.occurred_at < $3))::int AS window, "
        "min(f.occurred_at) AS first "
        "FROM facts f JOIN employees e ON e.tenant_id = f.tenant_id AND e.id = f.employee_id "
        "WHERE f.tenant_id = $1 AND f.kind = $2 AND f.superseded_at IS NULL "
        "AND f.occurred_at >= $4 AND f.occurred_at < $5 AND e.org_unit_id IS NOT NULL "
        "GROUP BY e.org_unit_id",
        tenant,
        fact_kind,
        period_start,
        window_start,
        period_end,
    )
    firsts = [row["first"] for row in rows if row["window"] > 0]
    return Volumes(
        by_unit={row["org_unit_id"]: (row["period"], row["window"]) for row in rows},
        first_in_window=min(firsts) if firsts else None,
    )


async def review_ratings(
    tenant: TenantID,
    sources: Sequence[str],
    *,
    period_start: datetime,
    period_end: datetime,
) -> dict[UUID, tuple[float, int]]:
    """Mean rating (over every criterion) and responses per person from ``sources``."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT f.subject_id, avg(r.value::float8) AS mean, count(DISTINCT f.id)::int AS n "
        "FROM feedback f CROSS JOIN LATERAL jsonb_each_text(f.ratings) AS r "
        "WHERE f.tenant_id = $1 AND f.archived_at IS NULL AND f.source = ANY($2::text[]) "
        "AND f.given_at >= $3 AND f.given_at < $4 "
        "GROUP BY f.subject_id",
        tenant,
        list(sources),
        period_start,
        period_end,
    )
    return {row["subject_id"]: (float(row["mean"]), row["n"]) for row in rows}


async def manager_adjustments(tenant: TenantID, period_id: UUID) -> dict[UUID, float]:
    """Adjustments managers made on this period's scorecards; recomputing keeps them."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT employee_id, adjustment FROM scorecards "
        "WHERE tenant_id = $1 AND period_id = $2 AND adjustment <> 0",
        tenant,
        period_id,
    )
    return {row["employee_id"]: float(row["adjustment"]) for row in rows}
