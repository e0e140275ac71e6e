"""The scoring engine: one period's baselines, targets, rules and scorecards, recomputed.

For each indicator of the period's indicator set, ``domain.indicators.aggregates`` sums the
facts per person in SQL (the period, the four quarters before it, and months); this module
finishes the arithmetic per person with ``domain.indicators.statistics``: level baselines
(the level's median of the window, the person excluded), shrinkage of small samples, targets
fixed or relative to a baseline, the pack's rules (demand spike, sustained quality, watch),
points, weights with missing data redistributed, subtotals, the review blend, the manager's
adjustment and the percentile within the level. Results replace the period's stored ones in
the caller's transaction, so a recomputation is all or nothing and running it twice writes
the same figures.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson

from domain.indicators import aggregates as agg
from domain.indicators import repository as repo
from domain.indicators import statistics as st
from domain.indicators.aggregates import IndicatorFacts, RosterEntry, Stats
from domain.indicators.models import LineStatus, Period, ScorecardLine, ScorecardStatus
from domain.indicators.service import indicator_sets, period_not_found, require_open
from domain.templates.indicators import (
    AVERAGES,
    COUNTING,
    PROPORTIONS,
    DemandSpikeRule,
    IndicatorDefinition,
    IndicatorSetDefinition,
    ReviewBlend,
    SustainedQualityRule,
    WatchRule,
)
from domain.templates.service import pack_of
from tenants.scope import TenantID, require_tenant

WINDOW_MONTHS = 12  # the four quarters before a period
# Sustained-quality signals count when they end in the last few months of the series.
RECENT_SIGNAL_MONTHS = 3


@dataclass(frozen=True)
class RecomputeSummary:
    period_id: UUID
    employees: int
    lines: int
    facts: int
    adjustments: int
    computed_at: datetime


@dataclass
class Adjustment:
    """A rule's effect on one line, as stored on the line and in ``target_adjustments``."""

    rule: str
    rule_kind: str
    indicator: str
    inputs: dict[str, Any]
    effect: dict[str, Any]
    reason_en: str
    reason_zh: str
    org_unit_id: UUID | None = None
    employee_id: UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.rule_kind,
            "inputs": self.inputs,
            "effect": self.effect,
            "reasonEn": self.reason_en,
            "reasonZh": self.reason_zh,
        }


@dataclass
class Line(ScorecardLine):
    """A line while it is computed: the stored figures, its definition and the rules that
    moved it (stored as their JSON in ``adjustments``)."""

    definition: IndicatorDefinition = field(kw_only=True)
    rules: list[Adjustment] = field(default_factory=list, kw_only=True)

    def as_json(self) -> dict[str, Any]:
        # The instance's dict less this class's own fields: a recomputation stores tens of
        # thousands of lines, and copying a dict is faster than reading each field.
        stored = self.__dict__.copy()
        del stored["definition"], stored["rules"]
        stored["status"] = self.status.value
        stored["adjustments"] = [rule.as_json() for rule in self.rules]
        return stored


@dataclass(frozen=True)
class Window:
    period_start: datetime
    period_end: datetime
    window_start: datetime
    window_start_day: date
    months: list[int]  # month indexes (year * 12 + month) of the period's last months

    @property
    def period_fraction(self) -> float:
        """The period's length as a share of the window's, for counts over both."""
        return (self.period_end - self.period_start) / (self.period_start - self.window_start)


def _window(period: Period, series_months: int) -> Window:
    start = datetime.combine(period.starts_on, time.min, UTC)
    end = datetime.combine(period.ends_on + timedelta(days=1), time.min, UTC)
    window_day = _add_months(period.starts_on, -WINDOW_MONTHS)
    last = _month_index(period.ends_on)
    return Window(
        period_start=start,
        period_end=end,
        window_start=datetime.combine(window_day, time.min, UTC),
        window_start_day=window_day,
        months=list(range(last - series_months + 1, last + 1)),
    )


def _month_index(day: date) -> int:
    return day.year * 12 + day.month


