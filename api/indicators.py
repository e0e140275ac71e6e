"""GraphQL of indicators and scoring: indicator sets, facts, periods, baselines, scorecards.

Facts and scorecards are about a person, so reaching one means reaching its person through
the operation's matrix row (everyone, a manager's subtrees, or oneself); one out of reach
answers exactly like one that does not exist. The indicator set, periods and level baselines
are the tenant's rules, readable by everyone in it. Every scorecard and each of its lines
explains itself (``domain.indicators.explanations``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, ItemError, error_from, forbidden, item_error
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import (
    PAGE_SIZE,
    node_type,
    paginated,
    parse_node_id,
    require_node_id,
    to_connection,
)
from api.jobs import JobType
from api.people import EmployeeType, employee_loader
from api.tenancy import LocalizedText
from domain.indicators import repository as indicator_repo
from domain.indicators.adjustments import scorecard_adjustments, scorecard_not_found
from domain.indicators.explanations import (
    CATEGORY_NAMES,
    Explanation,
    PeriodRange,
    explain_line,
    explain_scorecard,
)
from domain.indicators.models import (
    Fact,
    IndicatorSet,
    LevelBaseline,
    LineStatus,
    Period,
    PeriodStatus,
    Scorecard,
    ScorecardLine,
    ScorecardStatus,
    TargetAdjustment,
)
from domain.indicators.service import (
    FactCorrection,
    FactInput,
    FactOutcome,
    FactResult,
    VersionedDefinition,
    fact_not_found,
    fact_service,
    indicator_sets,
    period_not_found,
    period_service,
)
from domain.org import repository as org_repo
from domain.templates.indicators import (
    DashboardPanel,
    FactKind,
    IndicatorDefinition,
    IndicatorSetDefinition,
    Rule,
    ScorecardPolicy,
    Text,
    WeightGroup,
)
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid, not_found
from tenants.pagination import Page

PeriodStatusType = strawberry.enum(PeriodStatus, name="PeriodStatus")
ScorecardStatusType = strawberry.enum(ScorecardStatus, name="ScorecardStatus")
LineStatusType = strawberry.enum(LineStatus, name="ScorecardLineStatus")
FactOutcomeType = strawberry.enum(
    FactOutcome,
    name="FactOutcome",
    description="What recording a fact did: a new fact, nothing (the same fact is on record "
    "under its external key), a new fact replacing the one under its key, or nothing (failed).",
)

FACTS_OPERATION = "Query.facts"
FACT_NODE = "Node.Fact"
SCORECARDS_OPERATION = "Query.scorecards"
SCORECARD_OPERATION = "Query.scorecard"
SCORECARD_NODE = "Node.Scorecard"
ADJUSTMENTS_OPERATION = "Query.targetAdjustments"
EMPLOYEE_NODE = "Node.Employee"

EMPTY_PAGE: Page[Any] = Page(items=[], cursors=[], has_next_page=False, has_previous_page=False)


# --- loaders (per request) -------------------------------------------------------------------


def period_loader(context: RequestContext) -> DataLoader[UUID, Period | None]:
    return context.loaders.by_id("periods", indicator_repo.get_periods)


def definition_loader(context: RequestContext) -> DataLoader[int, VersionedDefinition]:
    """Indicator set versions; a page of one period's scorecards asks for one."""
    tenant = context.tenant_id

    async def load(versions: list[int]) -> list[VersionedDefinition]:
        return [await indicator_sets.version(tenant, version) for version in versions]

    return context.loaders.batch("indicator_set_versions", load)


def lines_loader(context: RequestContext) -> DataLoader[UUID, list[ScorecardLine]]:
    """Lines of scorecards: a whole page's in one statement."""
    return context.loaders.grouped("scorecard_lines", indicator_repo.lines_of)


async def _reachable(context: RequestContext, employee_id: UUID, operation: str) -> bool:
    person = await employee_loader(context).load(employee_id)
    return person is not None and (await context.visibility(operation)).allows(person)


# --- the pack's indicator part ---------------------------------------------------------------


@strawberry.type(name="FactKind", description="A kind of measurement that facts record.")
class FactKindType:
    code: str
    name: LocalizedText
    unit: str
    value: LocalizedText = strawberry.field(description="What a fact's value means.")
    denominator: LocalizedText | None = strawberry.field(
        description="What a fact's denominator means, when facts of this kind carry one."
    )
    attributes: list[str] = strawberry.field(
        description="Numeric attributes every fact of this kind carries."
    )

    @classmethod
    def from_definition(cls, kind: FactKind) -> FactKindType:
        return cls(
            code=kind.code,
            name=LocalizedText.of(kind.name),
            unit=kind.unit,
            value=LocalizedText.of(kind.value),
            denominator=LocalizedText.of(kind.denominator)
            if kind.denominator is not None
            else None,
            attributes=list(kind.attributes),
        )


@strawberry.type(
    name="TargetPolicy",
    description="Where threshold (80 points), target (100) and stretch (120) come from: fixed "
    "figures in the indicator's unit, or multiples of a baseline (the level's or the person's).",
)
class TargetPolicyType:
    policy: str
    baseline: str
    threshold: float
    target: float
    stretch: float


@strawberry.type(name="Indicator", description="One indicator of an indicator set.")
class IndicatorType:
    code: str
    name: LocalizedText
    description: LocalizedText
    category: str = strawberry.field(description="core, target or auxiliary")
    group: str = strawberry.field(description="The weight group it counts in.")
    unit: str
    direction: str = strawberry.field(description="higher or lower is better")
    fact_kind: str
    aggregation: str
    limit: float | None = strawberry.field(
        description="The limit of share_within and count_at_least aggregations."
    )
    shrink: str = strawberry.field(description="Small-sample shrinkage: none, beta or normal.")
    min_n: int = strawberry.field(description="Fewer data points read as insufficient data.")
    weight: float
    target: TargetPolicyType

    @classmethod
    def from_definition(cls, indicator: IndicatorDefinition) -> IndicatorType:
        policy = indicator.target
        return cls(
            code=indicator.code,
            name=LocalizedText.of(indicator.name),
            description=LocalizedText.of(indicator.description),
            category=indicator.category,
            group=indicator.group,
            unit=indicator.unit,
            direction=indicator.direction,
            fact_kind=indicator.fact_kind,
            aggregation=indicator.aggregation,
            limit=indicator.limit,
            shrink=indicator.shrink,
            min_n=indicator.min_n,
            weight=indicator.weight,
            target=TargetPolicyType(
                policy=policy.policy,
                baseline=policy.baseline,
                threshold=policy.threshold,
                target=policy.target,
                stretch=policy.stretch,
            ),
        )


