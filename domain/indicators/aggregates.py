"""The scoring engine's SQL: facts aggregated per person in the database, never in Python.

Each indicator costs two statements over the covering ``facts_scoring_idx``: one groups a
person's facts of its kind into the period and the baseline window before it, one into
months (for control charts and watch runs). What comes back is a handful of figures per
person, from which every aggregation in ``domain.templates.indicators`` is finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.templates.indicators import IndicatorDefinition
from tenants.scope import TenantID, require_tenant

PERIOD = "p"
WINDOW = "w"


@dataclass(slots=True)
class Stats:
    """One person's facts of one kind in one bucket (the period, the window or a month).

    Not frozen: a recomputation makes a few hundred thousand of them, and a frozen
    dataclass pays for ``object.__setattr__`` on every field. Nothing changes one after it
    is read except its median, which a second statement fills in.
    """

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


@dataclass(frozen=True)
class Reading:
    """What to read for one indicator: from when months are kept apart, and the limit a
    demand spike stretched (None when no unit's limit moved)."""

    indicator: IndicatorDefinition
    months_start: datetime
    stretched_limit: float | None


@dataclass(frozen=True)
class _Columns:
    """Where one indicator's limit counts are among a family's summed columns (0: none);
    the five sums every family reads come first: count, value, denominator, the per-fact
    figure and its square."""

    within: int = 0
    stretched: int = 0
    at_least: int = 0

    def stats(self, sums: Sequence[Any]) -> Stats:
        """Stats of one bucket from its summed columns (None where nothing was summed)."""
        n = int(sums[0] or 0)
        ratio = sums[3] or 0.0
        variance = None
        if n > 1:
            # Sums of squares lose a little precision; a variance cannot be negative.
            variance = max(0.0, ((sums[4] or 0.0) - ratio * ratio / n) / (n - 1))
        return Stats(
            n,
            sums[1] or 0.0,
            sums[2] or 0.0,
            ratio / n if n else None,
            variance,
            None,
            int(sums[self.within] or 0) if self.within else 0,
            int(sums[self.stretched] or 0) if self.stretched else 0,
            int(sums[self.at_least] or 0) if self.at_least else 0,
        )


class Months(Mapping[int, Stats]):
    """One person's stats of one indicator per month (``year * 12 + month``), made on first
    use: a rule or two looks at most people's months, and a tenant has hundreds of
    thousands of them."""

    __slots__ = ("_arrays", "_columns", "_made", "_month_of")

    def __init__(
        self, month_of: Sequence[int], columns: _Columns, arrays: Sequence[Sequence[Any]]
    ) -> None:
        self._month_of = month_of
        self._columns = columns
        self._arrays = arrays  # the buckets, then one array per summed column
        self._made: dict[int, Stats] | None = None

    def _stats(self) -> dict[int, Stats]:
        if self._made is None:
            buckets, *columns = self._arrays
            sums: dict[int, list[Any]] = {}
            for i, bucket in enumerate(buckets):
                # A period that starts within a month splits it into two buckets; the
                # month is their sum.
                month = self._month_of[bucket]
                found = [column[i] for column in columns]
                known = sums.get(month)
                sums[month] = (
                    found if known is None else [a + b for a, b in zip(known, found, strict=True)]
                )
            self._made = {month: self._columns.stats(s) for month, s in sums.items()}
        return self._made

    def __getitem__(self, month: int) -> Stats:
        return self._stats()[month]

    def set_median(self, month: int, median: float | None) -> None:
        """Medians are not sums of buckets: a second statement gives them per month."""
        stats = self._stats().get(month)
        if stats is not None:
            stats.median_ratio = median

    def __iter__(self) -> Iterator[int]:
        return iter(self._stats())

    def __len__(self) -> int:
        return len(self._stats())


@dataclass
class IndicatorFacts:
    """One indicator's facts summed per person: in the period, in the baseline window, and
    per month over the months its rules look at."""

    period: dict[UUID, Stats]
    window: dict[UUID, Stats]
    months: dict[UUID, Months]


def bucket_boundaries(
    start: datetime, period_start: datetime, period_end: datetime
) -> tuple[list[datetime], list[int], int]:
    """Boundaries for ``width_bucket`` over [start, period end): each month's start, the
    period's start and its end. Returns them, each bucket's month index (bucket i from 1
    holds [boundaries[i - 1], boundaries[i]); bucket 0 is before the first), and the
    period's first bucket: a period may start or end within a month."""
    cuts = {period_start, period_end}
    month = start.year * 12 + start.month - 1
    while (cut := datetime(month // 12, month % 12 + 1, 1, tzinfo=start.tzinfo)) < period_end:
        if cut >= start:
            cuts.add(cut)
        month += 1
    ordered = sorted(cuts)
    month_of = [0] + [cut.year * 12 + cut.month for cut in ordered[:-1]]
    return ordered, month_of, ordered.index(period_start) + 1


@dataclass(frozen=True)
class _Statement:
    """One aggregate statement and how its rows become ``IndicatorFacts``."""

    sql: str
    args: list[Any]
    finish: Callable[[list[Any], dict[str, IndicatorFacts]], None]


async def indicator_facts_by_kind(
    tenant: TenantID,
    readings: Sequence[Reading],
    *,
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> AsyncGenerator[dict[str, IndicatorFacts], None]:
    """Every indicator's facts, summed per person in SQL, yielded one fact kind at a time:
    one statement per kind of per-fact figure (plain ratios; normalised gains, which read an
    attribute), plus one per indicator that takes medians. Months are kept apart only where
    a rule looks at them; the period and the window are the sums of their months.

    The statements run back to back while rows are turned into figures (in a thread) and
    while the caller works on what was yielded: the database and Python each keep a core
    busy instead of taking turns. Close the generator (``aclosing``) when stopping early: it
    waits for the statement still running and starts no other.
    """
    tx = require_tenant(tenant)
    by_kind: dict[str, list[Reading]] = {}
    for reading in readings:
        by_kind.setdefault(reading.indicator.fact_kind, []).append(reading)
    queue: list[tuple[str, _Statement]] = []
    for kind, members in sorted(by_kind.items()):
        families: dict[str, list[Reading]] = {}
        for reading in members:
            families.setdefault(_ratio(reading.indicator), []).append(reading)
        for ratio, family in families.items():
            queue.append(
                (kind, _family_statement(ratio, family, window_start, period_start, period_end))
            )
        for reading in members:
            if reading.indicator.aggregation == "median":
                queue.append(
                    (kind, _median_statement(reading, window_start, period_start, period_end))
                )

    # The statements run one after the other on the transaction's connection, in a task of
    # their own, as fast as the database answers; their rows wait in ``results``.
    results: asyncio.Queue[list[Any]] = asyncio.Queue()
    stopping = asyncio.Event()

    async def read_all() -> None:
        for _, statement in queue:
            if stopping.is_set():
                return
            await results.put(await tx.fetch(statement.sql, tenant, *statement.args))

    reader = asyncio.ensure_future(read_all())
    found: dict[str, IndicatorFacts] = {}
    try:
        for position, (kind, statement) in enumerate(queue):
            rows = await _next(results, reader)
            await asyncio.to_thread(statement.finish, rows, found)
            if position + 1 == len(queue) or queue[position + 1][0] != kind:
                yield found
                found = {}
    finally:
        # A caller that stops early gets its transaction back with no statement in flight;
        # that statement's own failure, if any, shows on the caller's next one.
        stopping.set()
        with suppress(Exception):
            await reader


async def _next(results: asyncio.Queue[list[Any]], reader: asyncio.Future[None]) -> list[Any]:
    """The next statement's rows, or the reader's error as soon as it has one."""
    if results.empty():
        waiting = asyncio.ensure_future(results.get())
        await asyncio.wait((waiting, reader), return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            reader.result()  # raises what the reader raised
            raise RuntimeError("the facts reader stopped before its last statement")
        return waiting.result()
    return results.get_nowait()


def _family_statement(
    ratio: str,
    readings: Sequence[Reading],
    window_start: datetime,
    period_start: datetime,
    period_end: datetime,
) -> _Statement:
    """Facts summed per person, kind and month bucket, then the buckets summed per person
    and kind into the period and the window, with the months a rule looks at as arrays:
    one row per person and kind crosses to Python, not one per month."""
    kinds = sorted({r.indicator.fact_kind for r in readings})
    month_starts: dict[str, datetime] = {}
    for reading in readings:
        kind = reading.indicator.fact_kind
        month_starts[kind] = min(month_starts.get(kind, reading.months_start), reading.months_start)
    cuts, month_of, first_period_bucket = bucket_boundaries(
        min(month_starts.values()), period_start, period_end
    )
    # Parameters: $1 tenant, $2 kinds, $3 window start, $4 period end, $5 the bucket
    # boundaries, $6 the period's first bucket, then per kind the start of its months, then
    # the limits. Every figure and name in the text is a placeholder.
    args: list[Any] = [kinds, window_start, period_end, cuts, first_period_bucket]
    cases = []
    for kind in kinds:
        args += [kind, month_starts[kind]]
        cases.append(f"WHEN ${len(args)} THEN ${len(args) + 1}::timestamptz")
    summed = [
        "count(*)", "sum(value)", "sum(COALESCE(denominator, 1))", f"sum({ratio})",
        f"sum({ratio} * {ratio})",
    ]  # fmt: skip
    columns: dict[str, _Columns] = {}
    for reading in readings:
        indicator = reading.indicator
        if indicator.limit is None:
            columns[indicator.code] = _Columns()
            continue
        at = len(summed)
        args += [indicator.fact_kind, indicator.limit]
        at_kind, at_limit = len(args), len(args) + 1
        if indicator.aggregation == "share_within":
            stretched = reading.stretched_limit
            args.append(stretched if stretched is not None else indicator.limit)
            summed += [
                f"count(*) FILTER (WHERE kind = ${at_kind} AND value <= ${at_limit})",
                f"count(*) FILTER (WHERE kind = ${at_kind} AND value <= ${len(args) + 1})",
            ]
            columns[indicator.code] = _Columns(within=at, stretched=at + 1)
        else:  # count_at_least
            summed.append(f"count(*) FILTER (WHERE kind = ${at_kind} AND value >= ${at_limit})")
            columns[indicator.code] = _Columns(at_least=at)
    names = [f"c{i}" for i in range(len(summed))]
    inner = ", ".join(f"{sql} AS {name}" for sql, name in zip(summed, names, strict=True))
    period = ", ".join(f"sum({name}) FILTER (WHERE b >= $6)" for name in names)
    window = ", ".join(f"sum({name}) FILTER (WHERE b < $6)" for name in names)
    arrays = ", ".join(f"array_agg({name} ORDER BY b) FILTER (WHERE b > 0)" for name in names)
    sql = (
        f"SELECT employee_id, kind, {period}, {window}, "  # noqa: S608 - constants, placeholders
        f"array_agg(b ORDER BY b) FILTER (WHERE b > 0), {arrays} FROM ("
        f"SELECT employee_id, kind, CASE WHEN occurred_at >= (CASE kind {' '.join(cases)} END) "
        f"THEN width_bucket(occurred_at, $5::timestamptz[]) ELSE 0 END AS b, {inner} "
        "FROM facts WHERE tenant_id = $1 AND kind = ANY($2::text[]) "
        "AND superseded_at IS NULL AND occurred_at >= $3 AND occurred_at < $4 "
        "GROUP BY 1, 2, 3) buckets GROUP BY 1, 2"
    )
    width = len(summed)

    def finish(rows: list[Any], found: dict[str, IndicatorFacts]) -> None:
        by_kind: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_kind.setdefault(row[1], []).append(tuple(row))
        for reading in readings:
            places = columns[reading.indicator.code]
            facts = found[reading.indicator.code] = IndicatorFacts(period={}, window={}, months={})
            for values in by_kind.get(reading.indicator.fact_kind, ()):
                person = values[0]
                if values[2]:
                    facts.period[person] = places.stats(values[2 : 2 + width])
                if values[2 + width]:
                    facts.window[person] = places.stats(values[2 + width : 2 + 2 * width])
                if values[2 + 2 * width]:
                    facts.months[person] = Months(month_of, places, values[2 + 2 * width :])

    return _Statement(sql, args, finish)


def _median_statement(
    reading: Reading, window_start: datetime, period_start: datetime, period_end: datetime
) -> _Statement:
    """Medians are not sums of months: one grouping-sets pass gives an indicator's medians
    per person for the period, the window and each month its rules look at. Its family's
    statement must have been finished first."""
    indicator = reading.indicator
    sql = (
        "SELECT employee_id, occurred_at >= $3 AS in_period, "  # noqa: S608 - constants
        "CASE WHEN occurred_at >= $5 THEN date_trunc('month', occurred_at, 'UTC') END "
        "AS month, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_ratio(indicator)}) AS median "
        "FROM facts WHERE tenant_id = $1 AND kind = $2 AND superseded_at IS NULL "
        "AND occurred_at >= $4 AND occurred_at < $6 "
        "GROUP BY GROUPING SETS ((employee_id, in_period), (employee_id, month))"
    )
    args = [indicator.fact_kind, period_start, window_start, reading.months_start, period_end]

    def finish(rows: list[Any], found: dict[str, IndicatorFacts]) -> None:
        facts = found[indicator.code]
        for person, in_period, month, median in rows:
            if in_period is not None:
                stats = (facts.period if in_period else facts.window).get(person)
                if stats is not None:
                    stats.median_ratio = median
            elif month is not None and person in facts.months:
                facts.months[person].set_median(month.year * 12 + month.month, median)

    return _Statement(sql, args, finish)


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
