"""People: employees (teachers, in schools) and the tenant's custom field definitions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class EmployeeStatus(StrEnum):
    ACTIVE = "active"
    ON_LEAVE = "on_leave"
    LEFT = "left"


class Employee(TenantModel):
    """A person on the tenant's records. ``employee_number`` is the external key of imports
    and ERP syncs; the national id is stored encrypted (deterministic, so it can be matched)."""

    employee_number = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=32, null=True)
    org_unit: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "renshi.OrgUnit", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=False
    )
    org_unit_id: Any
    level = fields.CharField(max_length=63, null=True)
    title = fields.CharField(max_length=200, null=True)
    hire_date = fields.DateField(null=True)
    status = fields.CharEnumField(EmployeeStatus, max_length=16, default=EmployeeStatus.ACTIVE)
    user: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "renshi.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=False
    )
    user_id: Any
    custom_fields: dict[str, Any] = fields.JSONField(default=dict)
    national_id = fields.BinaryField(null=True)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "employees"
        unique_together = (
            ("tenant", "employee_number"),
            ("tenant", "user"),
            ("tenant", "national_id"),
        )
        indexes = (
            Index(fields=("tenant_id", "org_unit_id"), name="employees_org_unit_idx"),
            Index(fields=("tenant_id", "name", "id"), name="employees_name_idx"),
            Index(fields=("tenant_id", "level"), name="employees_level_idx"),
        )


class CustomFieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    ENUM = "enum"
    BOOLEAN = "boolean"


class CustomFieldDefinition(TenantModel):
    """A field the tenant adds to a record type, validated on every write of that record."""

    entity = fields.CharField(max_length=32)
    key = fields.CharField(max_length=63)
    label_zh = fields.CharField(max_length=200)
    label_en = fields.CharField(max_length=200)
    type = fields.CharEnumField(CustomFieldType, max_length=16)
    required = fields.BooleanField(default=False)
    # enum options: [{"value": "...", "zh": "...", "en": "..."}]
    options: list[dict[str, str]] = fields.JSONField(default=list)
    position = fields.IntField(default=0)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "custom_field_definitions"
        unique_together = (("tenant", "entity", "key"),)