@strawberry.type(name="WeightGroup", description="A heading of the scorecard and its weight.")
class WeightGroupType:
    code: str
    name: LocalizedText
    weight: float

    @classmethod
    def from_definition(cls, group: WeightGroup) -> WeightGroupType:
        return cls(code=group.code, name=LocalizedText.of(group.name), weight=group.weight)


@strawberry.type(
    name="Rule",
    description="A rule that moves targets, limits or weights (demand_spike, "
    "sustained_quality) or flags a line (watch); its parameters depend on its kind.",
)
class RuleType:
    kind: str
    code: str
    name: LocalizedText
    indicators: list[str] = strawberry.field(description="The indicators it acts on.")
    params: JSON = strawberry.field(description="The kind's other parameters, as in the pack.")

    @classmethod
    def from_definition(cls, rule: Rule) -> RuleType:
        params = rule.model_dump(mode="json", exclude={"kind", "code", "name", "indicators"})
        return cls(
            kind=rule.kind,
            code=rule.code,
            name=LocalizedText.of(rule.name),
            indicators=list(getattr(rule, "indicators", ())),
            params=JSON(params),
        )


@strawberry.type(name="ReviewBlend", description="How review ratings mix into the total.")
class ReviewBlendType:
    indicators: float = strawberry.field(description="Percent of the total from indicators.")
    reviews: float = strawberry.field(description="Percent of the total from reviews.")
    sources: list[str]
    scale: list[float]
    points: list[float] = strawberry.field(description="Points at the bottom and top of scale.")
    min_responses: int


@strawberry.type(name="ScorecardPolicy", description="How the tenant's scorecards are made.")
class ScorecardPolicyType:
    period_kind: str
    manager_adjustment_max: float = strawberry.field(
        description="A manager moves a total by at most this many points, either way."
    )
    blend: ReviewBlendType | None

    @classmethod
    def from_definition(cls, policy: ScorecardPolicy) -> ScorecardPolicyType:
        blend = policy.blend
        return cls(
            period_kind=policy.period_kind,
            manager_adjustment_max=policy.manager_adjustment_max,
            blend=ReviewBlendType(
                indicators=blend.indicators,
                reviews=blend.reviews,
                sources=list(blend.sources),
                scale=list(blend.scale),
                points=list(blend.points),
                min_responses=blend.min_responses,
            )
            if blend is not None
            else None,
        )


@strawberry.type(name="DashboardPanel", description="A dashboard panel the pack offers.")
class DashboardPanelType:
    code: str
    name: LocalizedText
    chart: str
    indicators: list[str]

    @classmethod
    def from_definition(cls, panel: DashboardPanel) -> DashboardPanelType:
        return cls(
            code=panel.code,
            name=LocalizedText.of(panel.name),
            chart=panel.chart,
            indicators=list(panel.indicators),
        )


def fact_kinds_of(pack: PackFile) -> list[FactKindType]:
    return [FactKindType.from_definition(kind) for kind in pack.fact_kinds]


def indicators_of(definition: IndicatorSetDefinition) -> list[IndicatorType]:
    return [IndicatorType.from_definition(i) for i in definition.indicators]


def weight_groups_of(definition: IndicatorSetDefinition) -> list[WeightGroupType]:
    return [WeightGroupType.from_definition(g) for g in definition.weight_groups]


def rules_of(definition: IndicatorSetDefinition) -> list[RuleType]:
    return [RuleType.from_definition(rule) for rule in definition.rules]


def dashboard_panels_of(pack: PackFile) -> list[DashboardPanelType]:
    return [DashboardPanelType.from_definition(panel) for panel in pack.dashboard_panels]


# --- indicator sets --------------------------------------------------------------------------


@strawberry.type(
    name="IndicatorSet",
    description="One version of what the tenant scores with: indicators, weights and rules. "
    "A period keeps the version it was created with.",
)
class IndicatorSetType:
    version: int
    note: str | None
    created_at: datetime | None
    definition_row: strawberry.Private[IndicatorSetDefinition]

    @classmethod
    def from_versioned(cls, found: VersionedDefinition) -> IndicatorSetType:
        row = found.row
        return cls(
            version=found.version,
            note=row.note if row is not None else None,
            created_at=row.created_at if row is not None else None,
            definition_row=found.definition,
        )

    @classmethod
    def from_model(cls, row: IndicatorSet) -> IndicatorSetType:
        return cls.from_versioned(
            VersionedDefinition(
                row.version, IndicatorSetDefinition.model_validate(row.definition), row
            )
        )

    @field(description="The indicators, in scorecard order.")
    def indicators(self) -> list[IndicatorType]:
        return indicators_of(self.definition_row)

    @field(description="The weight groups; their indicators' weights add up to theirs.")
    def weight_groups(self) -> list[WeightGroupType]:
        return weight_groups_of(self.definition_row)

    @field(description="The rules that move targets and flag lines.")
    def rules(self) -> list[RuleType]:
        return rules_of(self.definition_row)

    @field(
        description="The whole definition as JSON, the shape updateIndicatorSet takes: copy, "
        "edit, save."
    )
    def definition(self) -> JSON:
        return JSON(self.definition_row.model_dump(mode="json"))


# --- facts -----------------------------------------------------------------------------------


