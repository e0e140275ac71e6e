"""The organisation: units in a tree, and who manages them."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class LtreeField(fields.Field[str]):
    """A PostgreSQL ``ltree`` label path (extension ``ltree``): ancestors' ids, root first."""

    SQL_TYPE = "LTREE"
    field_type = str


class OrgUnit(TenantModel):
    """A department or team (in schools: a grade or subject group).

    ``path`` holds the ids of the unit's ancestors and of itself (hex, root first), so a
    subtree is one ``path <@ ancestor_path`` condition, however deep the tree.
    """

    external_key = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=63)
    parent: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "renshi.OrgUnit", related_name=False, null=True, on_delete=fields.RESTRICT, db_index=False
    )
    parent_id: Any
    path = LtreeField()
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "org_units"
        unique_together = (("tenant", "external_key"),)
        indexes = (
            Index(fields=("tenant_id", "parent_id"), name="org_units_parent_idx"),
            Index(fields=("tenant_id", "name", "id"), name="org_units_name_idx"),
        )


class OrgUnitManager(TenantModel):
    """An employee who manages a unit, and so sees its whole subtree."""

    org_unit: fields.ForeignKeyRelation[OrgUnit] = fields.ForeignKeyField(
        "renshi.OrgUnit", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    org_unit_id: Any
    employee: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Employee", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    employee_id: Any
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "org_unit_managers"
        unique_together = (("tenant", "org_unit", "employee"),)
        indexes = (
            Index(fields=("tenant_id", "employee_id"), name="org_unit_managers_employee_idx"),
        )
