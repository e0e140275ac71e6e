"""The R&D dashboard: delivery, delay causes, complaints, cycle time, escaped defects, a
before/after comparison, scorecards, capabilities and the request funnel, over the people a
caller may see and the filter allows.

A caller's dashboard is an ``RdReading``: panels are read only when asked for, the six over
the period's work items from one shared statement (``domain.dashboards.rd_sql``), the others
from one statement each. Python labels the handful of grouped rows, lists the months or
quarters without data, hides small groups and computes the control limits and the rank test.
The shared statement's rows are reused across requests while the work data they come from
is unchanged (``domain.dashboards.cache`` says how that is known exactly).

Scope
    People are the unit of scope (``scope.scoped_people_sql``). A defect or a complaint is
    in scope through its assignees, a requirement through its assignees or the person who
    answered it (a request's people). ``customer`` narrows work items only (not
    scorecards or skills). Under an org-unit or level grouping an item counts once in each
    group its people in scope belong to.

Panels
    on time        requirements with a promised date delivered in the group's bucket; a hit is
                   delivered before the end of the promised day (UTC), as
                   ``derivation.is_late`` says
    late by cause  the late ones by delay cause (null: ``unknown``)
    complaints     complaints caused by R&D (by request date) per requirement delivered (by
                   delivery date): a p-chart with limits p̄ ± 3 sqrt(p̄(1 - p̄)/n_i) clipped to
                   [0, 1] and Western Electric signals over the points shown; under an org-unit
                   or level grouping the points have no order, so only "beyond 3 sigma" applies
    cycle time     delivered requirements' days from start to delivery: median and P80
    escaped        bugs and incidents with a place found, by request date: share in production
    before/after   cycle days of requirements delivered in equal windows before and after a
                   date (the filter's period does not apply; its scope does), with the
                   Mann-Whitney U test (two-sided) and the rank-biserial correlation
    scorecards     totals of the scorecards of periods ending within the period, per level
                   the card was scored at: five-number summary and mean
    capability     skills by level of the people in scope who are still here (not archived,
                   not left): head count and mean skill level
    funnel         requirements requested in the period: answered within 24 h (at most 24
                   hours after the request, as the 24 h indicator counts), promised, delivered
                   on time

Suppression
    A group resting on fewer people than the audience's minimum is listed with its key and
    label but every figure null (``Audience.suppresses``); admins see everything. Control
    limits and signals leave suppressed points out. Association, not causation: the figures
    describe, they do not explain.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from domain.dashboards import cache
from domain.dashboards import rd_sql as sql
from domain.dashboards.scope import (
    NONE_KEY,
    Audience,
    DashboardFilter,
    DashboardInputError,
    Group,
    Grouping,
    Label,
    Params,
    level_group,
    no_unit_group,
    time_group,
)
from domain.indicators import statistics as st
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from tenants.scope import TenantID, require_tenant

UNKNOWN_CAUSE = sql.UNKNOWN_CAUSE
# Every cause a late item can have, in the order charts stack them.
CAUSE_ORDER = sql.CAUSE_ORDER
DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 366
# Under an org-unit or level grouping, points have no order: only this rule means anything.
UNORDERED_RULES = frozenset({"beyond_3_sigma"})


BEFORE_AFTER_NOTE = Label(
    en="Cycle days of requirements delivered in the {days} days before {day} against the "
    "{days} days from it on, for the people and customer of the filter (its period does not "
    "apply). Mann-Whitney U, two-sided; the effect size is the rank-biserial correlation: "
    "positive when cycles after the change tend to be longer. Association, not causation: "
    "other things changed too.",
    zh="比较 {day} 之前 {days} 天与之后 {days} 天内交付需求的开发周期（天），"
    "人员与客户按筛选条件（不按其时间段）。Mann-Whitney U 检验（双侧）；"
    "效应量为秩二列相关系数：为正表示变更后周期趋于更长。相关不等于因果：同期还有其他变化。",
)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateGroup:
    group: Group
    hits: int | None
    n: int | None
    rate: float | None
    people: int | None
    suppressed: bool


@dataclass(frozen=True)
class CauseCount:
    cause: str  # one of CAUSE_ORDER
    count: int


@dataclass(frozen=True)
class CauseGroup:
    group: Group
    late: int | None
    causes: tuple[CauseCount, ...] | None
    people: int | None
    suppressed: bool


@dataclass(frozen=True)
class PChartPoint:
    group: Group
    complaints: int | None
    delivered: int | None
    rate: float | None
    lower: float | None
    upper: float | None
    signals: tuple[str, ...]  # "<rule>:<above|below>"
    people: int | None
    suppressed: bool


@dataclass(frozen=True)
class PChart:
    center: float | None
    points: tuple[PChartPoint, ...]


@dataclass(frozen=True)
class QuantileGroup:
    group: Group
    n: int | None
    median: float | None
    p80: float | None
    people: int | None
    suppressed: bool


@dataclass(frozen=True)
class BeforeAfterSide:
    n: int | None
    median: float | None
    p80: float | None
    people: int | None


@dataclass(frozen=True)
class BeforeAfter:
    change_on: date
    window_days: int
    before: BeforeAfterSide
    after: BeforeAfterSide
    u: float | None
    p_value: float | None
    effect_size: float | None
    suppressed: bool
    note: Label


@dataclass(frozen=True)
class DistributionGroup:
    group: Group
    n: int | None
    min: float | None
    q1: float | None
    median: float | None
    q3: float | None
    max: float | None
    mean: float | None
    people: int | None
    suppressed: bool


@dataclass(frozen=True)
class HeatCell:
    skill_id: UUID
    skill_name_en: str
    skill_name_zh: str
    level: Group
    head_count: int | None
    mean_level: float | None
    suppressed: bool


@dataclass(frozen=True)
class Funnel:
    requested: int | None
    answered_within_24h: int | None
    promised: int | None
    delivered_on_time: int | None
    people: int | None
    suppressed: bool


# --- groups ----------------------------------------------------------------------------------


def period_bounds(starts_on: date, ends_on: date) -> tuple[datetime, datetime]:
    """Days ``starts_on`` to ``ends_on`` (both included) as UTC instants, the end exclusive."""
    start = datetime.combine(starts_on, time.min, UTC)
    return start, datetime.combine(ends_on + timedelta(days=1), time.min, UTC)


def time_buckets(flt: DashboardFilter) -> list[date]:
    """The first days of the months or quarters the period touches, in order."""
    months = 3 if flt.group_by == Grouping.QUARTER else 1
    year, month = flt.starts_on.year, flt.starts_on.month
    month -= (month - 1) % months
    buckets = []
    while date(year, month, 1) <= flt.ends_on:
        buckets.append(date(year, month, 1))
        year, month = (year + 1, 1) if month + months > 12 else (year, month + months)
    return buckets


class Grouper:
    """Turns the grouped rows of a statement into the groups to list, in chart order: every
    month or quarter of the period; units by name; levels by the pack's rank."""

    def __init__(self, flt: DashboardFilter, pack: PackFile) -> None:
        self.flt = flt
        self.pack = pack

    def arrange(self, rows: Iterable[Any]) -> list[tuple[Group, Any]]:
        """(group, row or None) for each group to list."""
        unit = self.flt.time_unit
        if unit is not None:
            by_bucket = {row["grp"]: row for row in rows}
            return [(time_group(day, unit), by_bucket.get(day)) for day in time_buckets(self.flt)]
        listed = [(self._group(row), row) for row in rows]
        return sorted(listed, key=lambda pair: self._order(pair[0]))

    def _group(self, row: Any) -> Group:
        key: str = row["grp"]
        if self.flt.group_by == Grouping.LEVEL:
            return level_group(self.pack, key)
        if not key:
            return no_unit_group()
        name = row["grp_name"] or key
        return Group(key, name, name)

    def _order(self, group: Group) -> tuple[int, int, str, str]:
        if group.key == NONE_KEY:
            return (2, 0, "", "")
        if self.flt.group_by == Grouping.LEVEL:
            level = self.pack.level(group.key)
            if level is None:
                return (1, 0, group.key, group.key)
            return (0, level.rank, "", group.key)
        return (0, 0, group.label_en.casefold(), group.key)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --- the reading -----------------------------------------------------------------------------