@strawberry.type(
    name="Fact",
    description="One measurement about one person (a delivered item's cycle days, an "
    "answer's hours). Never edited: a correction is a new fact that supersedes it.",
)
class FactType(relay.Node):
    id: relay.NodeID[str]
    kind: str
    occurred_at: datetime
    value: float
    denominator: float | None
    source: str
    external_key: str | None
    attributes: JSON
    recorded_at: datetime
    superseded_at: datetime | None
    row: strawberry.Private[Fact]

    @classmethod
    def from_model(cls, row: Fact) -> FactType:
        return cls(
            id=str(row.id),
            kind=row.kind,
            occurred_at=row.occurred_at,
            value=row.value,
            denominator=row.denominator,
            source=row.source,
            external_key=row.external_key,
            attributes=JSON(row.attributes),
            recorded_at=row.recorded_at,
            superseded_at=row.superseded_at,
            row=row,
        )

    @field(description="The person the fact is about.")
    def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.row.employee_id))

    @field(description="Whether this fact counts (it has not been superseded).")
    def current(self) -> bool:
        return self.row.superseded_at is None

    @field(description="The fact that replaced this one, if any.")
    def superseded_by(self) -> relay.GlobalID | None:
        by = self.row.superseded_by
        return relay.GlobalID("Fact", str(by)) if by is not None else None

    @field(description="The fact this one corrects, if it is a correction.")
    def correction_of(self) -> relay.GlobalID | None:
        of = self.row.correction_of
        return relay.GlobalID("Fact", str(of)) if of is not None else None


async def _fact(context: RequestContext, fact_id: UUID, operation: str) -> Fact | None:
    row = await indicator_repo.get_fact(context.tenant_id, fact_id)
    if row is None or not await _reachable(context, row.employee_id, operation):
        return None
    return row


@node_type("Fact")
async def load_fact(context: RequestContext, node_id: UUID, reach: Reach) -> FactType | None:
    row = await _fact(context, node_id, FACT_NODE)
    return FactType.from_model(row) if row is not None else None


# --- periods, baselines, adjustments -----------------------------------------------------------


@strawberry.type(name="Period", description="A scoring period: a month, a quarter or a term.")
class PeriodType(relay.Node):
    id: relay.NodeID[str]
    code: str
    kind: str
    starts_on: date
    ends_on: date
    status: PeriodStatus
    indicator_set_version: int
    computed_at: datetime | None = strawberry.field(description="When it was last scored.")
    closed_at: datetime | None
    created_at: datetime
    row: strawberry.Private[Period]

    @classmethod
    def from_model(cls, row: Period) -> PeriodType:
        return cls(
            id=str(row.id),
            code=row.code,
            kind=row.kind,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            status=row.status,
            indicator_set_version=row.indicator_set_version,
            computed_at=row.computed_at,
            closed_at=row.closed_at,
            created_at=row.created_at,
            row=row,
        )

    @field(description="The indicator set version the period scores with.")
    async def indicator_set(self, info: Info) -> IndicatorSetType:
        found = await definition_loader(info.context).load(self.row.indicator_set_version)
        return IndicatorSetType.from_versioned(found)


@node_type("Period")
async def load_period(context: RequestContext, node_id: UUID, reach: Reach) -> PeriodType | None:
    row = await period_loader(context).load(node_id)
    return PeriodType.from_model(row) if row is not None else None


@strawberry.type(
    name="LevelBaseline",
    description="An indicator's baseline for one level in one period: the level's median "
    "over the four quarters before it, frozen when the period closes.",
)
class LevelBaselineType:
    indicator: str
    level: str
    value: float | None
    people: int = strawberry.field(description="People whose history makes the median.")
    facts: int
    low: float | None = strawberry.field(description="95 % interval of the median, low end.")
    high: float | None = strawberry.field(description="95 % interval of the median, high end.")
    window_start: date
    window_end: date
    row: strawberry.Private[LevelBaseline]

    @classmethod
    def from_model(cls, row: LevelBaseline) -> LevelBaselineType:
        return cls(
            indicator=row.indicator,
            level=row.level,
            value=row.value,
            people=row.people,
            facts=row.facts,
            low=row.low,
            high=row.high,
            window_start=row.window_start,
            window_end=row.window_end,
            row=row,
        )

    @field(description="The period.")
    def period_id(self) -> relay.GlobalID:
        return relay.GlobalID("Period", str(self.row.period_id))


@strawberry.type(
    name="TargetAdjustment",
    description="A rule that moved a target, a limit or a weight in a period, with its inputs "
    "and reason: for a unit (demand spike) or for one person (sustained quality).",
)
class TargetAdjustmentType:
    rule: str
    rule_kind: str
    indicator: str
    inputs: JSON
    effect: JSON = strawberry.field(description='{"target": {"from": ..., "to": ...}, ...}')
    reason: LocalizedText
    row: strawberry.Private[TargetAdjustment]

    @classmethod
    def from_model(cls, row: TargetAdjustment) -> TargetAdjustmentType:
        return cls(
            rule=row.rule,
            rule_kind=row.rule_kind,
            indicator=row.indicator,
            inputs=JSON(row.inputs),
            effect=JSON(row.effect),
            reason=LocalizedText(zh=row.reason_zh, en=row.reason_en),
            row=row,
        )

    @field(description="The period.")
    def period_id(self) -> relay.GlobalID:
        return relay.GlobalID("Period", str(self.row.period_id))

    @field(description="The unit it applies to, for a unit-wide rule.")
    def org_unit_id(self) -> relay.GlobalID | None:
        unit = self.row.org_unit_id
        return relay.GlobalID("OrgUnit", str(unit)) if unit is not None else None

    @field(description="The person it applies to, for a person's rule.")
    def employee_id(self) -> relay.GlobalID | None:
        person = self.row.employee_id
        return relay.GlobalID("Employee", str(person)) if person is not None else None


# --- scorecards --------------------------------------------------------------------------------


@strawberry.type(
    name="Explanation",
    description="Why a figure is what it is: one sentence in en and zh, and the figures "
    "behind it as JSON (facts used, baseline, targets, rules, weights).",
)
class ExplanationType:
    sentence_en: str
    sentence_zh: str
    data: JSON

    @classmethod
    def of(cls, explanation: Explanation) -> ExplanationType:
        return cls(
            sentence_en=explanation.sentence_en,
            sentence_zh=explanation.sentence_zh,
            data=JSON(explanation.data),
        )


