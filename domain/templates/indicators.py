"""The indicator part of a template pack: fact kinds, indicators, weights, rules, scorecard.

The same models validate a pack file on load and a tenant's own, edited copy (its
indicator set), so a tenant can never save what a pack file could not say. Aggregations and
rule kinds are a closed vocabulary the scoring engine knows how to run in SQL; a pack picks
and parametrises them, which is why a new industry needs a new file and no new code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CODE = r"^[a-z][a-z0-9_]{0,62}$"

Direction = Literal["higher", "lower"]
Category = Literal["core", "target", "auxiliary"]
PeriodKind = Literal["month", "quarter", "term"]

# How an indicator turns one person's facts of its kind in a period into an actual:
#   median          median of value / denominator (denominator 1 when absent)
#   mean            mean of value / denominator
#   rate            sum(value) / sum(denominator): x successes out of n trials
#   share_within    share of facts whose value is at most `limit` (hours, days, ...)
#   sum             sum of values (zero when there are no facts)
#   count_at_least  number of facts whose value is at least `limit` (zero when none)
#   normalised_gain mean of Hake's gain (value - pre) / (100 - pre), `pre` an attribute
Aggregation = Literal[
    "median", "mean", "rate", "share_within", "sum", "count_at_least", "normalised_gain"
]
# Aggregations whose actual is a count of things done: no facts means an actual of zero.
COUNTING: frozenset[str] = frozenset({"sum", "count_at_least"})
# Aggregations whose actual is x out of n, so a beta-binomial prior can shrink them.
PROPORTIONS: frozenset[str] = frozenset({"rate", "share_within"})
# Aggregations whose actual is an average of per-fact figures, shrunk as a mean.
AVERAGES: frozenset[str] = frozenset({"median", "mean", "normalised_gain"})


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class FactKind(BaseModel):
    """A kind of measurement facts record, with what its value and denominator mean."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: Text
    unit: str = Field(min_length=1, max_length=32)
    value: Text
    denominator: Text | None = None
    # Numeric attributes every fact of this kind must carry (e.g. a class's pre-test mean).
    attributes: tuple[str, ...] = ()


class TargetPolicy(BaseModel):
    """Where an indicator's threshold, target and stretch come from.

    ``fixed``: the three figures are in the indicator's unit. ``baseline``: they multiply a
    baseline: the person's level, the person's own shrunk history, or (for normalised gains)
    the tenant's median gain of classes that started in the same pre-test band, since the
    same gain is a different feat from 40 than from 80 (``bands`` are the cut points).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["fixed", "baseline"]
    baseline: Literal["level", "person", "band"] = "level"
    bands: tuple[float, ...] = ()
    threshold: float
    target: float
    stretch: float


class IndicatorDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: Text
    description: Text
    category: Category
    group: str = Field(pattern=CODE)
    unit: str = Field(min_length=1, max_length=32)
    direction: Direction
    fact_kind: str = Field(pattern=CODE)
    aggregation: Aggregation
    limit: float | None = None
    shrink: Literal["none", "beta", "normal"] = "none"
    min_n: int = Field(default=5, ge=0)
    weight: float = Field(ge=0, le=100)
    target: TargetPolicy

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorDefinition:
        needs_limit = self.aggregation in {"share_within", "count_at_least"}
        if needs_limit and self.limit is None:
            raise ValueError(f"indicator {self.code}: aggregation {self.aggregation} needs a limit")
        if not needs_limit and self.limit is not None:
            raise ValueError(
                f"indicator {self.code}: aggregation {self.aggregation} takes no limit"
            )
        if self.shrink == "beta" and self.aggregation not in PROPORTIONS:
            raise ValueError(
                f"indicator {self.code}: beta shrinkage is for rate or share_within, "
                f"not {self.aggregation}"
            )
        if self.shrink == "normal" and self.aggregation not in AVERAGES:
            raise ValueError(
                f"indicator {self.code}: normal shrinkage is for median, mean or "
                f"normalised_gain, not {self.aggregation}"
            )
        _check_curve(self.code, self.direction, self.target)
        _check_bands(self)
        return self


def _check_bands(indicator: IndicatorDefinition) -> None:
    policy = indicator.target
    if policy.baseline != "band":
        if policy.bands:
            raise ValueError(f'indicator {indicator.code}: bands are for baseline = "band"')
        return
    if policy.policy != "baseline" or indicator.aggregation != "normalised_gain":
        raise ValueError(
            f"indicator {indicator.code}: a band baseline is for baseline-relative targets "
            "of normalised_gain indicators"
        )
    cuts = list(policy.bands)
    if not cuts or cuts != sorted(set(cuts)) or not all(0 < cut < 100 for cut in cuts):
        raise ValueError(
            f"indicator {indicator.code}: bands must be increasing pre-test cut points "
            f"between 0 and 100 (got {cuts})"
        )


def _check_curve(code: str, direction: Direction, policy: TargetPolicy) -> None:
    low_to_high = (policy.threshold, policy.target, policy.stretch)
    ordered = sorted(low_to_high) if direction == "higher" else sorted(low_to_high, reverse=True)
    if list(low_to_high) != ordered:
        order = "<=" if direction == "higher" else ">="
        raise ValueError(
            f"indicator {code}: {direction}-is-better needs threshold {order} target {order} "
            f"stretch (got {policy.threshold}, {policy.target}, {policy.stretch})"
        )
    if policy.policy == "baseline" and min(low_to_high) <= 0:
        raise ValueError(f"indicator {code}: baseline multipliers must be positive")


class WeightGroup(BaseModel):
    """A heading of the scorecard (delivery, quality, ...) with the weight it carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: Text
    weight: float = Field(ge=0, le=100)


