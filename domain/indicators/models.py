"""Tables of the indicator engine: indicator sets, facts, periods, baselines, scorecards.

Facts are append-only: a correction is a new row that supersedes the old one, which stays.
Everything a closed period's scorecards were computed from (baselines, targets, the rules
that moved them) is stored with them, so a closed period reads the same forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class IndicatorSet(TenantModel):
    """One version of a tenant's indicator set (indicators, weights, rules), never edited."""

    version = fields.IntField()
    definition: dict[str, Any] = fields.JSONField()
    note = fields.CharField(max_length=500, null=True)
    created_by = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "indicator_sets"
        unique_together = (("tenant", "version"),)


class Fact(TenantModel):
    """One measurement about one person: a delivered item's cycle days, an answer's hours."""

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    kind = fields.CharField(max_length=63)
    occurred_at = fields.DatetimeField()
    value = fields.FloatField()
    denominator = fields.FloatField(null=True)
    source = fields.CharField(max_length=63)
    external_key = fields.CharField(max_length=128, null=True)
    attributes: dict[str, Any] = fields.JSONField(default=dict)
    recorded_at = fields.DatetimeField()
    recorded_by = fields.UUIDField(null=True)
    superseded_at = fields.DatetimeField(null=True)
    superseded_by = fields.UUIDField(null=True)
    correction_of = fields.UUIDField(null=True)

    class Meta:
        table = "facts"
        indexes = (
            Index(
                fields=("tenant_id", "employee_id", "kind", "occurred_at"),
                name="facts_employee_idx",
            ),
        )


class FactChange(TenantModel):
    """When a tenant's facts last changed: summaries made from facts (capability profiles)
    compare the time they were made from with this one to know they are current."""

    changed_at = fields.DatetimeField()

    class Meta:
        table = "fact_changes"
        unique_together = (("tenant",),)


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Period(TenantModel):
    """A scoring period: a month, a quarter or a school term, from ``starts_on`` to ``ends_on``."""

    code = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=16)
    starts_on = fields.DateField()
    ends_on = fields.DateField()
    status = fields.CharEnumField(PeriodStatus, max_length=16, default=PeriodStatus.OPEN)
    indicator_set_version = fields.IntField()
    computed_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "periods"
        unique_together = (("tenant", "code"),)
        indexes = (Index(fields=("tenant_id", "starts_on"), name="periods_start_idx"),)


class LevelBaseline(TenantModel):
    """An indicator's baseline for one level in one period (the level's median of the
    previous four quarters); frozen with the period."""

    period: fields.ForeignKeyRelation[Period] = fields.ForeignKeyField(
        "renshi.Period", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    period_id: Any
    indicator = fields.CharField(max_length=63)
    level = fields.CharField(max_length=63)
    value = fields.FloatField(null=True)
    people = fields.IntField()
    facts = fields.IntField()
    low = fields.FloatField(null=True)
    high = fields.FloatField(null=True)
    window_start = fields.DateField()
    window_end = fields.DateField()

    class Meta:
        table = "level_baselines"
        unique_together = (("tenant", "period", "indicator", "level"),)


class TargetAdjustment(TenantModel):
    """A rule that moved a target, a limit or a weight in a period, with its inputs."""

    period: fields.ForeignKeyRelation[Period] = fields.ForeignKeyField(
        "renshi.Period", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    period_id: Any
    rule = fields.CharField(max_length=63)
    rule_kind = fields.CharField(max_length=32)
    indicator = fields.CharField(max_length=63)
    org_unit_id = fields.UUIDField(null=True)
    employee_id = fields.UUIDField(null=True)
    inputs: dict[str, Any] = fields.JSONField()
    effect: dict[str, Any] = fields.JSONField()
    reason_en = fields.TextField()
    reason_zh = fields.TextField()

    class Meta:
        table = "target_adjustments"
        indexes = (
            Index(fields=("tenant_id", "period_id", "indicator"), name="adjustments_period_idx"),
        )


class ScorecardStatus(StrEnum):
    SCORED = "scored"
    INSUFFICIENT_DATA = "insufficient_data"


class Scorecard(TenantModel):
    """One person's result in one period: the lines, their subtotals, total and percentile."""

    period: fields.ForeignKeyRelation[Period] = fields.ForeignKeyField(
        "renshi.Period", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    period_id: Any
    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    level = fields.CharField(max_length=63)
    org_unit_id = fields.UUIDField(null=True)
    status = fields.CharEnumField(ScorecardStatus, max_length=32)
    indicator_total = fields.FloatField(null=True)
    review_points = fields.FloatField(null=True)
    review_responses = fields.IntField(default=0)
    blended_total = fields.FloatField(null=True)
    adjustment = fields.FloatField(default=0)
    adjustment_comment = fields.TextField(null=True)
    adjusted_by = fields.UUIDField(null=True)
    adjusted_at = fields.DatetimeField(null=True)
    total = fields.FloatField(null=True)
    percentile = fields.FloatField(null=True)
    scored_weight = fields.FloatField()
    # Category subtotals, the blend and notes such as redistributed weight.
    details: dict[str, Any] = fields.JSONField(default=dict)
    indicator_set_version = fields.IntField()
    computed_at = fields.DatetimeField()
    # The lines (``ScorecardLine.as_json``), in the indicator set's order.
    lines: list[dict[str, Any]] = fields.JSONField(default=list)
    # A digest of what the last recomputation wrote (None once anything else changed the
    # card): the next one rewrites the card only when its digest differs.
    digest = fields.BinaryField(null=True)

    class Meta:
        table = "scorecards"
        unique_together = (("tenant", "period", "employee"),)
        indexes = (
            Index(fields=("tenant_id", "period_id", "level", "total"), name="scorecards_level_idx"),
            Index(fields=("tenant_id", "employee_id"), name="scorecards_employee_idx"),
        )


class LineStatus(StrEnum):
    SCORED = "scored"
    INSUFFICIENT_DATA = "insufficient_data"
    NO_DATA = "no_data"
    NO_BASELINE = "no_baseline"


@dataclass
class ScorecardLine:
    """One indicator on a scorecard: actual, n, baseline, target after rules, points, weight.

    Lines are kept in their scorecard's ``lines`` (JSON), in the indicator set's order: they
    are always read and rewritten with their card, and a recomputation writes one row per
    person instead of one per person and indicator.
    """

    indicator: str
    category: str
    group: str
    status: LineStatus
    n: int
    facts: int
    weight: float
    effective_weight: float
    actual: float | None = None
    raw_actual: float | None = None
    baseline: float | None = None
    baseline_kind: str | None = None
    baseline_n: int | None = None
    baseline_low: float | None = None
    baseline_high: float | None = None
    threshold: float | None = None
    target: float | None = None
    stretch: float | None = None
    limit: float | None = None
    achievement: float | None = None
    points: float | None = None
    watch: bool = False
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        # A shallow copy of the stored fields: ``asdict`` deep-copies, which costs seconds
        # over a tenant's lines.
        stored = {name: getattr(self, name) for name in _LINE_FIELDS}
        stored["status"] = self.status.value
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ScorecardLine:
        return cls(**{**stored, "status": LineStatus(stored["status"])})


_LINE_FIELDS = tuple(f.name for f in dataclass_fields(ScorecardLine))
