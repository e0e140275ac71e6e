"""Every query of the organisation area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from domain.org.models import OrgUnit, OrgUnitManager
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateKeyError(Exception):
    pass


def label(unit_id: UUID) -> str:
    """The ltree label of a unit: its id in hex (letters and digits only)."""
    return unit_id.hex


async def insert_unit(
    tenant: TenantID,
    *,
    unit_id: UUID,
    name: str,
    kind: str,
    parent: OrgUnit | None,
    external_key: str | None,
) -> OrgUnit:
    require_tenant(tenant)
    path = f"{parent.path}.{label(unit_id)}" if parent is not None else label(unit_id)
    try:
        return await OrgUnit.create(
            id=unit_id,
            tenant_id=tenant,
            name=name,
            kind=kind,
            parent_id=parent.id if parent is not None else None,
            path=path,
            external_key=external_key,
        )
    except IntegrityError as exc:
        raise DuplicateKeyError("external_key") from exc


async def get_unit(tenant: TenantID, unit_id: UUID) -> OrgUnit | None:
    require_tenant(tenant)
    return await OrgUnit.get_or_none(id=unit_id)


async def get_units(tenant: TenantID, ids: Sequence[UUID]) -> list[OrgUnit]:
    require_tenant(tenant)
    return await OrgUnit.filter(id__in=list(ids))


async def get_units_by_external_key(tenant: TenantID, keys: Sequence[str]) -> list[OrgUnit]:
    require_tenant(tenant)
    return await OrgUnit.filter(external_key__in=list(keys))


async def list_units(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    parent_ids: Sequence[UUID] | None = None,
    roots_only: bool = False,
    unit_ids: Sequence[UUID] | None = None,
    search: str | None = None,
    include_archived: bool = False,
) -> Page[OrgUnit]:
    require_tenant(tenant)
    query = OrgUnit.all()
    if not include_archived:
        query = query.filter(archived_at=None)
    if parent_ids is not None:
        query = query.filter(parent_id__in=list(parent_ids))
    if roots_only:
        query = query.filter(parent_id=None)
    if unit_ids is not None:
        query = query.filter(id__in=list(unit_ids))
    if search:
        query = query.filter(Q(name__icontains=search) | Q(external_key__icontains=search))
    return await paginate(query, order_by=("name", "id"), first=first, after=after)


async def children_of(tenant: TenantID, parent_ids: Sequence[UUID]) -> list[OrgUnit]:
    """Active units directly below any of ``parent_ids``, by name."""
    require_tenant(tenant)
    return await OrgUnit.filter(parent_id__in=list(parent_ids), archived_at=None).order_by(
        "name", "id"
    )


async def subtree_ids(tenant: TenantID, paths: Sequence[str]) -> list[UUID]:
    """Ids of the units at or below any of ``paths``."""
    tx = require_tenant(tenant)
    if not paths:
        return []
    rows = await tx.fetch(
        "SELECT id FROM org_units WHERE tenant_id = $1 AND path <@ $2::ltree[]",
        tenant,
        list(paths),
    )
    return [row["id"] for row in rows]


async def has_active_children(tenant: TenantID, unit_id: UUID) -> bool:
    require_tenant(tenant)
    return await OrgUnit.filter(parent_id=unit_id, archived_at=None).exists()


async def move_subtree(tenant: TenantID, unit: OrgUnit, new_parent: OrgUnit | None) -> str:
    """Re-parent ``unit``: every path under it is rewritten in one statement."""
    tx = require_tenant(tenant)
    new_path = f"{new_parent.path}.{label(unit.id)}" if new_parent is not None else label(unit.id)
    await tx.execute(
        """
        UPDATE org_units
        -- subpath() rejects an offset equal to the path's length, so the moved
        -- unit itself takes the new path directly.
        SET path = CASE WHEN path = $2::ltree THEN $3::ltree
                        ELSE $3::ltree || subpath(path, nlevel($2::ltree)) END,
            parent_id = CASE WHEN id = $4 THEN $5 ELSE parent_id END,
            updated_at = now()
        WHERE tenant_id = $1 AND path <@ $2::ltree
        """,
        tenant,
        unit.path,
        new_path,
        unit.id,
        new_parent.id if new_parent is not None else None,
    )
    return new_path


async def save_unit(tenant: TenantID, unit: OrgUnit, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await unit.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateKeyError("external_key") from exc


async def archive_unit(tenant: TenantID, unit: OrgUnit, at: datetime | None) -> None:
    require_tenant(tenant)
    unit.archived_at = at
    await unit.save(update_fields=["archived_at", "updated_at"])


# --- managers ------------------------------------------------------------------------------


async def add_manager(tenant: TenantID, unit_id: UUID, employee_id: UUID) -> bool:
    """True when added; False when the employee already manages the unit."""
    tx = require_tenant(tenant)
    status = await tx.execute(
        "INSERT INTO org_unit_managers (id, tenant_id, org_unit_id, employee_id, created_at) "
        "VALUES (gen_random_uuid(), $1, $2, $3, now()) "
        "ON CONFLICT (tenant_id, org_unit_id, employee_id) DO NOTHING",
        tenant,
        unit_id,
        employee_id,
    )
    return status.endswith(" 1")


async def remove_manager(tenant: TenantID, unit_id: UUID, employee_id: UUID) -> bool:
    require_tenant(tenant)
    deleted = await OrgUnitManager.filter(org_unit_id=unit_id, employee_id=employee_id).delete()
    return deleted > 0


async def managers_of(tenant: TenantID, unit_ids: Sequence[UUID]) -> list[OrgUnitManager]:
    require_tenant(tenant)
    return await OrgUnitManager.filter(org_unit_id__in=list(unit_ids)).order_by("created_at")


async def paths_managed_by(tenant: TenantID, employee_id: UUID) -> list[str]:
    """Paths of the (active) units the employee manages."""
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        "SELECT u.path::text AS path FROM org_unit_managers m "
        "JOIN org_units u ON u.id = m.org_unit_id "
        "WHERE m.tenant_id = $1 AND m.employee_id = $2 AND u.archived_at IS NULL",
        tenant,
        employee_id,
    )
    return [row["path"] for row in rows]