class DemandSpikeRule(BaseModel):
    """When a unit's incoming volume exceeds ``multiple`` x its usual, SLA limits stretch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["demand_spike"]
    code: str = Field(pattern=CODE)
    name: Text
    fact_kind: str = Field(pattern=CODE)
    multiple: float = Field(gt=1)
    # Below this many facts a unit's usual volume is too thin to call anything a spike.
    min_baseline: float = Field(default=3, ge=0)
    indicators: tuple[str, ...] = Field(min_length=1)
    set_limit: float = Field(gt=0)


class SustainedQualityRule(BaseModel):
    """A control-chart signal of better-than-baseline quality relaxes a target or a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sustained_quality"]
    code: str = Field(pattern=CODE)
    name: Text
    indicators: tuple[str, ...] = Field(min_length=1)
    months: int = Field(default=12, ge=4, le=36)
    # The target (and threshold and stretch) move this far in the worse direction.
    relax_target: float = Field(default=1.0, ge=1)
    # The indicator's weight is multiplied by this; the rest goes to the other indicators.
    weight_factor: float = Field(default=1.0, gt=0, le=1)


class WatchRule(BaseModel):
    """A plain run of months worse than baseline: shown as "watch", never scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["watch"]
    code: str = Field(pattern=CODE)
    name: Text
    length: int = Field(default=3, ge=2, le=12)


Rule = DemandSpikeRule | SustainedQualityRule | WatchRule


class ReviewBlend(BaseModel):
    """Mix review ratings into the total: a declared weighting, never evaluated code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indicators: float = Field(ge=0, le=100)
    reviews: float = Field(ge=0, le=100)
    sources: tuple[str, ...] = Field(min_length=1)
    scale: tuple[float, float] = (1.0, 5.0)
    # Points a rating at the bottom and at the top of the scale is worth.
    points: tuple[float, float] = (0.0, 120.0)
    min_responses: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _sums(self) -> ReviewBlend:
        if abs(self.indicators + self.reviews - 100) > 1e-9:
            raise ValueError(
                f"blend: indicators {self.indicators} + reviews {self.reviews} must total 100"
            )
        if self.scale[0] >= self.scale[1]:
            raise ValueError("blend: scale must go from low to high")
        return self


class ScorecardPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period_kind: PeriodKind
    # A manager may move a total by at most this many points, with a comment.
    manager_adjustment_max: float = Field(default=10, ge=0, le=50)
    blend: ReviewBlend | None = None