@strawberry.type(name="LineAdjustment", description="A rule's effect on one scorecard line.")
class LineAdjustmentType:
    rule: str
    kind: str
    inputs: JSON
    effect: JSON
    reason: LocalizedText

    @classmethod
    def of(cls, stored: dict[str, Any]) -> LineAdjustmentType:
        return cls(
            rule=str(stored.get("rule")),
            kind=str(stored.get("kind")),
            inputs=JSON(stored.get("inputs") or {}),
            effect=JSON(stored.get("effect") or {}),
            reason=LocalizedText(
                zh=str(stored.get("reasonZh") or ""), en=str(stored.get("reasonEn") or "")
            ),
        )


@strawberry.type(
    name="ScorecardLine",
    description="One indicator on a scorecard: actual and n, baseline, targets after rules, "
    "achievement, points and weight.",
)
class ScorecardLineType:
    indicator: str
    name: LocalizedText
    category: str
    group: str
    status: LineStatus
    actual: float | None = strawberry.field(description="The figure scored (shrunk if so).")
    raw_actual: float | None = strawberry.field(description="The figure before shrinkage.")
    n: int = strawberry.field(description="Data points behind the actual.")
    facts: int = strawberry.field(description="Facts of the period behind the actual.")
    baseline: float | None
    baseline_kind: str | None = strawberry.field(
        description="level, person or band (the starting pre-test band)"
    )
    baseline_n: int | None
    baseline_low: float | None
    baseline_high: float | None
    threshold: float | None
    target: float | None
    stretch: float | None
    limit: float | None
    achievement: float | None
    points: float | None
    weight: float = strawberry.field(description="The weight after rules.")
    effective_weight: float = strawberry.field(
        description="The weight it counts with once missing indicators' weight is redistributed."
    )
    watch: bool = strawberry.field(description="Several months in a row worse than baseline.")
    adjustments: list[LineAdjustmentType]
    row: strawberry.Private[ScorecardLine]
    definition: strawberry.Private[IndicatorDefinition | None]
    period: strawberry.Private[Period]
    fact_kind: strawberry.Private[FactKind | None]
    employee_uuid: strawberry.Private[UUID]

    @classmethod
    def from_model(
        cls,
        row: ScorecardLine,
        definition: IndicatorDefinition | None,
        period: Period,
        fact_kind: FactKind | None,
        employee_id: UUID,
    ) -> ScorecardLineType:
        name = (
            definition.name if definition is not None else Text(en=row.indicator, zh=row.indicator)
        )
        return cls(
            indicator=row.indicator,
            name=LocalizedText.of(name),
            category=row.category,
            group=row.group,
            status=row.status,
            actual=row.actual,
            raw_actual=row.raw_actual,
            n=row.n,
            facts=row.facts,
            baseline=row.baseline,
            baseline_kind=row.baseline_kind,
            baseline_n=row.baseline_n,
            baseline_low=row.baseline_low,
            baseline_high=row.baseline_high,
            threshold=row.threshold,
            target=row.target,
            stretch=row.stretch,
            limit=row.limit,
            achievement=row.achievement,
            points=row.points,
            weight=row.weight,
            effective_weight=row.effective_weight,
            watch=row.watch,
            adjustments=[LineAdjustmentType.of(a) for a in row.adjustments],
            row=row,
            definition=definition,
            period=period,
            fact_kind=fact_kind,
            employee_uuid=employee_id,
        )

    @field(description="Which facts, baseline, target and rules made this line, in en and zh.")
    def explanation(self) -> ExplanationType:
        return ExplanationType.of(
            explain_line(self.row, self.definition, self.period, self.fact_kind)
        )

    @field(
        description="The facts this line was computed from: the person's current facts of "
        "its kind in the period. One statement per line: ask for it on one scorecard."
    )
    async def facts_used(
        self, info: Info, first: int = PAGE_SIZE, after: str | None = None
    ) -> relay.Connection[FactType]:
        if self.definition is None:
            return to_connection(EMPTY_PAGE, FactType.from_model)
        context = info.context
        span = PeriodRange.of(self.period)
        visibility = await context.visibility(FACTS_OPERATION)
        kind = self.definition.fact_kind
        page = await paginated(
            lambda: indicator_repo.list_facts(
                context.tenant_id,
                first=first,
                after=after,
                employee_ids=[self.employee_uuid],
                kind=kind,
                occurred_from=span.starts,
                occurred_before=span.before,
                include_superseded=False,
                visible_unit_ids=visibility.unit_ids,
                visible_employee_ids=visibility.employee_ids,
            )
        )
        return to_connection(page, FactType.from_model)


@strawberry.type(name="CategoryPoints", description="Points a category adds to the total.")
class CategoryPoints:
    category: str
    name: LocalizedText
    points: float


@strawberry.type(name="GroupPoints", description="Points a weight group adds to the total.")
class GroupPoints:
    group: str
    name: LocalizedText | None
    points: float


@strawberry.type(
    name="RedistributedWeight",
    description="An indicator that could not be scored; its weight went to the others.",
)
class RedistributedWeight:
    indicator: str
    name: LocalizedText | None
    weight: float
    status: LineStatus