# The statements sort and hash around a hundred thousand rows each: with PostgreSQL's default
# 4 MB of work_mem they spill to disk, and a large statement's plan crosses the JIT threshold,
# whose compilation costs more than it saves here. Set for the rest of the transaction only;
# read with it, the snapshot kept period rows are checked against (``cache``).
_TUNING = (
    "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true), "
    f"set_config('random_page_cost', '1.1', true), {cache.SNAPSHOT}"
)

Row = Mapping[str, Any]


class RdReading:
    """One caller's R&D dashboard for one filter, read within one request.

    The six panels over the period's work items share one statement
    (``rd_sql.period_rollups``/``period_fast``/``period_general``), run by whichever of them
    is asked for first and kept for the others: the items are read and joined to their
    people once instead of once per panel. Before/after, scorecards and capabilities have
    one each."""

    def __init__(self, tenant: TenantID, flt: DashboardFilter, audience: Audience) -> None:
        self.tenant = tenant
        self.flt = flt
        self.audience = audience
        # Panels resolve concurrently; their statements take turns on the one connection
        # anyway, and the second panel of the shared statement waits for the first.
        self._lock = asyncio.Lock()
        self._period: list[Row] | None = None
        self._snapshot: cache.Snapshot | None = None

    # --- the period's items ---

    async def on_time(self) -> list[RateGroup]:
        result = []
        for group, row in await self._arranged(sql.DELIVERED, lambda r: r["promised"] > 0):
            people = row["due_people"] if row is not None else 0
            if self.audience.suppresses(people):
                result.append(RateGroup(group, None, None, None, None, True))
            elif row is None:
                result.append(RateGroup(group, 0, 0, None, 0, False))
            else:
                hits, n = row["hits"], row["promised"]
                result.append(RateGroup(group, hits, n, _rate(hits, n), people, False))
        return result

    async def late_by_cause(self) -> list[CauseGroup]:
        result = []
        for group, row in await self._arranged(sql.DELIVERED, lambda r: r["late"] > 0):
            people = row["late_people"] if row is not None else 0
            if self.audience.suppresses(people):
                result.append(CauseGroup(group, None, None, None, True))
                continue
            causes = tuple(
                CauseCount(cause, row[f"late_{index}"] if row is not None else 0)
                for index, cause in enumerate(CAUSE_ORDER)
            )
            late = row["late"] if row is not None else 0
            result.append(CauseGroup(group, late, causes, people, False))
        return result

    async def cycle_time(self) -> list[QuantileGroup]:
        result = []
        for group, row in await self._arranged(sql.DELIVERED, lambda r: r["cycle_n"] > 0):
            people = row["cycle_people"] if row is not None else 0
            if self.audience.suppresses(people):
                result.append(QuantileGroup(group, None, None, None, None, True))
            elif row is None or not row["cycle_n"]:
                result.append(QuantileGroup(group, 0, None, None, people, False))
            else:
                result.append(
                    QuantileGroup(group, row["cycle_n"], row["median"], row["p80"], people, False)
                )
        return result

    async def complaints(self) -> PChart:
        rows: dict[Any, dict[str, Any]] = {}
        for row in await self._period_rows():
            if row["role"] in (sql.DELIVERED, sql.COMPLAINED) and row["grp"] is not None:
                merged = rows.setdefault(
                    row["grp"],
                    {"grp": row["grp"], "grp_name": row["grp_name"], "complaints": 0,
                     "delivered": 0, "people": row["people"] or 0},
                )  # fmt: skip
                merged["complaints" if row["role"] == sql.COMPLAINED else "delivered"] = row["n"]
        listed: list[tuple[Group, tuple[int, int] | None, int]] = []
        for group, found in (await self._grouper()).arrange(rows.values()):
            people = found["people"] if found is not None else 0
            if self.audience.suppresses(people):
                listed.append((group, None, people))
            else:
                counts = (found["complaints"], found["delivered"]) if found else (0, 0)
                listed.append((group, counts, people))
        return complaint_chart(listed, ordered=self.flt.time_unit is not None)

    async def escaped_defects(self) -> list[RateGroup]:
        result = []
        for group, row in await self._arranged(sql.DEFECT, lambda r: r["n"] > 0):
            people = row["defect_people"] if row is not None else 0
            if self.audience.suppresses(people):
                result.append(RateGroup(group, None, None, None, None, True))
            elif row is None:
                result.append(RateGroup(group, 0, 0, None, 0, False))
            else:
                hits, n = row["flagged"], row["n"]
                result.append(RateGroup(group, hits, n, _rate(hits, n), people, False))
        return result

    async def funnel(self) -> Funnel:
        rows = [row for row in await self._period_rows() if row["role"] == sql.REQUESTED]
        # The fast shape gives the requests per month or quarter, the other one total.
        people = max((row["asked_people"] or 0 for row in await self._period_rows()), default=0)
        if self.audience.suppresses(people):
            return Funnel(None, None, None, None, None, suppressed=True)
        return Funnel(
            requested=sum(row["n"] for row in rows),
            answered_within_24h=sum(row["flagged"] for row in rows),
            promised=sum(row["promised"] for row in rows),
            delivered_on_time=sum(row["hits"] for row in rows),
            people=people,
            suppressed=False,
        )

    async def _arranged(
        self, role: int, listed: Callable[[Row], bool]
    ) -> list[tuple[Group, Row | None]]:
        """The groups of a panel (rows of ``role``): every month or quarter, or the units or
        levels where ``listed`` says the panel has something."""
        rows = [
            row
            for row in await self._period_rows()
            if row["role"] == role and row["grp"] is not None
            and (self.flt.time_unit is not None or listed(row))
        ]  # fmt: skip
        return (await self._grouper()).arrange(rows)

    async def _period_rows(self) -> list[Row]:
        async with self._lock:
            if self._period is None:
                statement, params = self._period_statement()
                snapshot = await self._tune()
                self._period = await cache.period_cache.rows(
                    require_tenant(self.tenant), self.tenant, snapshot, statement, params.values
                )
            return self._period

    def _period_statement(self) -> tuple[str, Params]:
        """The day rollups when they hold the figures (everyone in scope, no customer, months
        or quarters), the fast shape when everyone is in scope and the months or quarters
        fit its bits, else the general one."""
        params = Params(self.tenant)
        days = time_buckets(self.flt)
        if self.flt.time_unit is not None and sql.reads_rollups(self.flt, self.audience):
            first_day = params.add(self.flt.starts_on, "date")
            last_day = params.add(self.flt.ends_on, "date")
            bucket_days = params.add(days, "date[]")
            return sql.period_rollups(params, first_day, last_day, bucket_days), params
        at = sql.period(params, *period_bounds(self.flt.starts_on, self.flt.ends_on))
        if self.flt.time_unit is None:
            frame = sql.frame(self.flt, self.audience, params)
            return sql.period_general(frame, self.flt, params, at, None), params
        starts = [datetime.combine(day, time.min, UTC) for day in days]
        grid = sql.buckets(params, starts, days)
        if len(days) <= sql.MAX_BUCKETS and sql.reaches_everyone(self.flt, self.audience):
            return sql.period_fast(self.flt, params, at, grid), params
        frame = sql.frame(self.flt, self.audience, params)
        return sql.period_general(frame, self.flt, params, at, grid), params

    # --- panels of their own ---

    async def before_after(
        self, change_on: date, window_days: int = DEFAULT_WINDOW_DAYS
    ) -> BeforeAfter:
        """Raises ``DashboardInputError`` for a window outside 1 to ``MAX_WINDOW_DAYS`` days."""
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise DashboardInputError(
                "windowDays", f"A window is 1 to {MAX_WINDOW_DAYS} days long."
            )
        window = timedelta(days=window_days)
        try:
            first_day, end_day = change_on - window, change_on + window
            start, end = period_bounds(first_day, end_day - timedelta(days=1))
        except OverflowError as exc:
            raise DashboardInputError("changeOn", "The windows fall outside the calendar.") from exc
        params = Params(self.tenant)
        if sql.reads_rollups(self.flt, self.audience):
            # Both windows are whole UTC days: the day rollups hold them.
            statement = sql.before_after_rollups(
                params.add(first_day, "date"),
                params.add(end_day, "date"),
                params.add(change_on, "date"),
            )
        else:
            frame = sql.plain_frame(self.flt, self.audience, params)
            at = sql.period(params, start, end)
            change = params.add(datetime.combine(change_on, time.min, UTC), "timestamptz")
            statement = sql.before_after(frame, self.flt, params, at, change)
        async with self._lock:
            rows = {row["after"]: row for row in await self._fetch(statement, params)}
        day = change_on.isoformat()
        note = Label(
            en=BEFORE_AFTER_NOTE.en.format(days=window_days, day=day),
            zh=BEFORE_AFTER_NOTE.zh.format(days=window_days, day=day),
        )
        before, after = rows.get(False), rows.get(True)
        people = [row["people"] if row is not None else 0 for row in (before, after)]
        if any(self.audience.suppresses(count) for count in people):
            hidden = BeforeAfterSide(None, None, None, None)
            return BeforeAfter(change_on, window_days, hidden, hidden, None, None, None, True, note)
        u, p_value, effect = _mann_whitney(
            before["days"] if before is not None else [], after["days"] if after is not None else []
        )
        return BeforeAfter(
            change_on=change_on,
            window_days=window_days,
            before=_side(before),
            after=_side(after),
            u=u,
            p_value=p_value,
            effect_size=effect,
            suppressed=False,
            note=note,
        )

    async def scorecard_distribution(self) -> list[DistributionGroup]:
        params = Params(self.tenant)
        frame = sql.plain_frame(self.flt, self.audience, params)
        first_day = params.add(self.flt.starts_on, "date")
        last_day = params.add(self.flt.ends_on, "date")
        async with self._lock:
            rows = await self._fetch(sql.scorecards(frame, params, first_day, last_day), params)
        by_level = DashboardFilter(self.flt.starts_on, self.flt.ends_on, group_by=Grouping.LEVEL)
        result = []
        for group, row in Grouper(by_level, await pack_of(self.tenant)).arrange(rows):
            if self.audience.suppresses(row["people"]):
                result.append(
                    DistributionGroup(group, None, None, None, None, None, None, None, None, True)
                )
                continue
            result.append(
                DistributionGroup(
                    group=group,
                    n=row["n"],
                    min=row["min"],
                    q1=row["q1"],
                    median=row["median"],
                    q3=row["q3"],
                    max=row["max"],
                    mean=row["mean"],
                    people=row["people"],
                    suppressed=False,
                )
            )
        return result

    async def capability_heatmap(self) -> list[HeatCell]:
        params = Params(self.tenant)
        async with self._lock:
            rows = await self._fetch(sql.capability(self.flt, self.audience, params), params)
        pack = await pack_of(self.tenant)
        ranks = {level.code: level.rank for level in pack.levels}
        cells = []
        for row in rows:
            level = level_group(pack, row["grp"])
            en, zh = row["name_en"] or row["name"], row["name_zh"] or row["name"]
            if self.audience.suppresses(row["head_count"]):
                cells.append(HeatCell(row["skill_id"], en, zh, level, None, None, True))
            else:
                cells.append(
                    HeatCell(
                        row["skill_id"], en, zh, level, row["head_count"], row["mean_level"], False
                    )
                )
        # Skills by name, then levels by rank, unknown levels and those without one last.
        unranked = len(ranks) + 1
        return sorted(
            cells,
            key=lambda c: (
                c.skill_name_en.casefold(),
                str(c.skill_id),
                ranks.get(c.level.key, unranked + (c.level.key == NONE_KEY)),
                c.level.key,
            ),
        )

    # --- statements ---

    async def _grouper(self) -> Grouper:
        return Grouper(self.flt, await pack_of(self.tenant))

    async def _tune(self) -> cache.Snapshot:
        """The session's tuning, once per reading; the caller holds ``_lock``."""
        if self._snapshot is None:
            row = await require_tenant(self.tenant).fetchrow(_TUNING)
            self._snapshot = cache.Snapshot(row["snapshot"], row[-1])
        return self._snapshot

    async def _fetch(self, statement: str, params: Params) -> list[Row]:
        """Rows of one statement; the caller holds ``_lock``."""
        await self._tune()
        rows: list[Row] = await require_tenant(self.tenant).fetch(statement, *params.values)
        return rows