def _month_start(index: int) -> date:
    return date((index - 1) // 12, (index - 1) % 12 + 1, 1)


def _add_months(day: date, months: int) -> date:
    index = _month_index(day) + months
    return _month_start(index).replace(day=min(day.day, 28))


# --- figures of one person for one indicator -------------------------------------------------


def _actual(
    indicator: IndicatorDefinition, stats: Stats | None, stretched: bool
) -> tuple[float | None, int, float, float]:
    """(actual, n, x, trials) of one bucket; actual None when there is nothing to average."""
    aggregation = indicator.aggregation
    if stats is None:
        return (0.0 if aggregation in COUNTING else None), 0, 0.0, 0.0
    if aggregation == "median":
        return stats.median_ratio, stats.facts, 0.0, 0.0
    if aggregation in ("mean", "normalised_gain"):
        return stats.mean_ratio, stats.facts, 0.0, 0.0
    if aggregation == "rate":
        trials = stats.sum_denominator
        actual = stats.sum_value / trials if trials > 0 else None
        return actual, round(trials), stats.sum_value, trials
    if aggregation == "share_within":
        within = stats.within_stretched if stretched else stats.within
        return within / stats.facts, stats.facts, float(within), float(stats.facts)
    if aggregation == "sum":
        return stats.sum_value, stats.facts, 0.0, 0.0
    return float(stats.at_least), stats.facts, 0.0, 0.0  # count_at_least


def _band_baseline(history: agg.BandHistory, pid: UUID) -> tuple[float | None, int]:
    """The median gain of the tenant's past classes in the bands this person's classes start
    in, weighted by how many of their classes start in each; with the classes behind it."""
    weighted = 0.0
    classes = 0
    behind = 0
    for band, count in history.classes.get(pid, {}).items():
        known = history.medians.get(band)
        if known is None:
            continue  # no past class started there: those classes set no target
        weighted += known[0] * count
        classes += count
        behind += known[1]
    return (weighted / classes if classes else None), behind


@functools.lru_cache(maxsize=4096)
def _curve(
    threshold: float, target: float, stretch: float, direction: st.Direction
) -> st.PointsCurve:
    # Fixed targets give every person the same curve: checked once, not once per line.
    return st.PointsCurve(threshold, target, stretch, direction)


# --- the engine ------------------------------------------------------------------------------


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for a recomputation: it makes a few hundred thousand
    small objects, none of them in cycles, and the collector would walk them all again and
    again (about a fifth of the time). The process's other work only collects cycles later;
    when two recomputations overlap, the collector is back as soon as the first ends."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class ScoringService:
    async def recompute(self, tenant: TenantID, period_id: UUID) -> RecomputeSummary:
        """Recompute an open period's baselines, adjustments and scorecards.

        The period's row is locked first: a job, a close and an on-demand recomputation of
        the same period run one after the other, never replacing each other's rows at once.
        """
        period = await repo.get_period(tenant, period_id, for_update=True)
        if period is None:
            raise period_not_found()
        require_open(period)
        definition = (await indicator_sets.version(tenant, period.indicator_set_version)).definition
        pack = await pack_of(tenant)
        run = _Run(tenant, period, definition, blend=pack.scorecard.blend)
        await agg.batch_memory(tenant)
        with _without_cycle_collection():
            await run.gather()
            await run.score()
            await run.store()
        return RecomputeSummary(
            period_id=period.id,
            employees=len(run.cards),
            lines=sum(len(card.lines) for card in run.cards.values()),
            facts=run.facts_read,
            adjustments=len(run.stored_adjustments),
            computed_at=run.computed_at,
        )


@dataclass
class Card:
    person: RosterEntry
    lines: list[Line]
    status: ScorecardStatus = ScorecardStatus.INSUFFICIENT_DATA
    indicator_total: float | None = None
    review_points: float | None = None
    review_responses: int = 0
    blended_total: float | None = None
    adjustment: float = 0.0
    total: float | None = None
    percentile: float | None = None
    scored_weight: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class _Run:
    """One recomputation: what it read, what it computed, and storing it."""

    def __init__(
        self,
        tenant: TenantID,
        period: Period,
        definition: IndicatorSetDefinition,
        *,
        blend: ReviewBlend | None,
    ) -> None:
        self.tenant = tenant
        self.period = period
        self.definition = definition
        self.blend = blend
        self.spikes = [r for r in definition.rules if isinstance(r, DemandSpikeRule)]
        self.quality = [r for r in definition.rules if isinstance(r, SustainedQualityRule)]
        self.watch = next((r for r in definition.rules if isinstance(r, WatchRule)), None)
        longest = max([r.months for r in self.quality], default=0)
        self.window = _window(period, max(longest, self.watch.length if self.watch else 1))
        self.people: list[RosterEntry] = []
        self.stretched_units: dict[str, dict[UUID, Adjustment]] = defaultdict(dict)
        self.reviews: dict[UUID, tuple[float, int]] = {}
        self.bands: dict[str, agg.BandHistory] = {}
        self.manager_adjustments: dict[UUID, float] = {}
        self.cards: dict[UUID, Card] = {}
        self.baselines: list[dict[str, Any]] = []
        self.stored_adjustments: list[Adjustment] = []
        self.facts_read = 0
        self.computed_at = datetime.now(UTC)

    # --- reading ---------------------------------------------------------------------------

    async def gather(self) -> None:
        """Read what scoring needs besides the facts (``score`` reads those as it goes)."""
        tenant, w = self.tenant, self.window
        self.people = await agg.roster(tenant)
        for rule in self.spikes:
            await self._demand_spike(rule)
        for indicator in self.definition.indicators:
            if indicator.target.policy == "baseline" and indicator.target.baseline == "band":
                self.bands[indicator.code] = await agg.band_history(
                    tenant,
                    indicator,
                    window_start=w.window_start,
                    period_start=w.period_start,
                    period_end=w.period_end,
                )
        if self.blend is not None:
            self.reviews = await agg.review_ratings(
                tenant, self.blend.sources, period_start=w.period_start, period_end=w.period_end
            )
        self.manager_adjustments = await agg.manager_adjustments(tenant, self.period.id)

    def _readings(self) -> list[agg.Reading]:
        w = self.window
        readings = []
        for indicator in self.definition.indicators:
            # Months are kept apart only as far back as a rule looks at this indicator; the
            # period's months always are, so that months add up to the period.
            reach = max(
                [r.months for r in self.quality if indicator.code in r.indicators]
                + [self.watch.length if self.watch else 1]
            )
            first_month = w.months[-min(reach, len(w.months))]
            months_start = datetime.combine(_month_start(first_month), time.min, UTC)
            readings.append(
                agg.Reading(
                    indicator=indicator,
                    months_start=min(months_start, w.period_start),
                    stretched_limit=self._stretched_limit(indicator.code),
                )
            )
        return readings

    def _stretched_limit(self, code: str) -> float | None:
        limits = {
            rule.set_limit
            for rule in self.spikes
            if code in rule.indicators and self.stretched_units.get(code)
        }
        return max(limits) if limits else None

    async def _demand_spike(self, rule: DemandSpikeRule) -> None:
        w = self.window
        volumes = await agg.volume_by_unit(
            self.tenant,
            rule.fact_kind,
            window_start=w.window_start,
            period_start=w.period_start,
            period_end=w.period_end,
        )
        if volumes.first_in_window is None:
            return
        # The usual volume is the window's rate over the part of it that has facts: a tenant
        # whose history began last month has one month of "usual", not twelve.
        covered = w.period_start - max(w.window_start, volumes.first_in_window)
        period_length = w.period_end - w.period_start
        if covered < period_length:
            return  # less history than one period: nothing to call a spike against
        for unit, (current, history) in sorted(
            volumes.by_unit.items(), key=lambda item: str(item[0])
        ):
            usual = history * (period_length / covered)
            if usual < rule.min_baseline or current <= rule.multiple * usual:
                continue
            for code in rule.indicators:
                indicator = self.definition.indicator(code)
                assert indicator is not None
                assert indicator.limit is not None
                self.stretched_units[code][unit] = Adjustment(
                    rule=rule.code,
                    rule_kind=rule.kind,
                    indicator=code,
                    org_unit_id=unit,
                    inputs={
                        "factKind": rule.fact_kind,
                        "incoming": current,
                        "usual": round(usual, 2),
                        "multiple": rule.multiple,
                    },
                    effect={"limit": {"from": indicator.limit, "to": rule.set_limit}},
                    reason_en=(
                        f"{current} incoming {rule.fact_kind.replace('_', ' ')}s against a usual "
                        f"{usual:.1f} (more than {rule.multiple:g}x): the limit moves from "
                        f"{indicator.limit:g} to {rule.set_limit:g} {indicator_unit_en(indicator)}"
                    ),
                    reason_zh=(
                        f"本期进入 {current} 条，通常约 {usual:.1f} 条"
                        f"（超过 {rule.multiple:g} 倍）："
                        f"时限由 {indicator.limit:g} 放宽到 {rule.set_limit:g}"
                    ),
                )

    # --- computing ---------------------------------------------------------------------------

    async def score(self) -> None:
        """Score every line, one fact kind at a time as its facts arrive (in a thread, so
        that the database works on the next kind meanwhile), then the cards."""
        for person in self.people:
            self.cards[person.employee_id] = Card(person=person, lines=[])
        by_level: dict[str, list[RosterEntry]] = defaultdict(list)
        for person in self.people:
            by_level[person.level].append(person)
        w = self.window
        reads = agg.indicator_facts_by_kind(
            self.tenant,
            self._readings(),
            window_start=w.window_start,
            period_start=w.period_start,
            period_end=w.period_end,
        )
        async with aclosing(reads):
            async for found in reads:
                await asyncio.to_thread(self._score_facts, found, by_level)
        order = {indicator.code: i for i, indicator in enumerate(self.definition.indicators)}
        for card in self.cards.values():
            card.lines.sort(key=lambda line: order[line.indicator])
            self._total(card)
        self._percentiles(by_level)
        self.stored_adjustments = [
            adjustment for units in self.stretched_units.values() for adjustment in units.values()
        ] + [
            adjustment
            for card in self.cards.values()
            for line in card.lines
            for adjustment in line.rules
            if adjustment.employee_id is not None
        ]

    def _score_facts(
        self, found: dict[str, IndicatorFacts], by_level: dict[str, list[RosterEntry]]
    ) -> None:
        for indicator in self.definition.indicators:
            facts = found.get(indicator.code)
            if facts is None:
                continue
            self.facts_read += sum(s.facts for s in facts.period.values())
            self.facts_read += sum(s.facts for s in facts.window.values())
            for level, members in sorted(by_level.items()):
                self._score_indicator(indicator, facts, level, members)

    def _score_indicator(
        self,
        indicator: IndicatorDefinition,
        facts: IndicatorFacts,
        level: str,
        members: Sequence[RosterEntry],
    ) -> None:
        # The level's baseline: each person's window actual, the median over the level with
        # the person left out. Counts are scaled from the window's length to the period's.
        scale = self.window.period_fraction if indicator.aggregation in COUNTING else 1.0
        history: list[tuple[UUID, float, int]] = []
        window_facts = 0
        for person in members:
            stats = facts.window.get(person.employee_id)
            actual, n, _, _ = _actual(indicator, stats, stretched=False)
            window_facts += stats.facts if stats is not None else 0
            # A peer counts towards the baseline with as many data points as a score needs:
            # one delivery is an anecdote, not a level's pace.
            enough = n >= max(1, indicator.min_n) or indicator.aggregation in COUNTING
            if actual is not None and enough:
                history.append((person.employee_id, actual * scale, n))
        values = [value for _, value, _ in history]
        overall = st.median(values) if values else None
        interval = st.median_interval(sorted(values)) if len(values) >= 3 else None
        self.baselines.append(
            {
                "indicator": indicator.code,
                "level": level,
                "value": overall,
                "people": len(values),
                "facts": window_facts,
                "low": interval[0] if interval else None,
                "high": interval[1] if interval else None,
            }
        )
        loo = (
            dict(zip((pid for pid, _, _ in history), st.leave_one_out_medians(values), strict=True))
            if values
            else {}
        )
        prior = self._prior(indicator, members, facts)
        person_prior = (
            self._prior(indicator, members, facts, window=True)
            if indicator.target.policy == "baseline" and indicator.target.baseline == "person"
            else None
        )
        for person in members:
            baseline = loo.get(person.employee_id, overall)
            if baseline is not None and math.isnan(baseline):
                baseline = None
            peers = len(values) - (1 if person.employee_id in loo else 0)
            line = self._line(
                indicator, person, facts, baseline, peers, interval, prior, person_prior
            )
            self.cards[person.employee_id].lines.append(line)

    def _prior(
        self,
        indicator: IndicatorDefinition,
        members: Sequence[RosterEntry],
        facts: IndicatorFacts,
        *,
        window: bool = False,
    ) -> Any:
        """The level's prior for shrinking: a beta prior for proportions, a normal one for
        averages (group mean, between-person and pooled within-person variance)."""
        bucket = facts.window if window else facts.period
        if indicator.aggregation in PROPORTIONS and (indicator.shrink == "beta" or window):
            xs: list[float] = []
            trial_counts: list[float] = []
            for person in members:
                _, _, x, trials = _actual(indicator, bucket.get(person.employee_id), False)
                if trials > 0:
                    xs.append(x)
                    trial_counts.append(trials)
            return st.fit_beta_prior(xs, trial_counts) if xs else None
        if indicator.aggregation in AVERAGES:
            means: list[float] = []
            ns: list[int] = []
            within: list[tuple[float, int]] = []
            for person in members:
                stats = bucket.get(person.employee_id)
                actual, n, _, _ = _actual(indicator, stats, False)
                if actual is None or stats is None or n == 0:
                    continue
                means.append(actual)
                ns.append(n)
                if stats.var_ratio is not None and n > 1:
                    within.append((stats.var_ratio, n - 1))
            if len(means) < 2:
                return None
            dof = sum(d for _, d in within)
            pooled = sum(v * d for v, d in within) / dof if dof else 0.0
            between = st.between_variance(means, ns, pooled)
            return (st.median(means), between, pooled)
        return None

    def _line(
        self,
        indicator: IndicatorDefinition,
        person: RosterEntry,
        facts: IndicatorFacts,
        level_baseline: float | None,
        peers: int,
        interval: tuple[float, float] | None,
        prior: Any,
        person_prior: Any,
    ) -> Line:
        pid = person.employee_id
        spike = self.stretched_units.get(indicator.code, {}).get(person.org_unit_id)  # type: ignore[arg-type]
        stats = facts.period.get(pid)
        raw, n, x, trials = _actual(indicator, stats, stretched=spike is not None)
        line = Line(
            indicator=indicator.code,
            category=indicator.category,
            group=indicator.group,
            status=LineStatus.SCORED,
            n=n,
            facts=stats.facts if stats is not None else 0,
            weight=indicator.weight,
            effective_weight=0.0,
            raw_actual=raw,
            limit=(spike.effect["limit"]["to"] if spike else indicator.limit),
            definition=indicator,
        )
        if spike is not None:
            line.rules.append(spike)
        # The baseline the target is relative to, with its n and interval.
        own = (
            self._person_baseline(indicator, facts, pid, person_prior)
            if indicator.target.baseline == "person" and indicator.target.policy == "baseline"
            else None
        )
        banded = self.bands.get(indicator.code)
        if own is not None:
            line.baseline, line.baseline_n, line.baseline_low, line.baseline_high = own
            line.baseline_kind = "person"
        elif banded is not None:
            line.baseline, line.baseline_n = _band_baseline(banded, pid)
            line.baseline_kind = "band"
        else:
            line.baseline, line.baseline_kind, line.baseline_n = level_baseline, "level", peers
            if interval is not None:
                line.baseline_low, line.baseline_high = interval
        if raw is None or (n == 0 and indicator.aggregation not in COUNTING):
            line.status = LineStatus.NO_DATA
            return line
        if n < indicator.min_n:
            line.status = LineStatus.INSUFFICIENT_DATA
            return line
        line.actual = self._shrunk(indicator, raw, n, x, trials, stats, prior)
        policy = indicator.target.policy
        if policy == "baseline":
            if line.baseline is None:
                line.status = LineStatus.NO_BASELINE
                return line
            base = line.baseline
            line.threshold = indicator.target.threshold * base
            line.target = indicator.target.target * base
            line.stretch = indicator.target.stretch * base
        else:
            line.threshold = indicator.target.threshold
            line.target = indicator.target.target
            line.stretch = indicator.target.stretch
        for rule in self.quality:
            if indicator.code in rule.indicators:
                self._sustained_quality(rule, line, person, facts)
        if self.watch is not None:
            self._watch_run(self.watch, line, facts.months.get(pid) or {})
        curve = _curve(line.threshold, line.target, line.stretch, indicator.direction)
        line.achievement = curve.achievement_of(line.actual)
        line.points = curve.points(line.actual)
        return line

    def _person_baseline(
        self, indicator: IndicatorDefinition, facts: IndicatorFacts, pid: UUID, prior: Any
    ) -> tuple[float, int, float | None, float | None] | None:
        """The person's own history shrunk toward the level: (value, n, low, high), or None
        without history (the level's baseline stands in)."""
        stats = facts.window.get(pid)
        actual, n, x, trials = _actual(indicator, stats, stretched=False)
        if actual is None or n == 0 or stats is None:
            return None
        if isinstance(prior, st.BetaPrior) and trials > 0:
            low, high = st.beta_interval(x, trials, prior)
            return st.shrink_rate(x, trials, prior), stats.facts, low, high
        if isinstance(prior, tuple):
            group_mean, between, pooled = prior
            shrunk = st.shrink_mean(actual, n, pooled, group_mean, between)
            return shrunk.estimate, stats.facts, shrunk.low, shrunk.high
        if indicator.aggregation in COUNTING:
            actual *= self.window.period_fraction
        return actual, stats.facts, None, None

    def _shrunk(
        self,
        indicator: IndicatorDefinition,
        raw: float,
        n: int,
        x: float,
        trials: float,
        stats: Stats | None,
        prior: Any,
    ) -> float:
        if indicator.shrink == "beta" and isinstance(prior, st.BetaPrior) and trials > 0:
            return st.shrink_rate(x, trials, prior)
        if indicator.shrink == "normal" and isinstance(prior, tuple) and stats is not None:
            group_mean, between, pooled = prior
            within = stats.var_ratio if stats.var_ratio is not None else pooled
            return st.shrink_mean(raw, n, within, group_mean, between).estimate
        return raw

    def _sustained_quality(
        self, rule: SustainedQualityRule, line: Line, person: RosterEntry, facts: IndicatorFacts
    ) -> None:
        indicator = line.definition
        months = self.window.months[-rule.months :]
        series: Mapping[int, Stats] = facts.months.get(person.employee_id, {})
        reference = line.baseline
        if reference is None:
            return
        if indicator.aggregation in PROPORTIONS:
            xs, ns, used = [], [], []
            for month in months:
                stats = series.get(month)
                _, _, x, trials = _actual(indicator, stats, stretched=False)
                if trials > 0:
                    xs.append(x)
                    ns.append(trials)
                    used.append(month)
            points = st.p_chart(xs, ns, center=reference)
            # A month can only show better-than-baseline quality when its control limit on
            # the better side lies inside [0, 1]: with rare events (1 % escapes in a few
            # dozen defects) a month of zero is what an average month looks like, and "eight
            # in a row below" would fire for most people.
            informative = [
                (p.center - 3 * p.sigma > 0)
                if indicator.direction == "lower"
                else (p.center + 3 * p.sigma < 1)
                for p in points
            ]
            if not all(informative):
                return
        else:
            values, used = [], []
            for month in months:
                actual, n, _, _ = _actual(indicator, series.get(month), stretched=False)
                if actual is not None and n > 0:
                    values.append(actual)
                    used.append(month)
            points = st.individuals_chart(values, center=reference)
        better = "below" if indicator.direction == "lower" else "above"
        recent = len(points) - RECENT_SIGNAL_MONTHS
        signals = [
            s
            for s in st.western_electric_signals(points)
            if s.side == better and s.end_index >= recent
        ]
        if not signals:
            return
        signal = signals[-1]
        assert line.threshold is not None
        assert line.target is not None
        assert line.stretch is not None
        factor = rule.relax_target if indicator.direction == "lower" else 1 / rule.relax_target
        before = {"threshold": line.threshold, "target": line.target, "stretch": line.stretch}
        line.threshold *= factor
        line.target *= factor
        line.stretch *= factor
        effect: dict[str, Any] = {
            "target": {"from": before["target"], "to": line.target},
            "threshold": {"from": before["threshold"], "to": line.threshold},
            "stretch": {"from": before["stretch"], "to": line.stretch},
        }
        if rule.weight_factor != 1:
            effect["weight"] = {"from": line.weight, "to": line.weight * rule.weight_factor}
            line.weight *= rule.weight_factor
        signal_month = _month_start(used[signal.end_index])
        line.rules.append(
            Adjustment(
                rule=rule.code,
                rule_kind=rule.kind,
                indicator=indicator.code,
                employee_id=person.employee_id,
                org_unit_id=person.org_unit_id,
                inputs={
                    "signal": signal.rule,
                    "side": signal.side,
                    "month": signal_month.isoformat()[:7],
                    "points": len(points),
                    "center": reference,
                },
                effect=effect,
                reason_en=(
                    f"a control-chart signal ({signal.rule.replace('_', ' ')}, "
                    f"{signal_month:%Y-%m}) shows quality better than the baseline over "
                    f"{len(points)} months: the target relaxes from {before['target']:.4g} "
                    f"to {line.target:.4g}, leaving room to explore"
                ),
                reason_zh=(
                    f"控制图信号（{signal.rule}，{signal_month:%Y-%m}）显示近 {len(points)} "
                    f"个月质量优于基线：目标由 {before['target']:.4g} 放宽到 "
                    f"{line.target:.4g}，为探索留出空间"
                ),
            )
        )

    def _watch_run(self, rule: WatchRule, line: Line, series: Mapping[int, Stats]) -> None:
        reference = line.baseline
        # A month's count is not comparable with a period's baseline count, and a month
        # without a patent says nothing: counts are never watched.
        if reference is None or line.definition.aggregation in COUNTING:
            return
        values = []
        for month in self.window.months[-rule.length :]:
            actual, n, _, _ = _actual(line.definition, series.get(month), stretched=False)
            if actual is None or n == 0:
                return
            values.append(actual)
        line.watch = st.run_worse(values, reference, line.definition.direction, rule.length)

    def _total(self, card: Card) -> None:
        scored = [line for line in card.lines if line.status == LineStatus.SCORED]
        weight = sum(line.weight for line in scored)
        card.scored_weight = weight
        missing = [
            {"indicator": line.indicator, "weight": line.weight, "status": line.status.value}
            for line in card.lines
            if line.status != LineStatus.SCORED
        ]
        card.details = {"redistributed": missing, "categories": {}, "groups": {}}
        adjustment = self.manager_adjustments.get(card.person.employee_id, 0.0)
        card.adjustment = adjustment
        # Counts of things done (patents, trainings) read zero without facts; they complete
        # a scorecard but never make one: someone with nothing else is not scored at all.
        measured = any(line.definition.aggregation not in COUNTING for line in scored)
        if not measured or weight <= 0:
            card.status = ScorecardStatus.INSUFFICIENT_DATA
            return
        for line in scored:
            line.effective_weight = line.weight * 100 / weight
        categories: dict[str, float] = defaultdict(float)
        groups: dict[str, float] = defaultdict(float)
        for line in scored:
            assert line.points is not None
            contribution = line.points * line.effective_weight / 100
            categories[line.definition.category] += contribution
            groups[line.definition.group] += contribution
        card.details["categories"] = {k: round(v, 6) for k, v in sorted(categories.items())}
        card.details["groups"] = {k: round(v, 6) for k, v in sorted(groups.items())}
        card.indicator_total = sum(categories.values())
        card.status = ScorecardStatus.SCORED
        card.blended_total = card.indicator_total
        if self.blend is not None:
            self._blend(card, self.blend)
        card.total = min(st.STRETCH_POINTS, max(0.0, card.blended_total + adjustment))

    def _blend(self, card: Card, blend: ReviewBlend) -> None:
        mean, responses = self.reviews.get(card.person.employee_id, (0.0, 0))
        card.review_responses = responses
        info: dict[str, Any] = {
            "indicators": blend.indicators,
            "reviews": blend.reviews,
            "responses": responses,
            "minResponses": blend.min_responses,
        }
        if responses < blend.min_responses:
            info["applied"] = False
            card.details["blend"] = info
            return
        low, high = blend.scale
        share = (min(high, max(low, mean)) - low) / (high - low)
        card.review_points = blend.points[0] + share * (blend.points[1] - blend.points[0])
        info["applied"] = True
        info["meanRating"] = round(mean, 4)
        card.details["blend"] = info
        assert card.indicator_total is not None
        card.blended_total = (
            card.indicator_total * blend.indicators + card.review_points * blend.reviews
        ) / 100

    def _percentiles(self, by_level: dict[str, list[RosterEntry]]) -> None:
        for members in by_level.values():
            scored = [
                self.cards[p.employee_id]
                for p in members
                if self.cards[p.employee_id].total is not None
            ]
            ranks = st.percentile_ranks([card.total for card in scored if card.total is not None])
            for card, rank in zip(scored, ranks, strict=True):
                card.percentile = rank

    # --- storing -----------------------------------------------------------------------------

    async def store(self) -> None:
        tx = require_tenant(self.tenant)
        tenant, period = self.tenant, self.period
        now = self.computed_at
        version = period.indicator_set_version
        await tx.execute(
            "DELETE FROM level_baselines WHERE tenant_id = $1 AND period_id = $2", tenant, period.id
        )
        await tx.execute(
            "DELETE FROM target_adjustments WHERE tenant_id = $1 AND period_id = $2",
            tenant,
            period.id,
        )
        await tx.execute(
            "DELETE FROM scorecards WHERE tenant_id = $1 AND period_id = $2 "
            "AND NOT (employee_id = ANY($3::uuid[]))",
            tenant,
            period.id,
            list(self.cards),
        )
        async with tx.client.acquire_connection() as conn:
            await _copy(
                conn,
                "level_baselines",
                (
                    "id", "tenant_id", "period_id", "indicator", "level", "value", "people",
                    "facts", "low", "high", "window_start", "window_end",
                ),
                (
                    (
                        uuid4(), tenant, period.id, b["indicator"], b["level"], b["value"],
                        b["people"], b["facts"], b["low"], b["high"],
                        self.window.window_start_day, period.starts_on - timedelta(days=1),
                    )
                    for b in self.baselines
                ),
            )  # fmt: skip
            await _copy(
                conn,
                "target_adjustments",
                (
                    "id", "tenant_id", "period_id", "rule", "rule_kind", "indicator",
                    "org_unit_id", "employee_id", "inputs", "effect", "reason_en", "reason_zh",
                ),
                (
                    (
                        uuid4(), tenant, period.id, a.rule, a.rule_kind, a.indicator,
                        a.org_unit_id, a.employee_id, _json(a.inputs), _json(a.effect),
                        a.reason_en, a.reason_zh,
                    )
                    for a in self.stored_adjustments
                ),
            )  # fmt: skip
            await _upsert_scorecards(conn, tenant, period.id, version, now, self.cards.values())
        period.computed_at = now
        await repo.save_period(tenant, period, ["computed_at"])


def indicator_unit_en(indicator: IndicatorDefinition) -> str:
    return "hours" if indicator.limit is not None else indicator.unit


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _copy(
    conn: Any, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> None:
    """COPY rows into ``table`` through a staging table (COPY into an RLS table is refused)."""
    records = list(rows)
    if not records:
        return
    stage = f"stage_{table}"
    names = ", ".join(f'"{c}"' for c in columns)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    await conn.execute(f"TRUNCATE {stage}")
    await conn.copy_records_to_table(stage, records=records, columns=list(columns))
    await conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}")  # noqa: S608


_CARD_COLUMNS = (
    "id", "tenant_id", "period_id", "employee_id", "level", "org_unit_id", "status",
    "indicator_total", "review_points", "review_responses", "blended_total", "adjustment",
    "total", "percentile", "scored_weight", "details", "indicator_set_version", "computed_at",
    "lines", "digest",
)  # fmt: skip
_CARD_UPDATED = (
    "level", "org_unit_id", "status", "indicator_total", "review_points", "review_responses",
    "blended_total", "total", "percentile", "scored_weight", "details",
    "indicator_set_version", "computed_at", "lines", "digest",
)  # fmt: skip


def _lines_json(lines: Sequence[Line]) -> str:
    return _json([line.as_json() for line in lines])


def _card_record(
    tenant: TenantID, period_id: UUID, version: int, now: datetime, card: Card
) -> tuple[Any, ...]:
    """A card as a row of ``_CARD_COLUMNS``, its digest over everything but id and time."""
    person = card.person
    figures = (
        person.level, person.org_unit_id, card.status.value, card.indicator_total,
        card.review_points, card.review_responses, card.blended_total, card.adjustment,
        card.total, card.percentile, card.scored_weight, version,
    )  # fmt: skip
    details, lines = _json(card.details), _lines_json(card.lines)
    digest = hashlib.blake2b(
        b"\0".join((orjson.dumps(figures, default=str), details.encode(), lines.encode())),
        digest_size=16,
    ).digest()
    return (
        uuid4(), tenant, period_id, person.employee_id, *figures[:-1], details, version, now,
        lines, digest,
    )  # fmt: skip


async def _upsert_scorecards(
    conn: Any,
    tenant: TenantID,
    period_id: UUID,
    version: int,
    now: datetime,
    cards: Iterable[Card],
) -> None:
    """Insert or refresh each person's scorecard with its lines (a manager's adjustment
    stays). A card whose digest is the stored one is left alone, its ``computed_at``
    included: most recomputations follow a few new facts, and rewriting (or comparing)
    every card's lines would cost more than computing them."""
    stored = {
        row["employee_id"]: row["digest"]
        for row in await conn.fetch(
            "SELECT employee_id, digest FROM scorecards WHERE tenant_id = $1 AND period_id = $2",
            tenant,
            period_id,
        )
    }
    records = [
        record
        for record in (_card_record(tenant, period_id, version, now, card) for card in cards)
        if stored.get(record[3]) != record[-1]
    ]
    if not records:
        return
    stage = "stage_scorecards"
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE scorecards INCLUDING DEFAULTS) "
        "ON COMMIT DROP"
    )
    await conn.execute(f"TRUNCATE {stage}")
    await conn.copy_records_to_table(stage, records=records, columns=list(_CARD_COLUMNS))
    names = ", ".join(_CARD_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _CARD_UPDATED)
    await conn.execute(
        f"INSERT INTO scorecards ({names}) SELECT {names} FROM {stage} "  # noqa: S608
        f"ON CONFLICT (tenant_id, period_id, employee_id) DO UPDATE SET {updates}"
    )


scoring_service = ScoringService()