@strawberry.type(name="Scorecard", description="One person's result in one period.")
class ScorecardType(relay.Node):
    id: relay.NodeID[str]
    level: str = strawberry.field(description="The person's level when scored.")
    status: ScorecardStatus
    indicator_total: float | None
    review_points: float | None
    review_responses: int
    blended_total: float | None = strawberry.field(
        description="Indicators and reviews blended, before the manager's adjustment."
    )
    adjustment: float = strawberry.field(description="The manager's adjustment, in points.")
    adjustment_comment: str | None
    adjusted_at: datetime | None
    total: float | None = strawberry.field(description="0 to 120; null with too little data.")
    percentile: float | None = strawberry.field(description="0 to 100 within the level.")
    scored_weight: float = strawberry.field(description="Weight of the lines that had data.")
    indicator_set_version: int
    computed_at: datetime
    row: strawberry.Private[Scorecard]

    @classmethod
    def from_model(cls, row: Scorecard) -> ScorecardType:
        return cls(
            id=str(row.id),
            level=row.level,
            status=row.status,
            indicator_total=row.indicator_total,
            review_points=row.review_points,
            review_responses=row.review_responses,
            blended_total=row.blended_total,
            adjustment=row.adjustment,
            adjustment_comment=row.adjustment_comment,
            adjusted_at=row.adjusted_at,
            total=row.total,
            percentile=row.percentile,
            scored_weight=row.scored_weight,
            indicator_set_version=row.indicator_set_version,
            computed_at=row.computed_at,
            row=row,
        )

    @field(description="The person scored.")
    def employee_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.row.employee_id))

    @field(description="The person scored, if the caller may read their record.")
    async def employee(self, info: Info) -> EmployeeType | None:
        person = await employee_loader(info.context).load(self.row.employee_id)
        if person is None or not (await info.context.visibility(EMPLOYEE_NODE)).allows(person):
            return None
        return EmployeeType.from_model(person)

    @field(description="The unit the person was scored in.")
    def org_unit_id(self) -> relay.GlobalID | None:
        unit = self.row.org_unit_id
        return relay.GlobalID("OrgUnit", str(unit)) if unit is not None else None

    @field(description="Who adjusted the total last (a user).")
    def adjusted_by(self) -> relay.GlobalID | None:
        by = self.row.adjusted_by
        return relay.GlobalID("User", str(by)) if by is not None else None

    @field(description="The period.")
    async def period(self, info: Info) -> PeriodType:
        row = await period_loader(info.context).load(self.row.period_id)
        if row is None:
            raise period_not_found()  # periods are never deleted while they have scorecards
        return PeriodType.from_model(row)

    @field(description="The level's name in zh and en.")
    async def level_name(self, info: Info) -> LocalizedText | None:
        level = (await pack_of(info.context.tenant_id)).level(self.row.level)
        return LocalizedText.of(level.name) if level is not None else None

    @field(description="Points each category (core, target, auxiliary) adds to the total.")
    def categories(self) -> list[CategoryPoints]:
        found = (self.row.details or {}).get("categories") or {}
        return [
            CategoryPoints(
                category=code,
                name=LocalizedText.of(CATEGORY_NAMES.get(code, Text(en=code, zh=code))),
                points=float(points),
            )
            for code, points in sorted(found.items())
        ]

    @field(description="Points each weight group adds to the total.")
    async def groups(self, info: Info) -> list[GroupPoints]:
        definition = await self._definition(info)
        names = {g.code: g.name for g in definition.weight_groups}
        found = (self.row.details or {}).get("groups") or {}
        return [
            GroupPoints(
                group=code,
                name=LocalizedText.of(names[code]) if code in names else None,
                points=float(points),
            )
            for code, points in sorted(found.items())
        ]

    @field(description="Indicators without usable data; their weight went to the others.")
    async def redistributed(self, info: Info) -> list[RedistributedWeight]:
        definition = await self._definition(info)
        names = {i.code: i.name for i in definition.indicators}
        return [
            RedistributedWeight(
                indicator=str(entry.get("indicator")),
                name=LocalizedText.of(names[entry["indicator"]])
                if entry.get("indicator") in names
                else None,
                weight=float(entry.get("weight") or 0),
                status=LineStatus(entry.get("status")),
            )
            for entry in (self.row.details or {}).get("redistributed") or []
        ]

    @field(description="The details JSON as stored (subtotals, blend, redistributed weight).")
    def details(self) -> JSON:
        return JSON(self.row.details or {})

    @field(description="The lines, in the indicator set's order.")
    async def lines(self, info: Info) -> list[ScorecardLineType]:
        context = info.context
        rows = await lines_loader(context).load(self.row.id)
        period = await period_loader(context).load(self.row.period_id)
        definition = await self._definition(info)
        pack = await pack_of(context.tenant_id)
        if period is None:
            return []
        order = {indicator.code: i for i, indicator in enumerate(definition.indicators)}
        lines = []
        for row in sorted(
            rows, key=lambda line: (order.get(line.indicator, len(order)), line.indicator)
        ):
            indicator = definition.indicator(row.indicator)
            kind = pack.fact_kind(indicator.fact_kind) if indicator is not None else None
            lines.append(
                ScorecardLineType.from_model(
                    row, indicator, period, kind, UUID(str(self.row.employee_id))
                )
            )
        return lines

    @field(description="How the total came about, in en and zh, with its figures.")
    async def explanation(self, info: Info) -> ExplanationType:
        context = info.context
        period = await period_loader(context).load(self.row.period_id)
        if period is None:
            raise period_not_found()
        definition = await self._definition(info)
        level = (await pack_of(context.tenant_id)).level(self.row.level)
        return ExplanationType.of(
            explain_scorecard(
                self.row, period, definition, level_name=level.name if level is not None else None
            )
        )

    async def _definition(self, info: Info) -> IndicatorSetDefinition:
        found = await definition_loader(info.context).load(self.row.indicator_set_version)
        return found.definition


async def _scorecard(
    context: RequestContext, scorecard_id: UUID, operation: str
) -> Scorecard | None:
    row = await indicator_repo.get_scorecard(context.tenant_id, scorecard_id)
    if row is None or not await _reachable(context, row.employee_id, operation):
        return None
    return row


@node_type("Scorecard")
async def load_scorecard(
    context: RequestContext, node_id: UUID, reach: Reach
) -> ScorecardType | None:
    row = await _scorecard(context, node_id, SCORECARD_NODE)
    return ScorecardType.from_model(row) if row is not None else None


class ScorecardOrder(Enum):
    TOTAL = "total"
    EMPLOYEE = "employee"


ScorecardOrderType = strawberry.enum(
    ScorecardOrder,
    name="ScorecardOrder",
    description="TOTAL: highest total first, no total last; EMPLOYEE: by the person's id, "
    "the same order in every period.",
)


# --- inputs and results ------------------------------------------------------------------------


@strawberry.input(description="An edited copy of the indicator set, saved as the next version.")
class IndicatorSetUpdateInput:
    base_version: int = strawberry.field(
        description="The version the edit started from; a newer one on record is a CONFLICT."
    )
    definition: JSON = strawberry.field(
        description="weightGroups, indicators and rules, in the shape IndicatorSet.definition "
        "reads (snake_case keys, as in the pack)."
    )
    note: str | None = None


