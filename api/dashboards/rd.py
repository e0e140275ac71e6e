"""GraphQL of the R&D dashboard: ``rdDashboard(filter:)`` and its panels.

The root field validates the filter and works out the audience once; each panel is a field
read only when the query selects it, from the caller's ``RdReading`` (the panels over the
period's work items share one statement, run by the first of them selected).
"""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import relay

from api.dashboards.common import DashboardFilterInput, DashboardGroupType, audience_of
from api.graphql.context import Info
from api.graphql.errors import bad_input
from api.graphql.fields import field, root_field
from api.tenancy import LocalizedText
from api.work import CAUSE_LABELS, NO_CAUSE_LABEL, DelayCause
from domain.dashboards import rd
from domain.dashboards.rd import RdReading
from domain.dashboards.scope import DashboardInputError

RD_OPERATION = "Query.rdDashboard"
SUPPRESSED = "Null, with every figure, when the group rests on fewer people than the minimum."


def _cause_label(cause: str) -> LocalizedText:
    if cause in CAUSE_LABELS:
        return LocalizedText.of(CAUSE_LABELS[DelayCause(cause)])
    return LocalizedText.of(NO_CAUSE_LABEL)


@strawberry.type(name="RateGroup", description="Hits out of n in one group.")
class RateGroupType:
    group: DashboardGroupType
    hits: int | None
    n: int | None
    rate: float | None = strawberry.field(description="hits / n; null when n is 0.")
    people: int | None = strawberry.field(description="Distinct people in scope behind it.")
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, row: rd.RateGroup) -> RateGroupType:
        return cls(
            group=DashboardGroupType.of(row.group), hits=row.hits, n=row.n, rate=row.rate,
            people=row.people, suppressed=row.suppressed,
        )  # fmt: skip


@strawberry.type(name="CauseCount", description="Late deliveries with one delay cause.")
class CauseCountType:
    cause: str = strawberry.field(
        description="rd, sales_overpromise, customer_change, external, or unknown (none "
        "recorded yet)."
    )
    label_en: str
    label_zh: str
    count: int


@strawberry.type(name="CauseGroup", description="One group's late deliveries by delay cause.")
class CauseGroupType:
    group: DashboardGroupType
    late: int | None
    causes: list[CauseCountType] | None = strawberry.field(
        description="Every cause, in the same order in every group, zeros included."
    )
    people: int | None
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, row: rd.CauseGroup) -> CauseGroupType:
        causes = None
        if row.causes is not None:
            causes = []
            for count in row.causes:
                label = _cause_label(count.cause)
                causes.append(
                    CauseCountType(
                        cause=count.cause, label_en=label.en, label_zh=label.zh, count=count.count
                    )
                )
        return cls(
            group=DashboardGroupType.of(row.group), late=row.late, causes=causes,
            people=row.people, suppressed=row.suppressed,
        )  # fmt: skip


@strawberry.type(name="PChartPoint", description="Complaints per delivered requirement in a group.")
class PChartPointType:
    group: DashboardGroupType
    complaints: int | None
    delivered: int | None
    rate: float | None = strawberry.field(description="complaints / delivered; null without any.")
    lower: float | None = strawberry.field(description="The lower control limit, at least 0.")
    upper: float | None = strawberry.field(description="The upper control limit, at most 1.")
    signals: list[str] = strawberry.field(
        description="Western Electric signals completed at this point, as <rule>:<above|below> "
        "(beyond_3_sigma, two_of_three_beyond_2_sigma, four_of_five_beyond_1_sigma, "
        "eight_in_a_row); only beyond_3_sigma when grouped by org unit or level."
    )
    people: int | None
    suppressed: bool = strawberry.field(description=SUPPRESSED)


@strawberry.type(
    name="PChart",
    description="R&D-caused complaints (by request date) per requirement delivered (by "
    "delivery date), with p-chart limits p̄ ± 3 sqrt(p̄(1 - p̄)/n) around the pooled rate of the "
    "points shown (suppressed points left out).",
)
class PChartType:
    center: float | None = strawberry.field(description="The pooled rate p̄; null without data.")
    points: list[PChartPointType]

    @classmethod
    def of(cls, chart: rd.PChart) -> PChartType:
        return cls(
            center=chart.center,
            points=[
                PChartPointType(
                    group=DashboardGroupType.of(p.group), complaints=p.complaints,
                    delivered=p.delivered, rate=p.rate, lower=p.lower, upper=p.upper,
                    signals=list(p.signals), people=p.people, suppressed=p.suppressed,
                )
                for p in chart.points
            ],
        )  # fmt: skip


