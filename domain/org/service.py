"""The organisation tree: creating, renaming, moving and archiving units, and their managers.

Unit kinds come from the tenant's template pack. Moving a unit rewrites its whole subtree's
paths in one statement; a unit cannot move under itself. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain.audit.service import audit, snapshot
from domain.changes import KEEP, Keep, Outcome, UpsertResult, check_batch_size, failed
from domain.org import repository as repo
from domain.org.models import OrgUnit
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.scope import TenantID, tenant_savepoint
from tenants.service import clean_name

AUDITED = ("name", "kind", "parent_id", "external_key", "archived_at")


def unit_not_found(field: str = "id") -> ServiceError:
    return not_found("org unit", "组织单元", field=field)


def external_key(value: str | None, field: str = "externalKey") -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 128:
        raise invalid(field, "must be 1-128 characters", "必须为 1-128 个字符")
    return cleaned


class OrgService:
    async def get(self, tenant: TenantID, unit_id: UUID) -> OrgUnit:
        unit = await repo.get_unit(tenant, unit_id)
        if unit is None:
            raise unit_not_found()
        return unit

    async def _kind(self, tenant: TenantID, kind: str) -> str:
        pack = await pack_of(tenant)
        if pack.org_unit_kind(kind) is None:
            known = [k.code for k in pack.org_unit_kinds]
            raise invalid(
                "kind", f"unknown unit kind {kind!r} (known: {known})", f"未知的单元类型 {kind!r}"
            )
        return kind

    async def _parent(
        self, tenant: TenantID, parent_id: UUID | None, field: str = "parentId"
    ) -> OrgUnit | None:
        if parent_id is None:
            return None
        parent = await repo.get_unit(tenant, parent_id)
        if parent is None or parent.archived_at is not None:
            raise unit_not_found(field)
        return parent

    async def create(
        self,
        tenant: TenantID,
        *,
        name: str,
        kind: str,
        parent_id: UUID | None = None,
        external_key_value: str | None = None,
    ) -> OrgUnit:
        cleaned = clean_name(name, "name")
        unit_kind = await self._kind(tenant, kind)
        parent = await self._parent(tenant, parent_id)
        key = external_key(external_key_value)
        try:
            unit = await repo.insert_unit(
                tenant,
                unit_id=uuid4(),
                name=cleaned,
                kind=unit_kind,
                parent=parent,
                external_key=key,
            )
        except repo.DuplicateKeyError as exc:
            raise _duplicate_key(key) from exc
        await audit.record(
            tenant,
            entity_type="org_unit",
            entity_id=unit.id,
            action="create",
            after=snapshot(unit, AUDITED),
        )
        return unit

    async def update(
        self,
        tenant: TenantID,
        unit_id: UUID,
        *,
        name: str | None = None,
        kind: str | None = None,
        parent_id: UUID | Keep | None = KEEP,
        external_key_value: str | Keep | None = KEEP,
    ) -> OrgUnit:
        unit = await self.get(tenant, unit_id)
        before = snapshot(unit, AUDITED)
        changed: list[str] = []
        if name is not None and (cleaned := clean_name(name, "name")) != unit.name:
            unit.name = cleaned
            changed.append("name")
        if kind is not None and kind != unit.kind:
            unit.kind = await self._kind(tenant, kind)
            changed.append("kind")
        if not isinstance(external_key_value, Keep):
            key = external_key(external_key_value)
            if key != unit.external_key:
                unit.external_key = key
                changed.append("external_key")
        if changed:
            try:
                await repo.save_unit(tenant, unit, changed)
            except repo.DuplicateKeyError as exc:
                raise _duplicate_key(unit.external_key) from exc
        if not isinstance(parent_id, Keep) and parent_id != unit.parent_id:
            await self._move(tenant, unit, parent_id)
        await audit.record(
            tenant,
            entity_type="org_unit",
            entity_id=unit.id,
            action="update",
            before=before,
            after=snapshot(unit, AUDITED),
        )
        return unit

    async def _move(self, tenant: TenantID, unit: OrgUnit, parent_id: UUID | None) -> None:
        parent = await self._parent(tenant, parent_id)
        if parent is not None and (parent.id == unit.id or parent.path.startswith(f"{unit.path}.")):
            raise ServiceError(
                ErrorCode.CONFLICT,
                "a unit cannot move under itself or its own subtree",
                "单元不能移动到自身或其下级之下",
                field="parentId",
            )
        unit.path = await repo.move_subtree(tenant, unit, parent)
        unit.parent_id = parent.id if parent is not None else None

    async def archive(self, tenant: TenantID, unit_id: UUID) -> OrgUnit:
        unit = await self.get(tenant, unit_id)
        if unit.archived_at is not None:
            return unit
        if await repo.has_active_children(tenant, unit.id):
            raise ServiceError(
                ErrorCode.CONFLICT,
                "archive or move the unit's sub-units first",
                "请先归档或移走其下级单元",
                field="id",
            )
        before = snapshot(unit, AUDITED)
        await repo.archive_unit(tenant, unit, datetime.now(UTC))
        await audit.record(
            tenant,
            entity_type="org_unit",
            entity_id=unit.id,
            action="archive",
            before=before,
            after=snapshot(unit, AUDITED),
        )
        return unit

    async def add_manager(self, tenant: TenantID, unit_id: UUID, employee_id: UUID) -> OrgUnit:
        unit = await self.get(tenant, unit_id)
        if await repo.add_manager(tenant, unit.id, employee_id):
            await audit.record(
                tenant,
                entity_type="org_unit",
                entity_id=unit.id,
                action="add_manager",
                after={"manager": employee_id},
            )
        return unit

    async def remove_manager(self, tenant: TenantID, unit_id: UUID, employee_id: UUID) -> OrgUnit:
        unit = await self.get(tenant, unit_id)
        if await repo.remove_manager(tenant, unit.id, employee_id):
            await audit.record(
                tenant,
                entity_type="org_unit",
                entity_id=unit.id,
                action="remove_manager",
                before={"manager": employee_id},
            )
        return unit

    async def upsert(self, tenant: TenantID, items: Sequence[OrgUnitItem]) -> list[UpsertResult]:
        """Create or update units by external key; parents first, wherever they are.

        Idempotent: the same batch again changes nothing and reports every item unchanged.
        An item whose parent cannot be found (or failed) fails alone.
        """
        check_batch_size(len(items))
        results: dict[int, UpsertResult] = {}
        keys = [item.external_key.strip() for item in items]
        repeated = {key for key in keys if keys.count(key) > 1}
        existing = {
            unit.external_key: unit
            for unit in await repo.get_units_by_external_key(
                tenant, [*keys, *(i.parent_external_key for i in items if i.parent_external_key)]
            )
        }
        pending = list(range(len(items)))
        while pending:
            progressed = False
            for index in list(pending):
                item = items[index]
                parent_key = item.parent_external_key
                if (
                    parent_key
                    and parent_key not in existing
                    and any(keys[i] == parent_key for i in pending if i != index)
                ):
                    continue  # its parent is created later in this batch
                pending.remove(index)
                progressed = True
                if keys[index] in repeated:
                    results[index] = failed(
                        keys[index],
                        invalid("externalKey", "repeated in this batch", "本批次中重复"),
                    )
                    continue
                results[index] = await self._upsert_one(tenant, item, existing)
            if not progressed:  # a cycle among the batch's own parent references
                for index in pending:
                    error = ServiceError(
                        ErrorCode.CONFLICT,
                        "parent references form a cycle",
                        "上级关系形成循环",
                        field="parentExternalKey",
                    )
                    results[index] = failed(keys[index], error)
                break
        return [results[i] for i in range(len(items))]

    async def _upsert_one(
        self, tenant: TenantID, item: OrgUnitItem, existing: dict[str | None, OrgUnit]
    ) -> UpsertResult:
        key = item.external_key.strip()
        try:
            # A savepoint per item: one item's failure must not abort the others' work.
            async with tenant_savepoint():
                return await self._write_one(tenant, item, key, existing)
        except ServiceError as exc:
            return failed(key, exc)

    async def _write_one(
        self, tenant: TenantID, item: OrgUnitItem, key: str, existing: dict[str | None, OrgUnit]
    ) -> UpsertResult:
        parent: OrgUnit | None = None
        if item.parent_external_key:
            parent = existing.get(item.parent_external_key)
            if parent is None or parent.archived_at is not None:
                raise unit_not_found("parentExternalKey")
        unit = existing.get(key)
        if unit is None:
            created = await self.create(
                tenant,
                name=item.name,
                kind=item.kind,
                parent_id=parent.id if parent else None,
                external_key_value=key,
            )
            existing[key] = created
            return UpsertResult(key, Outcome.CREATED, created)
        before = snapshot(unit, AUDITED)
        updated = await self.update(
            tenant,
            unit.id,
            name=item.name,
            kind=item.kind,
            parent_id=parent.id if parent else None,
        )
        existing[key] = updated
        outcome = Outcome.UPDATED if snapshot(updated, AUDITED) != before else Outcome.UNCHANGED
        return UpsertResult(key, outcome, updated)


@dataclass(frozen=True)
class OrgUnitItem:
    external_key: str
    name: str
    kind: str
    parent_external_key: str | None = None


def _duplicate_key(key: str | None) -> ServiceError:
    return ServiceError(
        ErrorCode.DUPLICATE,
        f"external key {key!r} is taken",
        f"外部编号 {key!r} 已被使用",
        field="externalKey",
    )


org_service = OrgService()