@strawberry.input(name="FactInput", description="One measurement about one person.")
class FactInputType:
    employee_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The person; or give employeeNumber."
    )
    employee_number: str | None = None
    kind: str = strawberry.field(description="A fact kind of the tenant's template pack.")
    occurred_at: datetime = strawberry.field(description="With a time zone.")
    value: float
    denominator: float | None = None
    source: str = strawberry.field(default="api", description="Where it comes from (erp, ...).")
    external_key: str | None = strawberry.field(
        default=None,
        description="The source's key: recording it again is idempotent, a different fact "
        "under the same key supersedes the one on record.",
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="Numeric attributes the kind needs (e.g. pre)."
    )


@strawberry.input(description="What to correct; fields left out keep the original's value.")
class FactCorrectInput:
    id: relay.GlobalID
    occurred_at: datetime | None = None
    value: float | None = None
    denominator: float | None = None
    attributes: JSON | None = None


@strawberry.input
class PeriodCreateInput:
    code: str = strawberry.field(description="e.g. 2026-Q3 or 2026 秋季学期; unique.")
    kind: str = strawberry.field(description="month, quarter or term")
    starts_on: date
    ends_on: date


@strawberry.input
class ScorecardAdjustInput:
    scorecard_id: relay.GlobalID
    points: float = strawberry.field(
        description="The adjustment (replacing any earlier one), within the pack's "
        "managerAdjustmentMax either way."
    )
    comment: str = strawberry.field(description="Why, in at least 10 characters.")


@strawberry.type
class IndicatorSetUpdatePayload:
    indicator_set: IndicatorSetType


@strawberry.type
class IndicatorSetUpdateError(Error):
    pass


@strawberry.type
class FactRecordPayload:
    outcome: FactOutcome
    fact: FactType
    superseded: relay.GlobalID | None = strawberry.field(
        description="The fact this one replaced under its external key."
    )


@strawberry.type
class FactRecordError(Error):
    pass


@strawberry.type
class FactRecordItemResult:
    key: str = strawberry.field(description="The item's external key, or #<position>.")
    outcome: FactOutcome
    fact: FactType | None
    superseded: relay.GlobalID | None
    error: ItemError | None


@strawberry.type
class FactsRecordPayload:
    results: list[FactRecordItemResult]


@strawberry.type
class FactsRecordError(Error):
    pass


@strawberry.type
class FactCorrectPayload:
    fact: FactType = strawberry.field(description="The correction, now the current fact.")


@strawberry.type
class FactCorrectError(Error):
    pass


@strawberry.type
class PeriodPayload:
    period: PeriodType


@strawberry.type
class PeriodCreateError(Error):
    pass


@strawberry.type
class PeriodCloseError(Error):
    pass


@strawberry.type
class PeriodReopenError(Error):
    pass


@strawberry.type
class ScorecardsRecomputePayload:
    job: JobType = strawberry.field(description="The queued recomputation (follow it by id).")


@strawberry.type
class ScorecardsRecomputeError(Error):
    pass


@strawberry.type
class ScorecardAdjustPayload:
    scorecard: ScorecardType


@strawberry.type
class ScorecardAdjustError(Error):
    pass


IndicatorSetUpdateResult = Annotated[
    IndicatorSetUpdatePayload | IndicatorSetUpdateError,
    strawberry.union("IndicatorSetUpdateResult"),
]
FactRecordResult = Annotated[
    FactRecordPayload | FactRecordError, strawberry.union("FactRecordResult")
]
FactsRecordResult = Annotated[
    FactsRecordPayload | FactsRecordError, strawberry.union("FactsRecordResult")
]
FactCorrectResult = Annotated[
    FactCorrectPayload | FactCorrectError, strawberry.union("FactCorrectResult")
]
PeriodCreateResult = Annotated[
    PeriodPayload | PeriodCreateError, strawberry.union("PeriodCreateResult")
]
PeriodCloseResult = Annotated[
    PeriodPayload | PeriodCloseError, strawberry.union("PeriodCloseResult")
]
PeriodReopenResult = Annotated[
    PeriodPayload | PeriodReopenError, strawberry.union("PeriodReopenResult")
]
ScorecardsRecomputeResult = Annotated[
    ScorecardsRecomputePayload | ScorecardsRecomputeError,
    strawberry.union("ScorecardsRecomputeResult"),
]
ScorecardAdjustResult = Annotated[
    ScorecardAdjustPayload | ScorecardAdjustError, strawberry.union("ScorecardAdjustResult")
]


# --- helpers -----------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """A bound as given; one without a time zone is read as UTC, as facts are scored."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _object(value: Any, field_name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise invalid(field_name, "must be an object", "须为对象")


def _period_id(global_id: relay.GlobalID, field_name: str = "id") -> UUID:
    return require_node_id(global_id, "Period", "period", "考核周期", field=field_name)


def _fact_input(item: FactInputType) -> FactInput:
    """The domain's input; a ServiceError for what only the API can tell is wrong."""
    employee_id = None
    if item.employee_id is not None:
        employee_id = parse_node_id(item.employee_id, "Employee")
        if employee_id is None:
            raise not_found("employee", "员工", field="employeeId")
    return FactInput(
        kind=item.kind,
        occurred_at=item.occurred_at,
        value=item.value,
        employee_id=employee_id,
        employee_number=item.employee_number,
        denominator=item.denominator,
        source=item.source,
        external_key=item.external_key,
        attributes=_object(item.attributes, "attributes"),
    )


async def _require_tenant_reach(info: Info, operation: str) -> None:
    """Writing facts is tenant-wide: the matrix grants it with tenant reach only. Should a
    narrower reach ever be granted, refuse rather than let it write about anyone."""
    if not (await info.context.visibility(operation)).everyone:
        raise forbidden()


def _fact_result_key(item: FactInputType, index: int) -> str:
    return item.external_key or f"#{index + 1}"


# --- queries -----------------------------------------------------------------------------------


