"""The audit log: who changed which record, when, and every field's before and after."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from tenants.orm import TenantModel


class AuditEntry(TenantModel):
    actor_kind = fields.CharField(max_length=16)  # user, client or system
    actor_id = fields.UUIDField(null=True)
    actor_label = fields.CharField(max_length=254, null=True)
    entity_type = fields.CharField(max_length=63)
    entity_id = fields.UUIDField()
    action = fields.CharField(max_length=32)
    # {"field": {"before": ..., "after": ...}}
    changes: dict[str, Any] = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        indexes = (
            Index(fields=("tenant_id", "entity_type", "entity_id", "at"), name="audit_entity_idx"),
            Index(fields=("tenant_id", "at", "id"), name="audit_at_idx"),
        )