@strawberry.type(name="QuantileGroup", description="Median and P80 of a group's values.")
class QuantileGroupType:
    group: DashboardGroupType
    n: int | None
    median: float | None
    p80: float | None
    people: int | None
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, row: rd.QuantileGroup) -> QuantileGroupType:
        return cls(
            group=DashboardGroupType.of(row.group), n=row.n, median=row.median, p80=row.p80,
            people=row.people, suppressed=row.suppressed,
        )  # fmt: skip


@strawberry.type(name="BeforeAfterSide", description="Cycle days on one side of the change.")
class BeforeAfterSideType:
    n: int | None
    median: float | None
    p80: float | None
    people: int | None

    @classmethod
    def of(cls, side: rd.BeforeAfterSide) -> BeforeAfterSideType:
        return cls(n=side.n, median=side.median, p80=side.p80, people=side.people)


@strawberry.type(
    name="BeforeAfter",
    description="Cycle days of requirements delivered in equal windows before and after a "
    "change, compared with the Mann-Whitney U test.",
)
class BeforeAfterType:
    change_on: date
    window_days: int
    before: BeforeAfterSideType
    after: BeforeAfterSideType
    u: float | None = strawberry.field(description="Mann-Whitney U of the before side.")
    p_value: float | None = strawberry.field(description="Two-sided p-value of U.")
    effect_size: float | None = strawberry.field(
        description="Rank-biserial correlation 1 - 2U/(n1 n2), -1 to 1: positive when cycles "
        "after the change tend to be longer."
    )
    suppressed: bool = strawberry.field(
        description="Every figure null: a side rests on fewer people than the minimum."
    )
    note: LocalizedText

    @classmethod
    def of(cls, result: rd.BeforeAfter) -> BeforeAfterType:
        return cls(
            change_on=result.change_on, window_days=result.window_days,
            before=BeforeAfterSideType.of(result.before),
            after=BeforeAfterSideType.of(result.after), u=result.u, p_value=result.p_value,
            effect_size=result.effect_size, suppressed=result.suppressed,
            note=LocalizedText(en=result.note.en, zh=result.note.zh),
        )  # fmt: skip


@strawberry.type(name="DistributionGroup", description="Five-number summary and mean of a group.")
class DistributionGroupType:
    group: DashboardGroupType
    n: int | None
    min: float | None
    q1: float | None
    median: float | None
    q3: float | None
    max: float | None
    mean: float | None
    people: int | None
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, row: rd.DistributionGroup) -> DistributionGroupType:
        return cls(
            group=DashboardGroupType.of(row.group), n=row.n, min=row.min, q1=row.q1,
            median=row.median, q3=row.q3, max=row.max, mean=row.mean, people=row.people,
            suppressed=row.suppressed,
        )  # fmt: skip


@strawberry.type(name="HeatCell", description="People of one level holding one skill.")
class HeatCellType:
    skill_id: relay.GlobalID
    skill_name_en: str
    skill_name_zh: str
    level: DashboardGroupType
    head_count: int | None
    mean_level: float | None = strawberry.field(description="Mean skill level, 1-5.")
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, cell: rd.HeatCell) -> HeatCellType:
        return cls(
            skill_id=relay.GlobalID("Skill", str(cell.skill_id)),
            skill_name_en=cell.skill_name_en, skill_name_zh=cell.skill_name_zh,
            level=DashboardGroupType.of(cell.level), head_count=cell.head_count,
            mean_level=cell.mean_level, suppressed=cell.suppressed,
        )  # fmt: skip