class DashboardPanel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: Text
    chart: Literal["line", "bar", "stacked_bar", "p_chart", "scatter", "heatmap", "funnel", "table"]
    indicators: tuple[str, ...] = ()


class IndicatorSetDefinition(BaseModel):
    """What a tenant scores with: the pack's defaults, or the tenant's edited copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight_groups: tuple[WeightGroup, ...] = Field(min_length=1)
    indicators: tuple[IndicatorDefinition, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _weights_and_references(self) -> IndicatorSetDefinition:
        problems: list[str] = []
        codes = [i.code for i in self.indicators]
        problems += _repeated(codes, "indicators")
        problems += _repeated([g.code for g in self.weight_groups], "weight_groups")
        problems += _repeated([r.code for r in self.rules], "rules")
        total = sum(i.weight for i in self.indicators)
        if abs(total - 100) > 1e-9:
            problems.append(f"indicator weights total {_figure(total)}, they must total 100")
        groups = {g.code: g for g in self.weight_groups}
        for indicator in self.indicators:
            if indicator.group not in groups:
                problems.append(f"indicator {indicator.code}: unknown group {indicator.group!r}")
        for group in self.weight_groups:
            inside = sum(i.weight for i in self.indicators if i.group == group.code)
            if abs(inside - group.weight) > 1e-9:
                problems.append(
                    f"group {group.code}: its indicators weigh {_figure(inside)}, "
                    f"the group {_figure(group.weight)}"
                )
        known = set(codes)
        for rule in self.rules:
            targets = getattr(rule, "indicators", ())
            problems += [
                f"rule {rule.code}: unknown indicator {code!r}"
                for code in targets
                if code not in known
            ]
            if isinstance(rule, DemandSpikeRule):
                by_code = {i.code: i for i in self.indicators}
                problems += [
                    f"rule {rule.code}: indicator {code} has no limit to stretch"
                    for code in rule.indicators
                    if code in by_code and by_code[code].aggregation != "share_within"
                ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def indicator(self, code: str) -> IndicatorDefinition | None:
        return next((i for i in self.indicators if i.code == code), None)


class IndicatorPack(IndicatorSetDefinition):
    """The indicator sections of a pack file, checked against its fact kinds."""

    fact_kinds: tuple[FactKind, ...] = Field(min_length=1)
    scorecard: ScorecardPolicy
    dashboard_panels: tuple[DashboardPanel, ...] = ()

    @model_validator(mode="after")
    def _fact_kinds_known(self) -> IndicatorPack:
        check_fact_kinds(self, self.fact_kinds)
        return self

    def defaults(self) -> IndicatorSetDefinition:
        return IndicatorSetDefinition(
            weight_groups=self.weight_groups, indicators=self.indicators, rules=self.rules
        )

    def fact_kind(self, code: str) -> FactKind | None:
        return next((kind for kind in self.fact_kinds if kind.code == code), None)


def check_fact_kinds(definition: IndicatorSetDefinition, kinds: tuple[FactKind, ...]) -> None:
    """Raise ``ValueError`` naming every indicator or rule that reads an unknown fact kind."""
    known = {kind.code: kind for kind in kinds}
    problems = _repeated(list(known), "fact_kinds") if len(known) != len(kinds) else []
    for indicator in definition.indicators:
        kind = known.get(indicator.fact_kind)
        if kind is None:
            problems.append(
                f"indicator {indicator.code}: unknown fact kind {indicator.fact_kind!r}"
            )
        elif indicator.aggregation == "normalised_gain" and "pre" not in kind.attributes:
            problems.append(
                f"indicator {indicator.code}: normalised_gain needs fact kind "
                f"{kind.code} to carry a 'pre' attribute"
            )
    for rule in definition.rules:
        if isinstance(rule, DemandSpikeRule) and rule.fact_kind not in known:
            problems.append(f"rule {rule.code}: unknown fact kind {rule.fact_kind!r}")
    if problems:
        raise ValueError("; ".join(problems))


def _repeated(codes: list[str], what: str) -> list[str]:
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    return [f"{what}: repeated {repeated}"] if repeated else []


def _figure(value: float) -> str:
    return f"{value:g}"