@strawberry.type
class IndicatorQueries:
    @root_field(description="The indicator set: a version, or the current one when omitted.")
    async def indicator_set(
        self, info: Info, version: int | None = None
    ) -> IndicatorSetType | None:
        tenant = info.context.tenant_id
        if version is None:
            return IndicatorSetType.from_versioned(await indicator_sets.current(tenant))
        try:
            found = await indicator_sets.version(tenant, version)
        except ServiceError:
            return None
        return IndicatorSetType.from_versioned(found)

    @root_field(description="Every version of the indicator set, the newest first.")
    async def indicator_set_history(self, info: Info) -> list[IndicatorSetType]:
        rows = await indicator_sets.history(info.context.tenant_id)
        return [IndicatorSetType.from_model(row) for row in rows]

    @root_field(description="Scoring periods, the latest first.")
    async def periods(self, info: Info) -> list[PeriodType]:
        rows = await period_service.all(info.context.tenant_id)
        return [PeriodType.from_model(row) for row in rows]

    @root_field(
        description="Facts about the people the caller may see, the latest first. "
        "`from` is inclusive, `before` exclusive; superseded facts only when asked for."
    )
    async def facts(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        employee_id: relay.GlobalID | None = None,
        kind: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        before: datetime | None = None,
        include_superseded: bool = False,
    ) -> relay.Connection[FactType]:
        context = info.context
        tenant = context.tenant_id
        employee_ids: list[UUID] | None = None
        if employee_id is not None:
            person = parse_node_id(employee_id, "Employee")
            if person is None:
                return to_connection(EMPTY_PAGE, FactType.from_model)
            employee_ids = [person]
        visibility = await context.visibility(FACTS_OPERATION)
        page = await paginated(
            lambda: indicator_repo.list_facts(
                tenant,
                first=first,
                after=after,
                employee_ids=employee_ids,
                kind=kind,
                occurred_from=_utc(from_),
                occurred_before=_utc(before),
                include_superseded=include_superseded,
                visible_unit_ids=visibility.unit_ids,
                visible_employee_ids=visibility.employee_ids,
            )
        )
        return to_connection(page, FactType.from_model)

    @root_field(description="Baselines of a period by indicator and level.")
    async def level_baselines(
        self,
        info: Info,
        period_id: relay.GlobalID,
        indicator: str | None = None,
        level: str | None = None,
    ) -> list[LevelBaselineType]:
        period = parse_node_id(period_id, "Period")
        if period is None:
            return []
        rows = await indicator_repo.level_baselines(
            info.context.tenant_id, period, indicator, level
        )
        return [LevelBaselineType.from_model(row) for row in rows]

    @root_field(
        description="Rules that moved targets in a period: every unit-wide one, and those of "
        "the people the caller may see."
    )
    async def target_adjustments(
        self, info: Info, period_id: relay.GlobalID, indicator: str | None = None
    ) -> list[TargetAdjustmentType]:
        context = info.context
        period = parse_node_id(period_id, "Period")
        if period is None:
            return []
        rows = await indicator_repo.adjustments_of_period(context.tenant_id, period, indicator)
        visibility = await context.visibility(ADJUSTMENTS_OPERATION)
        if not visibility.everyone:
            people = [UUID(str(r.employee_id)) for r in rows if r.employee_id is not None]
            found = await employee_loader(context).load_many(people)
            seen = {p.id for p in found if p is not None and visibility.allows(p)}
            rows = [r for r in rows if r.employee_id is None or r.employee_id in seen]
        return [TargetAdjustmentType.from_model(row) for row in rows]

    @root_field(
        description="A period's scorecards of the people the caller may see. orgUnitId takes "
        "the unit and everything below it, as people were placed when scored."
    )
    async def scorecards(
        self,
        info: Info,
        period_id: relay.GlobalID,
        first: int = PAGE_SIZE,
        after: str | None = None,
        employee_id: relay.GlobalID | None = None,
        org_unit_id: relay.GlobalID | None = None,
        level: str | None = None,
        order_by: ScorecardOrder = ScorecardOrder.TOTAL,
    ) -> relay.Connection[ScorecardType]:
        context = info.context
        tenant = context.tenant_id
        nothing = to_connection(EMPTY_PAGE, ScorecardType.from_model)
        period_uuid = parse_node_id(period_id, "Period")
        person = parse_node_id(employee_id, "Employee") if employee_id is not None else None
        if period_uuid is None or (employee_id is not None and person is None):
            return nothing
        unit_ids: list[UUID] | None = None
        if org_unit_id is not None:
            unit_uuid = parse_node_id(org_unit_id, "OrgUnit")
            unit = await org_repo.get_unit(tenant, unit_uuid) if unit_uuid is not None else None
            if unit is None:
                return nothing
            unit_ids = await org_repo.subtree_ids(tenant, [unit.path])
        period = await period_loader(context).load(period_uuid)
        if period is None:
            return nothing
        visibility = await context.visibility(SCORECARDS_OPERATION)
        page = await paginated(
            lambda: indicator_repo.list_scorecards(
                tenant,
                period_id=period_uuid,
                first=first,
                after=after,
                order=order_by.value,
                visible_unit_ids=visibility.unit_ids,
                visible_employee_ids=visibility.employee_ids,
                employee_id=person,
                unit_ids=unit_ids,
                level=level,
            )
        )
        return to_connection(page, ScorecardType.from_model)

    @root_field(description="One person's scorecard of a period; null when out of reach.")
    async def scorecard(
        self, info: Info, period_id: relay.GlobalID, employee_id: relay.GlobalID
    ) -> ScorecardType | None:
        context = info.context
        period = parse_node_id(period_id, "Period")
        person = parse_node_id(employee_id, "Employee")
        if period is None or person is None:
            return None
        if not await _reachable(context, person, SCORECARD_OPERATION):
            return None
        row = await indicator_repo.scorecard_of(context.tenant_id, period, person)
        return ScorecardType.from_model(row) if row is not None else None


# --- mutations ---------------------------------------------------------------------------------


