"""Every query of the imports area: import rows, their chunks, mapping profiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from domain.imports.models import (
    ACTIVE_STATUSES,
    Import,
    ImportProfile,
    ImportStatus,
)
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant

SOURCE_PART = "source"


class DuplicateProfileError(Exception):
    pass


async def insert_import(tenant: TenantID, **values: Any) -> Import:
    require_tenant(tenant)
    return await Import.create(tenant_id=tenant, **values)


async def get_import(
    tenant: TenantID, import_id: UUID, *, for_update: bool = False
) -> Import | None:
    require_tenant(tenant)
    query = Import.filter(id=import_id)
    if for_update:
        query = query.select_for_update()
    return await query.first()


async def get_imports(tenant: TenantID, ids: Sequence[UUID]) -> list[Import]:
    require_tenant(tenant)
    return await Import.filter(id__in=list(ids))


async def list_imports(
    tenant: TenantID, *, first: int, after: str | None, status: ImportStatus | None
) -> Page[Import]:
    require_tenant(tenant)
    query = Import.all()
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, order_by=("created_at", "id"), first=first, after=after)


async def update_import(tenant: TenantID, import_id: UUID, **values: Any) -> None:
    require_tenant(tenant)
    await Import.filter(id=import_id).update(**values)


async def update_if_active(tenant: TenantID, import_id: UUID, run: int, **values: Any) -> bool:
    """Update the import's ``run`` while it is still going (not finished, not cancelled)."""
    require_tenant(tenant)
    updated = await Import.filter(id=import_id, run=run, status__in=list(ACTIVE_STATUSES)).update(
        **values
    )
    return updated == 1


async def delete_chunks(tenant: TenantID, import_id: UUID, part: str) -> None:
    tx = require_tenant(tenant)
    await tx.execute(
        "DELETE FROM import_chunks WHERE tenant_id = $1 AND import_id = $2 AND part = $3",
        tenant,
        import_id,
        part,
    )


async def insert_chunk(tenant: TenantID, import_id: UUID, part: str, seq: int, data: bytes) -> None:
    tx = require_tenant(tenant)
    await tx.execute(
        "INSERT INTO import_chunks (id, tenant_id, import_id, part, seq, data) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)",
        tenant,
        import_id,
        part,
        seq,
        data,
    )


async def get_chunk(tenant: TenantID, import_id: UUID, part: str, seq: int) -> bytes | None:
    tx = require_tenant(tenant)
    data: bytes | None = await tx.fetchval(
        "SELECT data FROM import_chunks WHERE tenant_id = $1 AND import_id = $2 "
        "AND part = $3 AND seq = $4",
        tenant,
        import_id,
        part,
        seq,
    )
    return data


async def chunk_count(tenant: TenantID, import_id: UUID, part: str) -> int:
    tx = require_tenant(tenant)
    count: int = await tx.fetchval(
        "SELECT count(*) FROM import_chunks WHERE tenant_id = $1 AND import_id = $2 AND part = $3",
        tenant,
        import_id,
        part,
    )
    return count


async def bump_run(tenant: TenantID, import_id: UUID) -> None:
    require_tenant(tenant)
    await Import.filter(id=import_id).update(run=F("run") + 1)


async def delete_import(tenant: TenantID, import_id: UUID) -> None:
    require_tenant(tenant)
    await Import.filter(id=import_id).delete()


# --- mapping profiles --------------------------------------------------------------------


async def list_profiles(tenant: TenantID, kind: str | None) -> list[ImportProfile]:
    require_tenant(tenant)
    query = ImportProfile.all()
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.order_by("kind", "name")


async def get_profile(tenant: TenantID, kind: str, name: str) -> ImportProfile | None:
    require_tenant(tenant)
    return await ImportProfile.filter(kind=kind, name=name).first()


async def get_profile_by_id(tenant: TenantID, profile_id: UUID) -> ImportProfile | None:
    require_tenant(tenant)
    return await ImportProfile.get_or_none(id=profile_id)


async def get_profiles(tenant: TenantID, ids: Sequence[UUID]) -> list[ImportProfile]:
    require_tenant(tenant)
    return await ImportProfile.filter(id__in=list(ids))


async def save_profile(
    tenant: TenantID,
    *,
    kind: str,
    name: str,
    source_system: str | None,
    mapping: dict[str, Any],
    created_by: UUID | None,
) -> ImportProfile:
    """Create the profile, or replace the mapping of the one with this kind and name."""
    require_tenant(tenant)
    existing = await get_profile(tenant, kind, name)
    if existing is not None:
        existing.mapping = mapping
        existing.source_system = source_system
        await existing.save(update_fields=["mapping", "source_system", "updated_at"])
        return existing
    try:
        return await ImportProfile.create(
            tenant_id=tenant,
            kind=kind,
            name=name,
            source_system=source_system,
            mapping=mapping,
            created_by=created_by,
        )
    except IntegrityError as exc:  # a concurrent save of the same name
        raise DuplicateProfileError(name) from exc


async def delete_profile(tenant: TenantID, profile_id: UUID) -> bool:
    require_tenant(tenant)
    return await ImportProfile.filter(id=profile_id).delete() == 1
