"""Work history: engagements (projects; classes and courses) and past appraisals."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class Engagement(TenantModel):
    """A stretch of work by one person: a project in R&D, a class or a course in a school.

    ``kind`` and the keys of ``outcomes`` come from the tenant's template pack.
    """

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    external_key = fields.CharField(max_length=128, null=True)
    kind = fields.CharField(max_length=63)
    name = fields.CharField(max_length=200)
    role = fields.CharField(max_length=120, null=True)
    started_on = fields.DateField()
    ended_on = fields.DateField(null=True)
    outcomes: dict[str, float] = fields.JSONField(default=dict)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "engagements"
        unique_together = (("tenant", "external_key"),)
        indexes = (
            Index(
                fields=("tenant_id", "employee_id", "started_on"), name="engagements_employee_idx"
            ),
        )


class EngagementSkill(TenantModel):
    """A skill used in an engagement."""

    engagement: fields.ForeignKeyRelation[Engagement] = fields.ForeignKeyField(
        "renshi.Engagement", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    engagement_id: Any
    skill: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Skill", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    skill_id: Any

    class Meta:
        table = "engagement_skills"
        unique_together = (("tenant", "engagement", "skill"),)
        indexes = (Index(fields=("tenant_id", "skill_id"), name="engagement_skills_skill_idx"),)


class AppraisalSource(StrEnum):
    ENTERED = "entered"
    IMPORTED = "imported"


class Appraisal(TenantModel):
    """A past evaluation result for one period."""

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    external_key = fields.CharField(max_length=128, null=True)
    period = fields.CharField(max_length=32)
    period_start = fields.DateField()
    period_end = fields.DateField()
    score = fields.DecimalField(max_digits=6, decimal_places=2, null=True)
    grade = fields.CharField(max_length=16, null=True)
    reviewer = fields.CharField(max_length=200, null=True)
    comments = fields.TextField(null=True)
    source = fields.CharEnumField(AppraisalSource, max_length=16, default=AppraisalSource.ENTERED)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "appraisals"
        unique_together = (("tenant", "external_key"),)
        indexes = (
            Index(
                fields=("tenant_id", "employee_id", "period_end"), name="appraisals_employee_idx"
            ),
        )