# --- helpers ---------------------------------------------------------------------------------


def complaint_chart(
    listed: Sequence[tuple[Group, tuple[int, int] | None, int]], *, ordered: bool
) -> PChart:
    """The p-chart of (group, (complaints, delivered) or None when suppressed, people):
    limits around the pooled rate of the points shown that have deliveries, clipped to
    [0, 1], and the Western Electric signals completed at each point. Without an order
    (org units, levels) only the rules that need none apply."""
    charted = [
        (index, counts)
        for index, (_, counts, _) in enumerate(listed)
        if counts is not None and counts[1] > 0
    ]
    center, chart = _p_chart([counts for _, counts in charted])
    signals: dict[int, list[str]] = {}
    for signal in st.western_electric_signals(chart):
        if ordered or signal.rule in UNORDERED_RULES:
            index = charted[signal.end_index][0]
            signals.setdefault(index, []).append(f"{signal.rule}:{signal.side}")
    limits = {index: point for (index, _), point in zip(charted, chart, strict=True)}
    points = []
    for index, (group, counts, people) in enumerate(listed):
        if counts is None:
            points.append(PChartPoint(group, None, None, None, None, None, (), None, True))
            continue
        point = limits.get(index)
        lower = upper = rate = None
        if point is not None:
            rate = point.value
            lower = max(0.0, point.center - 3 * point.sigma)
            upper = min(1.0, point.center + 3 * point.sigma)
        marks = tuple(signals.get(index, ()))
        points.append(
            PChartPoint(group, counts[0], counts[1], rate, lower, upper, marks, people, False)
        )
    return PChart(center, tuple(points))


