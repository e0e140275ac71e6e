"""Skills: the tenant's catalogue, what each person has now, and every change over time."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.indexes import Index

from tenants.orm import TenantModel


class Skill(TenantModel):
    """A skill of the catalogue. ``name_key`` is the case-folded name, unique per tenant;
    aliases ("py" for Python) are stored case-folded too and resolve to the skill."""

    external_key = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=120)
    name_key = fields.CharField(max_length=120)
    name_zh = fields.CharField(max_length=120, null=True)
    name_en = fields.CharField(max_length=120, null=True)
    category = fields.CharField(max_length=120, null=True)
    aliases: list[str] = ArrayField("TEXT", default=list)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "skills"
        unique_together = (("tenant", "name_key"), ("tenant", "external_key"))


class SkillSource(StrEnum):
    SELF = "self"
    MANAGER = "manager"
    VERIFIED = "verified"
    DERIVED = "derived"


class EmployeeSkill(TenantModel):
    """A person's current level (1-5) in a skill; every change is also an event below."""

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "renshi.Skill", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    skill_id: Any
    level = fields.SmallIntField()
    source = fields.CharEnumField(SkillSource, max_length=16)
    evaluated_on = fields.DateField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "employee_skills"
        unique_together = (("tenant", "employee", "skill"),)
        indexes = (
            Index(fields=("tenant_id", "skill_id", "level"), name="employee_skills_skill_idx"),
        )


class EmployeeSkillEvent(TenantModel):
    """One change of a person's skill: set to a level, or removed (``level`` null)."""

    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "renshi.Skill", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    skill_id: Any
    level = fields.SmallIntField(null=True)
    source = fields.CharEnumField(SkillSource, max_length=16)
    evaluated_on = fields.DateField()
    recorded_at = fields.DatetimeField(auto_now_add=True)
    recorded_by = fields.UUIDField(null=True)

    class Meta:
        table = "employee_skill_events"
        indexes = (
            Index(
                fields=("tenant_id", "employee_id", "skill_id", "evaluated_on"),
                name="employee_skill_events_idx",
            ),
        )
