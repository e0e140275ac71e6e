"""GraphQL of the school dashboard: ``schoolDashboard(filter:)`` and its panels.

The root field checks the filter and works out the audience once; each panel is a field that
runs its one statement only when the query selects it (``domain.dashboards.school``).
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from api.dashboards.common import DashboardFilterInput, DashboardGroupType, audience_of
from api.graphql.context import Info
from api.graphql.fields import field, root_field
from api.tenancy import LocalizedText
from domain.dashboards import school
from domain.dashboards.scope import Audience, DashboardFilter
from tenants.scope import TenantID

OPERATION = "Query.schoolDashboard"


@strawberry.type(
    name="StyleGain",
    description="One teaching style's classes in the period; every figure null when "
    "suppressed (fewer teachers than the minimum group size).",
)
class StyleGainType:
    style: str = strawberry.field(description="The style's code; not_recorded for the rest.")
    label_en: str
    label_zh: str
    classes: int | None = strawberry.field(description="Class tests in the period.")
    teachers: int | None = strawberry.field(description="Distinct teachers of those classes.")
    mean_gain: float | None = strawberry.field(
        description="Mean of the classes' Hake normalised gains (post - pre) / (100 - pre)."
    )
    gain_n: int | None = strawberry.field(
        description="Classes in the mean gain (those that started below 100)."
    )
    excellent_rate: float | None = strawberry.field(
        description="Mean share of a class's students at or above the excellence line."
    )
    excellent_n: int | None = strawberry.field(
        description="Classes that report an excellent-student share."
    )
    suppressed: bool

    @classmethod
    def of(cls, gain: school.StyleGain) -> StyleGainType:
        return cls(
            style=gain.style,
            label_en=gain.label_en,
            label_zh=gain.label_zh,
            classes=gain.classes,
            teachers=gain.teachers,
            mean_gain=gain.mean_gain,
            gain_n=gain.gain_n,
            excellent_rate=gain.excellent_rate,
            excellent_n=gain.excellent_n,
            suppressed=gain.suppressed,
        )


@strawberry.type(
    name="ScatterPoint",
    description="One teacher: no id or name for anyone but admins (an anonymous dot).",
)
class ScatterPointType:
    employee_id: relay.GlobalID | None
    name: str | None
    rating: float = strawberry.field(description="Mean appraisal score (0-100).")
    parent_satisfaction: float = strawberry.field(description="Mean parent rating (1-5).")
    responses: int = strawberry.field(description="Parent responses in the period.")

    @classmethod
    def of(cls, point: school.ScatterPoint) -> ScatterPointType:
        person = point.employee_id
        return cls(
            employee_id=relay.GlobalID("Employee", str(person)) if person is not None else None,
            name=point.name,
            rating=point.rating,
            parent_satisfaction=point.parent_satisfaction,
            responses=point.responses,
        )


@strawberry.type(
    name="Scatter",
    description="Teacher rating against parent satisfaction, with Spearman's rho; every "
    "figure null and no points when suppressed.",
)
class ScatterType:
    points: list[ScatterPointType]
    rho: float | None = strawberry.field(description="Spearman's rank correlation.")
    p_value: float | None = strawberry.field(description="Two-sided p-value of rho.")
    n: int | None = strawberry.field(description="Teachers plotted.")
    hidden_teachers: int | None = strawberry.field(
        description="Teachers left out for having fewer than 20 parent responses."
    )
    min_responses: int = strawberry.field(description="Parent responses a teacher needs.")
    suppressed: bool
    note: LocalizedText

    @classmethod
    def of(cls, scatter: school.Scatter) -> ScatterType:
        return cls(
            points=[ScatterPointType.of(point) for point in scatter.points],
            rho=scatter.rho,
            p_value=scatter.p_value,
            n=scatter.n,
            hidden_teachers=scatter.hidden_teachers,
            min_responses=school.MIN_PARENT_RESPONSES,
            suppressed=scatter.suppressed,
            note=LocalizedText.of(school.SCATTER_NOTE),
        )


@strawberry.type(
    name="SlaGroup",
    description="Homework graded within 24 h and questions answered within 1 h in one group; "
    "every figure null when suppressed.",
)
class SlaGroupType:
    group: DashboardGroupType
    homework_rate: float | None
    homework_n: int | None
    question_rate: float | None
    question_n: int | None
    people: int | None = strawberry.field(description="Distinct people behind the figures.")
    suppressed: bool

    @classmethod
    def of(cls, row: school.SlaGroup) -> SlaGroupType:
        return cls(
            group=DashboardGroupType.of(row.group),
            homework_rate=row.homework_rate,
            homework_n=row.homework_n,
            question_rate=row.question_rate,
            question_n=row.question_n,
            people=row.people,
            suppressed=row.suppressed,
        )


@strawberry.type(
    name="SchoolDashboard",
    description="Teaching outcomes and responsiveness over the people within reach and the "
    "filter; each panel is computed only when selected.",
)
class SchoolDashboardType:
    tenant: strawberry.Private[TenantID]
    flt: strawberry.Private[DashboardFilter]
    audience: strawberry.Private[Audience]

    @field(description="Mean normalised gain and excellent-student rate per teaching style.")
    async def gain_by_style(self) -> list[StyleGainType]:
        rows = await school.gain_by_style(self.tenant, self.flt, self.audience)
        return [StyleGainType.of(row) for row in rows]

    @field(description="Association, not causation, and how little test-based measures explain.")
    def note(self) -> LocalizedText:
        return LocalizedText.of(school.NOTE)

    @field(description="Teacher rating against parent satisfaction (Spearman's rho).")
    async def rating_vs_parents(self) -> ScatterType:
        return ScatterType.of(await school.rating_vs_parents(self.tenant, self.flt, self.audience))

    @field(description="Homework and question response within their limits, per group.")
    async def sla_trend(self) -> list[SlaGroupType]:
        rows = await school.sla_trend(self.tenant, self.flt, self.audience)
        return [SlaGroupType.of(row) for row in rows]


@strawberry.type
class SchoolDashboardQueries:
    @root_field(
        description="The school dashboard over the period, grouped and narrowed by the filter; "
        "groups of fewer people than the minimum are suppressed for everyone but admins."
    )
    async def school_dashboard(
        self,
        info: Info,
        filter_: Annotated[DashboardFilterInput, strawberry.argument(name="filter")],
    ) -> SchoolDashboardType:
        flt = filter_.to_filter()
        audience = await audience_of(info, OPERATION)
        return SchoolDashboardType(tenant=info.context.tenant_id, flt=flt, audience=audience)