def _p_chart(counts: Sequence[tuple[int, int]]) -> tuple[float | None, list[st.ChartPoint]]:
    """The center and points of (complaints, delivered) pairs, every n > 0. Complaints are
    counted per delivered item, so a group can have more complaints than deliveries: then
    the rate is no proportion and ``st.p_chart`` refuses it; the same limits are drawn
    around the pooled rate taken as at most 1."""
    if not counts:
        return None, []
    center = sum(x for x, _ in counts) / sum(n for _, n in counts)
    try:
        return center, st.p_chart([x for x, _ in counts], [n for _, n in counts])
    except ValueError:
        p = min(center, 1.0)
        spread = p * (1 - p)
        return center, [st.ChartPoint(x / n, p, math.sqrt(spread / n)) for x, n in counts]


def _side(row: Any) -> BeforeAfterSide:
    if row is None:
        return BeforeAfterSide(0, None, None, 0)
    return BeforeAfterSide(row["n"], row["median"], row["p80"], row["people"])


def _mann_whitney(
    before: Sequence[float], after: Sequence[float]
) -> tuple[float | None, float | None, float | None]:
    """U of the before sample, the two-sided p-value and the rank-biserial correlation
    r = 1 - 2U / (n1 n2): P(after > before) - P(after < before). None without both sides."""
    if not before or not after:
        return None, None, None
    with warnings.catch_warnings():
        # Identical values on both sides leave no spread: scipy warns and answers NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.mannwhitneyu(before, after, alternative="two-sided")
    u = float(result.statistic)
    return u, _finite(result.pvalue), 1 - 2 * u / (len(before) * len(after))