@strawberry.type(name="Funnel", description="Requirements requested in the period, step by step.")
class FunnelType:
    requested: int | None
    answered_within_24h: int | None = strawberry.field(
        name="answeredWithin24h", description="Answered less than 24 hours after the request."
    )
    promised: int | None = strawberry.field(description="With a promised date.")
    delivered_on_time: int | None = strawberry.field(
        description="Delivered by the end of the promised day (UTC)."
    )
    people: int | None
    suppressed: bool = strawberry.field(description=SUPPRESSED)

    @classmethod
    def of(cls, row: rd.Funnel) -> FunnelType:
        return cls(
            requested=row.requested, answered_within_24h=row.answered_within_24h,
            promised=row.promised, delivered_on_time=row.delivered_on_time, people=row.people,
            suppressed=row.suppressed,
        )  # fmt: skip


@strawberry.type(
    name="RdDashboard",
    description="R&D delivery, quality and capability over the people you may see and the "
    "filter allows. Each panel is computed only when selected. Groups resting on fewer people "
    "than the tenant's minimum are listed with every figure null, except for admins. "
    "Association, not causation.",
)
class RdDashboardType:
    reading: strawberry.Private[RdReading]

    @field(
        description="Requirements with a promised date delivered in each group: hits are "
        "those delivered by the end of the promised day (UTC)."
    )
    async def on_time(self) -> list[RateGroupType]:
        rows = await self.reading.on_time()
        return [RateGroupType.of(row) for row in rows]

    @field(description="Late requirements delivered in each group, by delay cause.")
    async def late_by_cause(self) -> list[CauseGroupType]:
        rows = await self.reading.late_by_cause()
        return [CauseGroupType.of(row) for row in rows]

    @field(description="R&D-caused complaints per delivered requirement, as a p-chart.")
    async def complaints(self) -> PChartType:
        return PChartType.of(await self.reading.complaints())

    @field(
        description="Days from start to delivery of the requirements delivered in each "
        "group: median and P80."
    )
    async def cycle_time(self) -> list[QuantileGroupType]:
        rows = await self.reading.cycle_time()
        return [QuantileGroupType.of(row) for row in rows]

    @field(
        description="Bugs and incidents with a place found, by request date: hits are those "
        "found in production, n all of them."
    )
    async def escaped_defects(self) -> list[RateGroupType]:
        rows = await self.reading.escaped_defects()
        return [RateGroupType.of(row) for row in rows]

    @field(
        description="Cycle days of requirements delivered in the windowDays before changeOn "
        "against the windowDays from changeOn on. The filter's people, level, skill and "
        "customer apply; its period and grouping do not."
    )
    async def before_after(
        self, change_on: date, window_days: int = rd.DEFAULT_WINDOW_DAYS
    ) -> BeforeAfterType:
        try:
            result = await self.reading.before_after(change_on, window_days)
        except DashboardInputError as exc:
            raise bad_input(exc.field, str(exc)) from exc
        return BeforeAfterType.of(result)

    @field(
        description="Totals of the scorecards of periods ending within the period, per level "
        "the card was scored at (whatever the grouping); the customer does not apply."
    )
    async def scorecard_distribution(self) -> list[DistributionGroupType]:
        rows = await self.reading.scorecard_distribution()
        return [DistributionGroupType.of(row) for row in rows]

    @field(
        description="Skills by level of the people in scope still here: how many hold each "
        "skill and their mean level; the period and the customer do not apply."
    )
    async def capability_heatmap(self) -> list[HeatCellType]:
        cells = await self.reading.capability_heatmap()
        return [HeatCellType.of(cell) for cell in cells]

    @field(
        description="Requirements requested in the period (in scope through their assignees "
        "or the person who answered): answered within 24 h, promised, delivered on time."
    )
    async def funnel(self) -> FunnelType:
        return FunnelType.of(await self.reading.funnel())


@strawberry.type
class RdDashboardQueries:
    @root_field(
        description="The R&D dashboard for a period: on-time delivery, delay causes, "
        "complaints, cycle time, escaped defects, before/after, scorecards, capabilities and "
        "the request funnel. A manager sees the people of their subtree."
    )
    async def rd_dashboard(self, info: Info, filter: DashboardFilterInput) -> RdDashboardType:
        flt = filter.to_filter()
        audience = await audience_of(info, RD_OPERATION)
        return RdDashboardType(reading=RdReading(info.context.tenant_id, flt, audience))
