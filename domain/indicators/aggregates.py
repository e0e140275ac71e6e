"""The scoring engine's SQL: facts aggregated per person in the database, never in Python.

Each indicator costs two statements over the covering ``facts_scoring_idx``: one groups a
person's facts of its kind into the period and the baseline window before it, one into
months (for control charts and watch runs). What comes back is a handful of figures per
person, from which every aggregation in ``domain.templates.indicators`` is finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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


# Sorting a tenant's facts by person, kind and month spills to disk with the default 4 MB;
# a recomputation is one batch per period, so its transaction may use more.
BATCH_WORK_MEM = "64MB"


async def batch_memory(tenant: TenantID) -> None:
    """Give the rest of this transaction the sort memory of a batch job."""
    tx = require_tenant(tenant)
    await tx.execute("SELECT set_config('work_mem', $1, true)", BATCH_WORK_MEM)


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


@dataclass
class IndicatorFacts:
    """One indicator's facts summed per person: in the period, in the baseline window, and
    per month (month index ``year * 12 + month``) over the months its rules look at."""

    period: dict[UUID, Stats]
    window: dict[UUID, Stats]
    months: dict[UUID, dict[int, Stats]]


@dataclass(frozen=True)
class Reading:
    """What to read for one indicator: from when months are kept apart, and the limit a
    demand spike stretched (None when no unit's limit moved)."""

    indicator: IndicatorDefinition
    months_start: datetime
    stretched_limit: float | None


class _Sums:
    """Additive figures of a bucket, so months add up to the period and the window."""

    __slots__ = ("at_least", "n", "ratio", "ratio_sq", "sum_d", "sum_v", "within", "within_s")

    def __init__(self) -> None:
        self.n = 0
        self.sum_v = self.sum_d = self.ratio = self.ratio_sq = 0.0
        self.within = self.within_s = self.at_least = 0

    def add(self, row: Any, limits: tuple[int, int, int]) -> None:
        # Columns by position: employee, kind, month, n, sum_v, sum_d, ratio, ratio_sq, ...
        self.n += row[3]
        self.sum_v += row[4]
        self.sum_d += row[5]
        self.ratio += row[6]
        self.ratio_sq += row[7]
        within, stretched, at_least = limits
        if within:
            self.within += row[within]
            self.within_s += row[stretched]
        if at_least:
            self.at_least += row[at_least]

    def stats(self) -> Stats:
        return _stats(self.n, self.sum_v, self.sum_d, self.ratio, self.ratio_sq,
                      self.within, self.within_s, self.at_least)  # fmt: skip


def _stats(
    n: int,
    sum_v: float,
    sum_d: float,
    ratio: float,
    ratio_sq: float,
    within: int,
    within_s: int,
    at_least: int,
) -> Stats:
    variance = None
    if n > 1:
        # Sums of squares lose a little precision; a variance cannot be negative.
        variance = max(0.0, (ratio_sq - ratio * ratio / n) / (n - 1))
    return Stats(
        facts=n,
        sum_value=sum_v,
        sum_denominator=sum_d,
        mean_ratio=ratio / n if n else None,
        var_ratio=variance,
        median_ratio=None,
        within=within,
        within_stretched=within_s,
        at_least=at_least,
    )


def _month(row: Any, limits: tuple[int, int, int]) -> Stats:
    within, stretched, at_least = limits
    return _stats(
        row[3], row[4], row[5], row[6], row[7],
        row[within] if within else 0, row[stretched] if stretched else 0,
        row[at_least] if at_least else 0,
    )  # fmt: skip


async def indicator_facts(
    tenant: TenantID,
    readings: Sequence[Reading],
    *,
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> dict[str, IndicatorFacts]:
    """Every indicator's facts, summed per person in SQL: one pass over the facts per kind
    of per-fact figure (plain ratios; normalised gains, which read an attribute), plus one
    for the medians of the indicators that take them. Months are kept apart only where a
    rule looks at them; the period and the window are the sums of their months."""
    families: dict[str, list[Reading]] = {}
    for reading in readings:
        families.setdefault(_ratio(reading.indicator), []).append(reading)
    found: dict[str, IndicatorFacts] = {}
    for ratio, members in families.items():
        found.update(
            await _read_family(tenant, ratio, members, window_start, period_start, period_end)
        )
    medians = [r for r in readings if r.indicator.aggregation == "median"]
    if medians:
        await _read_medians(tenant, medians, found, window_start, period_start, period_end)
    return found


async def _read_family(
    tenant: TenantID,
    ratio: str,
    readings: Sequence[Reading],
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> dict[str, IndicatorFacts]:
    tx = require_tenant(tenant)
    kinds = sorted({r.indicator.fact_kind for r in readings})
    # Parameters: $1 tenant, $2 kinds, $3 window start, $4 period end, then per kind the start
    # of its months, then the limits. Every figure and name in the text is a placeholder.
    args: list[Any] = [tenant, kinds, window_start, period_end]
    month_starts: dict[str, datetime] = {}
    for reading in readings:
        kind = reading.indicator.fact_kind
        month_starts[kind] = min(month_starts.get(kind, reading.months_start), reading.months_start)
    cases = []
    for kind in kinds:
        args += [kind, month_starts[kind]]
        cases.append(f"WHEN ${len(args) - 1} THEN ${len(args)}::timestamptz")
    columns: list[str] = []
    limit_columns: dict[str, tuple[int, int, int]] = {}
    for reading in readings:
        indicator = reading.indicator
        if indicator.limit is None:
            limit_columns[indicator.code] = (0, 0, 0)
            continue
        base = len(columns) + 8  # after employee, kind, month and five sums
        args += [indicator.fact_kind, indicator.limit]
        at_kind, at_limit = len(args) - 1, len(args)
        if indicator.aggregation == "share_within":
            stretched = reading.stretched_limit
            args.append(stretched if stretched is not None else indicator.limit)
            columns += [
                f"(count(*) FILTER (WHERE kind = ${at_kind} AND value <= ${at_limit}))::int",
                f"(count(*) FILTER (WHERE kind = ${at_kind} AND value <= ${len(args)}))::int",
            ]
            limit_columns[indicator.code] = (base, base + 1, 0)
        else:  # count_at_least
            columns.append(
                f"(count(*) FILTER (WHERE kind = ${at_kind} AND value >= ${at_limit}))::int"
            )
            limit_columns[indicator.code] = (0, 0, base)
    month = (
        "(extract(year FROM occurred_at AT TIME ZONE 'UTC')::int * 12 "
        "+ extract(month FROM occurred_at AT TIME ZONE 'UTC')::int)"
    )
    extra = "".join(f", {column}" for column in columns)
    rows = await tx.fetch(
        f"SELECT employee_id, kind, "  # noqa: S608 - built from constants and placeholders
        f"CASE WHEN occurred_at >= (CASE kind {' '.join(cases)} END) THEN {month} ELSE 0 END "
        "AS month, count(*)::int AS n, sum(value) AS sum_v, "
        f"sum(COALESCE(denominator, 1)) AS sum_d, sum({ratio}) AS ratio, "
        f"sum({ratio} * {ratio}) AS ratio_sq{extra} "
        "FROM facts WHERE tenant_id = $1 AND kind = ANY($2::text[]) "
        "AND superseded_at IS NULL AND occurred_at >= $3 AND occurred_at < $4 "
        "GROUP BY 1, 2, 3",
        *args,
    )
    first_period_month = period_start.year * 12 + period_start.month
    by_kind: dict[str, list[Any]] = {}
    for row in rows:
        by_kind.setdefault(row[1], []).append(row)
    found: dict[str, IndicatorFacts] = {}
    for reading in readings:
        code = reading.indicator.code
        limits = limit_columns[code]
        period: dict[UUID, _Sums] = {}
        window: dict[UUID, _Sums] = {}
        months: dict[UUID, dict[int, Stats]] = {}
        for row in by_kind.get(reading.indicator.fact_kind, ()):
            person, bucket = row[0], row[2]
            target = period if bucket >= first_period_month else window
            sums = target.get(person)
            if sums is None:
                sums = target[person] = _Sums()
            sums.add(row, limits)
            if bucket:
                series = months.get(person)
                if series is None:
                    series = months[person] = {}
                series[bucket] = _month(row, limits)
        found[code] = IndicatorFacts(
            period={person: sums.stats() for person, sums in period.items()},
            window={person: sums.stats() for person, sums in window.items()},
            months=months,
        )
    return found


async def _read_medians(
    tenant: TenantID,
    readings: Sequence[Reading],
    found: dict[str, IndicatorFacts],
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> None:
    """Medians are not sums of months: one grouping-sets pass per indicator gives them per
    person for the period, the window and each month its rules look at."""
    tx = require_tenant(tenant)
    for reading in readings:
        indicator = reading.indicator
        ratio = _ratio(indicator)
        rows = await tx.fetch(
            "SELECT employee_id, occurred_at >= $3 AS in_period, "  # noqa: S608 - constants
            "CASE WHEN occurred_at >= $5 THEN (extract(year FROM occurred_at AT TIME ZONE "
            "'UTC')::int * 12 + extract(month FROM occurred_at AT TIME ZONE 'UTC')::int) "
            "ELSE 0 END AS month, "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {ratio}) AS median "
            "FROM facts WHERE tenant_id = $1 AND kind = $2 AND superseded_at IS NULL "
            "AND occurred_at >= $4 AND occurred_at < $6 "
            "GROUP BY GROUPING SETS ((employee_id, in_period), (employee_id, month))",
            tenant,
            indicator.fact_kind,
            period_start,
            window_start,
            reading.months_start,
            period_end,
        )
        facts = found[indicator.code]
        for row in rows:
            person = row["employee_id"]
            if row["month"] is None:
                bucket = facts.period if row["in_period"] else facts.window
                if person in bucket:
                    bucket[person] = replace(bucket[person], median_ratio=row["median"])
            elif row["month"]:
                series = facts.months.get(person, {})
                if row["month"] in series:
                    series[row["month"]] = replace(series[row["month"]], median_ratio=row["median"])


@dataclass(frozen=True)
class BandHistory:
    """Normalised gains by pre-test band: the tenant's median gain per band over the window
    (with its number of classes), and each person's classes per band in the period."""

    medians: dict[int, tuple[float, int]]
    classes: dict[UUID, dict[int, int]]


async def band_history(
    tenant: TenantID,
    indicator: IndicatorDefinition,
    *,
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> BandHistory:
    """Two small statements over one kind of fact; bands are ``width_bucket`` numbers."""
    tx = require_tenant(tenant)
    pre = "(attributes->>'pre')::float8"
    band = f"width_bucket({pre}, $5::float8[])"
    cuts = list(indicator.target.bands)
    window = await tx.fetch(
        f"SELECT {band} AS band, "  # noqa: S608 - built from constants
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_ratio(indicator)}) AS median, "
        "count(*)::int AS n FROM facts WHERE tenant_id = $1 AND kind = $2 "
        "AND superseded_at IS NULL AND occurred_at >= $3 AND occurred_at < $4 GROUP BY 1",
        tenant,
        indicator.fact_kind,
        window_start,
        period_start,
        cuts,
    )
    period = await tx.fetch(
        f"SELECT employee_id, {band} AS band, count(*)::int AS n "  # noqa: S608 - constants
        "FROM facts WHERE tenant_id = $1 AND kind = $2 AND superseded_at IS NULL "
        "AND occurred_at >= $3 AND occurred_at < $4 GROUP BY 1, 2",
        tenant,
        indicator.fact_kind,
        period_start,
        period_end,
        cuts,
    )
    classes: dict[UUID, dict[int, int]] = {}
    for row in period:
        classes.setdefault(row["employee_id"], {})[row["band"]] = row["n"]
    return BandHistory(
        medians={row["band"]: (float(row["median"]), row["n"]) for row in window},
        classes=classes,
    )


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
