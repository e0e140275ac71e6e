"""Every query of the audit log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.audit.models import AuditEntry
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


async def insert_entry(
    tenant: TenantID,
    *,
    actor: Any,
    entity_type: str,
    entity_id: UUID,
    action: str,
    changes: dict[str, Any],
) -> AuditEntry:
    require_tenant(tenant)
    return await AuditEntry.create(
        tenant_id=tenant,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        request_id=actor.request_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes,
    )


async def list_entries(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    entity_type: str | None,
    entity_id: UUID | None,
) -> Page[AuditEntry]:
    require_tenant(tenant)
    query = AuditEntry.all()
    if entity_type is not None:
        query = query.filter(entity_type=entity_type)
    if entity_id is not None:
        query = query.filter(entity_id=entity_id)
    # Newest first: a descending keyset on (at, id).
    return await paginate(query, order_by=("-at", "-id"), first=first, after=after)


async def get_entry(tenant: TenantID, entry_id: UUID) -> AuditEntry | None:
    require_tenant(tenant)
    return await AuditEntry.get_or_none(id=entry_id)