@strawberry.type
class IndicatorMutations:
    @root_mutation(
        description="Save an edited indicator set as the next version; periods created from "
        "now on score with it."
    )
    async def update_indicator_set(
        self, info: Info, input: IndicatorSetUpdateInput
    ) -> IndicatorSetUpdateResult:
        tenant = info.context.tenant_id

        async def save() -> IndicatorSet:
            return await indicator_sets.save(
                tenant,
                base_version=input.base_version,
                definition=_object(input.definition, "definition"),
                note=input.note,
            )

        result = await attempt(save)
        if isinstance(result, ServiceError):
            return error_from(IndicatorSetUpdateError, result)
        return IndicatorSetUpdatePayload(indicator_set=IndicatorSetType.from_model(result))

    @root_mutation(description="Record one fact; idempotent under an external key.")
    async def record_fact(self, info: Info, input: FactInputType) -> FactRecordResult:
        tenant = info.context.tenant_id
        await _require_tenant_reach(info, "Mutation.recordFact")

        async def record() -> FactResult:
            return await fact_service.record(tenant, _fact_input(input))

        result = await attempt(record)
        if isinstance(result, ServiceError):
            return error_from(FactRecordError, result)
        assert result.fact is not None
        return FactRecordPayload(
            outcome=result.outcome,
            fact=FactType.from_model(result.fact),
            superseded=_fact_id(result.superseded),
        )

    @root_mutation(
        description="Record up to 1,000 facts; one result per item, in order. Valid items are "
        "kept even when others fail."
    )
    async def record_facts(self, info: Info, items: list[FactInputType]) -> FactsRecordResult:
        tenant = info.context.tenant_id
        await _require_tenant_reach(info, "Mutation.recordFacts")

        async def record() -> list[FactRecordItemResult]:
            prepared: list[FactInput | ServiceError] = []
            for item in items:
                try:
                    prepared.append(_fact_input(item))
                except ServiceError as exc:
                    prepared.append(exc)
            ready = [p for p in prepared if not isinstance(p, ServiceError)]
            done = iter(await fact_service.record_many(tenant, ready))
            results = []
            for index, (item, given) in enumerate(zip(items, prepared, strict=True)):
                key = _fact_result_key(item, index)
                if isinstance(given, ServiceError):
                    results.append(
                        FactRecordItemResult(
                            key=key,
                            outcome=FactOutcome.FAILED,
                            fact=None,
                            superseded=None,
                            error=item_error(given),
                        )
                    )
                    continue
                outcome = next(done)
                results.append(
                    FactRecordItemResult(
                        key=key,
                        outcome=outcome.outcome,
                        fact=FactType.from_model(outcome.fact) if outcome.fact else None,
                        superseded=_fact_id(outcome.superseded),
                        error=item_error(outcome.error) if outcome.error is not None else None,
                    )
                )
            return results

        result = await attempt(record)
        if isinstance(result, ServiceError):
            return error_from(FactsRecordError, result)
        return FactsRecordPayload(results=result)

    @root_mutation(
        description="Correct a current fact: the correction supersedes it, which stays on record."
    )
    async def correct_fact(self, info: Info, input: FactCorrectInput) -> FactCorrectResult:
        tenant = info.context.tenant_id
        await _require_tenant_reach(info, "Mutation.correctFact")

        async def correct() -> Fact:
            fact_id = parse_node_id(input.id, "Fact")
            if fact_id is None:
                raise fact_not_found()
            changes = FactCorrection(
                occurred_at=input.occurred_at,
                value=input.value,
                denominator=input.denominator,
                attributes=_object(input.attributes, "attributes")
                if input.attributes is not None
                else None,
            )
            return await fact_service.correct(tenant, fact_id, changes)

        result = await attempt(correct)
        if isinstance(result, ServiceError):
            return error_from(FactCorrectError, result)
        return FactCorrectPayload(fact=FactType.from_model(result))

    @root_mutation(description="Open a scoring period with the current indicator set.")
    async def create_period(self, info: Info, input: PeriodCreateInput) -> PeriodCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: period_service.create(
                tenant,
                code=input.code,
                kind=input.kind,
                starts_on=input.starts_on,
                ends_on=input.ends_on,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(PeriodCreateError, result)
        return PeriodPayload(period=PeriodType.from_model(result))

    @root_mutation(description="Score a period one last time and freeze it.")
    async def close_period(self, info: Info, id: relay.GlobalID) -> PeriodCloseResult:
        tenant = info.context.tenant_id

        result = await attempt(lambda: period_service.close(tenant, _period_id(id)))
        if isinstance(result, ServiceError):
            return error_from(PeriodCloseError, result)
        return PeriodPayload(period=PeriodType.from_model(result))

    @root_mutation(description="Reopen a closed period, saying why (audited).")
    async def reopen_period(
        self, info: Info, id: relay.GlobalID, reason: str
    ) -> PeriodReopenResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: period_service.reopen(tenant, _period_id(id), reason))
        if isinstance(result, ServiceError):
            return error_from(PeriodReopenError, result)
        return PeriodPayload(period=PeriodType.from_model(result))

    @root_mutation(
        description="Queue a recomputation of an open period's scorecards; a recomputation "
        "already queued is returned instead of a second one."
    )
    async def recompute_scorecards(
        self, info: Info, period_id: relay.GlobalID
    ) -> ScorecardsRecomputeResult:
        context = info.context
        tenant = context.tenant_id

        async def request() -> UUID:
            period = _period_id(period_id, "periodId")
            if await period_loader(context).load(period) is None:
                raise not_found("period", "考核周期", field="periodId")
            return await period_service.request_recompute(tenant, period)

        result = await attempt(request)
        if isinstance(result, ServiceError):
            return error_from(ScorecardsRecomputeError, result)
        job = await context.loaders.jobs.load(result)
        assert job is not None
        return ScorecardsRecomputePayload(job=JobType.from_model(job))

    @root_mutation(
        description="Adjust a scorecard's total within the pack's bounds, with a comment "
        "(audited); never one's own."
    )
    async def adjust_scorecard(
        self, info: Info, input: ScorecardAdjustInput
    ) -> ScorecardAdjustResult:
        context = info.context
        tenant = context.tenant_id

        async def adjust() -> Scorecard:
            scorecard_id = require_node_id(
                input.scorecard_id, "Scorecard", "scorecard", "记分卡", field="scorecardId"
            )
            if await _scorecard(context, scorecard_id, "Mutation.adjustScorecard") is None:
                raise scorecard_not_found()
            return await scorecard_adjustments.adjust(
                tenant, scorecard_id, input.points, input.comment
            )

        result = await attempt(adjust)
        if isinstance(result, ServiceError):
            return error_from(ScorecardAdjustError, result)
        return ScorecardAdjustPayload(scorecard=ScorecardType.from_model(result))


def _fact_id(fact_id: UUID | None) -> relay.GlobalID | None:
    return relay.GlobalID("Fact", str(fact_id)) if fact_id is not None else None
