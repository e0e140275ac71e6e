"""People on the records: creating, changing, archiving and syncing employees, who may see
which of them, and the tenant's custom fields.

Levels come from the tenant's template pack. National ids are sealed with the tenant's PII
key (deterministic, so an exact match still finds them) and never leave this area in clear
text except through ``national_id_of``, which the API calls only for admin and HR. Every
change is audited, with the national id recorded as "changed" but never its value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from domain.audit.service import audit, snapshot
from domain.changes import (
    KEEP,
    Keep,
    Problems,
    UpsertResult,
    check_batch_size,
    failed,
    upsert_one,
)
from domain.org import repository as org_repo
from domain.org.service import external_key
from domain.people import repository as repo
from domain.people import validation as check
from domain.people.models import CustomFieldDefinition, CustomFieldType, Employee, EmployeeStatus
from domain.templates.service import pack_of
from tenants import repository as tenant_repo
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID
from tenants.service import clean_name, normalise_email

AUDITED = (
    "employee_number",
    "name",
    "email",
    "phone",
    "org_unit_id",
    "level",
    "title",
    "hire_date",
    "status",
    "user_id",
    "custom_fields",
    "national_id",
    "archived_at",
)
NATIONAL_ID_FIELD = "national_id"
ENTITY = "employee"


class Sealer(Protocol):
    """What the people area needs of the PII cipher."""

    async def seal(self, tenant: TenantID, field: str, value: str) -> bytes: ...

    async def open(self, tenant: TenantID, field: str, sealed: bytes) -> str: ...

    async def lookup_values(self, tenant: TenantID, field: str, value: str) -> list[bytes]: ...


def employee_not_found(field: str = "id") -> ServiceError:
    return not_found("employee", "员工", field=field)


@dataclass(frozen=True)
class Visibility:
    """Which employees a caller may see: all, or some units' people plus some individuals."""

    unit_ids: frozenset[UUID] | None  # None: every unit
    employee_ids: frozenset[UUID] = frozenset()

    @property
    def everyone(self) -> bool:
        return self.unit_ids is None

    def allows(self, employee: Employee) -> bool:
        if self.unit_ids is None:
            return True
        return employee.id in self.employee_ids or employee.org_unit_id in self.unit_ids


EVERYONE = Visibility(unit_ids=None)
NOBODY = Visibility(unit_ids=frozenset())


class Scope(StrEnum):
    TENANT = "tenant"
    SUBTREE = "subtree"
    SELF = "self"


async def visibility_for(tenant: TenantID, scope: Scope, user_id: UUID | None) -> Visibility:
    """What a caller with ``scope`` sees: a manager their units' subtrees and themselves."""
    if scope == Scope.TENANT:
        return EVERYONE
    if user_id is None:
        return NOBODY
    reach = await repo.reach_of_user(tenant, user_id)
    own = frozenset({reach.employee_id}) if reach.employee_id is not None else frozenset()
    if scope == Scope.SUBTREE:
        return Visibility(unit_ids=reach.unit_ids, employee_ids=own)
    return Visibility(unit_ids=frozenset(), employee_ids=own)


@dataclass
class EmployeeChanges:
    """What to set; a field left at ``KEEP`` is not touched, ``None`` clears it."""

    employee_number: str | Keep = KEEP
    name: str | Keep = KEEP
    email: str | Keep | None = KEEP
    phone: str | Keep | None = KEEP
    org_unit_id: UUID | Keep | None = KEEP
    level: str | Keep | None = KEEP
    title: str | Keep | None = KEEP
    hire_date: date | Keep | None = KEEP
    status: EmployeeStatus | Keep = KEEP
    user_id: UUID | Keep | None = KEEP
    custom_fields: Mapping[str, Any] | Keep = KEEP
    national_id: str | Keep | None = KEEP
    # ERP syncs name units by their external key rather than by id.
    org_unit_external_key: str | Keep | None = KEEP

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not isinstance(getattr(self, f.name), Keep)
        }


class EmployeeService:
    def __init__(self) -> None:
        self._sealer: Sealer | None = None

    def use_sealer(self, sealer: Sealer | None) -> None:
        self._sealer = sealer

    def _require_sealer(self) -> Sealer:
        if self._sealer is None:
            raise RuntimeError("no PII cipher configured for employee records")
        return self._sealer

    # --- reading ---------------------------------------------------------------------------

    async def get(
        self, tenant: TenantID, employee_id: UUID, visibility: Visibility = EVERYONE
    ) -> Employee:
        employee = await repo.get_employee(tenant, employee_id)
        if employee is None or not visibility.allows(employee):
            raise employee_not_found()
        return employee

    async def page(
        self,
        tenant: TenantID,
        visibility: Visibility,
        *,
        first: int,
        after: str | None,
        order_by: tuple[str, ...] = ("name", "id"),
        org_unit_id: UUID | None = None,
        levels: Sequence[str] | None = None,
        statuses: Sequence[EmployeeStatus] | None = None,
        skills: Sequence[repo.SkillRequirement] = (),
        search: str | None = None,
        include_archived: bool = False,
    ) -> Page[Employee]:
        unit_ids: list[UUID] | None = None
        if org_unit_id is not None:
            unit = await org_repo.get_unit(tenant, org_unit_id)
            unit_ids = await org_repo.subtree_ids(tenant, [unit.path]) if unit is not None else []
        return await repo.list_employees(
            tenant,
            first=first,
            after=after,
            order_by=order_by,
            visible_unit_ids=visibility.unit_ids,
            visible_employee_ids=visibility.employee_ids,
            unit_ids=unit_ids,
            levels=levels,
            statuses=statuses,
            skills=skills,
            search=search.strip() if search else None,
            include_archived=include_archived,
        )

    async def national_id_of(self, tenant: TenantID, employee: Employee) -> str | None:
        if employee.national_id is None:
            return None
        return await self._require_sealer().open(
            tenant, NATIONAL_ID_FIELD, bytes(employee.national_id)
        )

    async def find_by_national_id(self, tenant: TenantID, value: str) -> Employee | None:
        normal = check.national_id(value)
        sealed = await self._require_sealer().lookup_values(tenant, NATIONAL_ID_FIELD, normal)
        return await repo.find_by_national_id(tenant, sealed)

    async def of_user(self, tenant: TenantID, user_id: UUID) -> Employee | None:
        return await repo.get_employee_by_user(tenant, user_id)

    # --- writing ---------------------------------------------------------------------------

    async def create(self, tenant: TenantID, changes: EmployeeChanges) -> Employee:
        values = await self._values(tenant, changes.given(), current=None)
        try:
            employee = await repo.insert_employee(tenant, **values)
        except repo.DuplicateError as exc:
            raise _duplicate(str(exc), values) from exc
        await audit.record(
            tenant,
            entity_type=ENTITY,
            entity_id=employee.id,
            action="create",
            after=snapshot(employee, AUDITED),
        )
        return employee

    async def update(
        self, tenant: TenantID, employee_id: UUID, changes: EmployeeChanges
    ) -> Employee:
        employee = await self.get(tenant, employee_id)
        return await self._apply(tenant, employee, changes)

    async def _apply(
        self, tenant: TenantID, employee: Employee, changes: EmployeeChanges
    ) -> Employee:
        before = snapshot(employee, AUDITED)
        values = await self._values(tenant, changes.given(), current=employee)
        changed = [name for name, value in values.items() if getattr(employee, name) != value]
        for name in changed:
            setattr(employee, name, values[name])
        if changed:
            try:
                await repo.save_employee(tenant, employee, changed)
            except repo.DuplicateError as exc:
                raise _duplicate(str(exc), values) from exc
        await audit.record(
            tenant,
            entity_type=ENTITY,
            entity_id=employee.id,
            action="update",
            before=before,
            after=snapshot(employee, AUDITED),
        )
        return employee

    async def archive(self, tenant: TenantID, employee_id: UUID) -> Employee:
        employee = await self.get(tenant, employee_id)
        if employee.archived_at is None:
            before = snapshot(employee, AUDITED)
            employee.archived_at = datetime.now(UTC)
            await repo.save_employee(tenant, employee, ["archived_at"])
            await audit.record(
                tenant,
                entity_type=ENTITY,
                entity_id=employee.id,
                action="archive",
                before=before,
                after=snapshot(employee, AUDITED),
            )
        return employee

    async def upsert(
        self, tenant: TenantID, items: Sequence[EmployeeChanges]
    ) -> list[UpsertResult]:
        """Create or update employees by employee number (the ERP's key). Idempotent."""
        check_batch_size(len(items))
        numbers: list[str] = []
        for item in items:
            try:
                numbers.append(check.employee_number(str(item.employee_number)))
            except ServiceError:
                numbers.append(str(item.employee_number))
        repeated = {n for n in numbers if numbers.count(n) > 1}
        existing = {
            e.employee_number: e for e in await repo.get_employees_by_number(tenant, numbers)
        }
        results = []
        for number, item in zip(numbers, items, strict=True):
            if number in repeated:
                error = invalid("employeeNumber", "repeated in this batch", "本批次中重复")
                results.append(failed(number, error))
                continue
            results.append(
                await upsert_one(
                    number,
                    existing.get(number),
                    functools.partial(self.create, tenant, item),
                    functools.partial(self._update_with, tenant, item),
                )
            )
        return results

    async def _update_with(
        self, tenant: TenantID, changes: EmployeeChanges, current: Employee
    ) -> tuple[Employee, bool]:
        before = snapshot(current, AUDITED)
        updated = await self._apply(tenant, current, changes)
        return updated, snapshot(updated, AUDITED) != before

    async def _values(
        self, tenant: TenantID, given: dict[str, Any], current: Employee | None
    ) -> dict[str, Any]:
        """Checked, normal values of the given fields; every problem reported at once."""
        values: dict[str, Any] = {}
        problems = Problems()
        for required, camel in (("employee_number", "employeeNumber"), ("name", "name")):
            # Required on create; on update only when the caller tries to clear it.
            if given.get(required) is None and (current is None or required in given):
                problems.found.append(invalid(camel, "is required", "必填"))
        simple: dict[str, Callable[[Any], Any]] = {
            "employee_number": lambda v: check.employee_number(v),
            "name": lambda v: clean_name(v, "name"),
            "email": lambda v: normalise_email(v) if v else None,
            "phone": lambda v: check.phone(v) if v else None,
            "title": lambda v: _optional_text(v, "title"),
            "hire_date": lambda v: v,
            "status": lambda v: v,
        }
        for name, normal in simple.items():
            if name in given and not (name in ("employee_number", "name") and given[name] is None):
                values[name] = problems.take(functools.partial(normal, given[name]))
        if "level" in given:
            values["level"] = await problems.take_async(self._level(tenant, given["level"]))
        if "org_unit_id" in given or "org_unit_external_key" in given:
            values["org_unit_id"] = await problems.take_async(self._org_unit(tenant, given))
        if "user_id" in given:
            values["user_id"] = await problems.take_async(self._user(tenant, given["user_id"]))
        if "national_id" in given:
            values["national_id"] = await problems.take_async(
                self._national_id(tenant, given["national_id"], current)
            )
        if "custom_fields" in given or current is None:
            values["custom_fields"] = await problems.take_async(
                self._custom(tenant, given.get("custom_fields", {}), current)
            )
        problems.raise_any()
        return values

    async def _level(self, tenant: TenantID, level: str | None) -> str | None:
        if level is None:
            return None
        pack = await pack_of(tenant)
        if pack.level(level) is None:
            known = [item.code for item in pack.levels]
            raise invalid(
                "level", f"unknown level {level!r} (known: {known})", f"未知职级 {level!r}"
            )
        return level

    async def _org_unit(self, tenant: TenantID, given: dict[str, Any]) -> UUID | None:
        if "org_unit_external_key" in given:
            key = given["org_unit_external_key"]
            if key is None:
                return None
            units = await org_repo.get_units_by_external_key(
                tenant, [external_key(key, "orgUnitExternalKey") or ""]
            )
            if not units or units[0].archived_at is not None:
                raise not_found("org unit", "组织单元", field="orgUnitExternalKey")
            return units[0].id
        unit_id = given["org_unit_id"]
        if unit_id is None:
            return None
        unit = await org_repo.get_unit(tenant, unit_id)
        if unit is None or unit.archived_at is not None:
            raise not_found("org unit", "组织单元", field="orgUnitId")
        return unit.id

    async def _user(self, tenant: TenantID, user_id: UUID | None) -> UUID | None:
        if user_id is None:
            return None
        if await tenant_repo.get_user(tenant, user_id) is None:
            raise not_found("user", "用户", field="userId")
        return user_id

    async def _national_id(
        self, tenant: TenantID, value: str | None, current: Employee | None
    ) -> bytes | None:
        if value is None or value == "":
            return None
        normal = check.national_id(value)
        sealer = self._require_sealer()
        candidates = await sealer.lookup_values(tenant, NATIONAL_ID_FIELD, normal)
        # Unchanged when it matches under any key, even one rotated out since.
        if current is not None and current.national_id is not None:
            stored = bytes(current.national_id)
            if stored in candidates:
                return stored
        # The unique index only catches values sealed under the same key; after a rotation
        # the same number sealed under another key must be found by looking.
        holder = await repo.find_by_national_id(tenant, candidates)
        if holder is not None and (current is None or holder.id != current.id):
            raise ServiceError(
                ErrorCode.DUPLICATE,
                "another employee has this national id",
                "其他员工已使用该证件号",
                field="nationalId",
            )
        return await sealer.seal(tenant, NATIONAL_ID_FIELD, normal)

    async def _custom(
        self, tenant: TenantID, values: Mapping[str, Any] | None, current: Employee | None
    ) -> dict[str, Any]:
        definitions = await repo.custom_field_definitions(tenant, ENTITY)
        return check.custom_fields(
            definitions, values or {}, current=current.custom_fields if current else None
        )


def _optional_text(value: str | None, field_name: str) -> str | None:
    if value is None or not value.strip():
        return None
    return clean_name(value, field_name)


def _duplicate(field_name: str, values: Mapping[str, Any]) -> ServiceError:
    messages = {
        "employeeNumber": (
            f"employee number {values.get('employee_number')!r} is taken",
            "工号已被使用",
        ),
        "userId": ("that user is already linked to another employee", "该用户已关联其他员工"),
        "nationalId": ("another employee has this national id", "其他员工已使用该证件号"),
    }
    message, message_zh = messages.get(field_name, messages["employeeNumber"])
    return ServiceError(ErrorCode.DUPLICATE, message, message_zh, field=field_name)


# --- custom field definitions -----------------------------------------------------------------

_OPTION = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


@dataclass(frozen=True)
class EnumOption:
    value: str
    zh: str
    en: str


@dataclass
class CustomFieldChanges:
    label_zh: str | Keep = KEEP
    label_en: str | Keep = KEEP
    required: bool | Keep = KEEP
    options: Sequence[EnumOption] | Keep = KEEP
    position: int | Keep = KEEP


def _options(kind: CustomFieldType, options: Sequence[EnumOption]) -> list[dict[str, str]]:
    if kind != CustomFieldType.ENUM:
        if options:
            raise invalid("options", "only enum fields have options", "只有枚举字段有选项")
        return []
    if not options:
        raise invalid(
            "options", "an enum field needs at least one option", "枚举字段至少需要一个选项"
        )
    values = [o.value for o in options]
    if len(set(values)) != len(values):
        raise invalid("options", "option values must be unique", "选项值不能重复")
    for option in options:
        if not _OPTION.match(option.value):
            raise invalid(
                "options",
                f"option value {option.value!r}: use letters, digits, '_', '.', '-'",
                "选项值只能包含字母、数字和 _ . -",
            )
    return [
        {"value": o.value, "zh": clean_name(o.zh, "options"), "en": clean_name(o.en, "options")}
        for o in options
    ]


class CustomFieldService:
    async def definitions(
        self, tenant: TenantID, entity: str = ENTITY
    ) -> list[CustomFieldDefinition]:
        return await repo.custom_field_definitions(tenant, entity)

    async def create(
        self,
        tenant: TenantID,
        *,
        key: str,
        label_zh: str,
        label_en: str,
        kind: CustomFieldType,
        required: bool = False,
        options: Sequence[EnumOption] = (),
        position: int = 0,
        entity: str = ENTITY,
    ) -> CustomFieldDefinition:
        if not check.CUSTOM_FIELD_KEY.match(key):
            raise invalid(
                "key",
                "use a lower-case letter, then letters, digits or '_' (at most 63)",
                "键须以小写字母开头，仅含小写字母、数字或 _",
            )
        try:
            definition = await repo.insert_custom_field_definition(
                tenant,
                entity=entity,
                key=key,
                label_zh=clean_name(label_zh, "labelZh"),
                label_en=clean_name(label_en, "labelEn"),
                type=kind,
                required=required,
                options=_options(kind, options),
                position=position,
            )
        except repo.DuplicateError as exc:
            raise ServiceError(
                ErrorCode.DUPLICATE,
                f"a custom field {key!r} exists",
                "该自定义字段已存在",
                field="key",
            ) from exc
        await audit.record(
            tenant,
            entity_type="custom_field",
            entity_id=definition.id,
            action="create",
            after=_definition_snapshot(definition),
        )
        return definition

    async def update(
        self, tenant: TenantID, definition_id: UUID, changes: CustomFieldChanges
    ) -> CustomFieldDefinition:
        definition = await repo.get_custom_field_definition(tenant, definition_id)
        if definition is None:
            raise not_found("custom field", "自定义字段")
        before = _definition_snapshot(definition)
        changed = []
        if not isinstance(changes.label_zh, Keep):
            definition.label_zh = clean_name(changes.label_zh, "labelZh")
            changed.append("label_zh")
        if not isinstance(changes.label_en, Keep):
            definition.label_en = clean_name(changes.label_en, "labelEn")
            changed.append("label_en")
        if not isinstance(changes.required, Keep):
            definition.required = changes.required
            changed.append("required")
        if not isinstance(changes.options, Keep):
            definition.options = _options(definition.type, changes.options)
            changed.append("options")
        if not isinstance(changes.position, Keep):
            definition.position = changes.position
            changed.append("position")
        if changed:
            await repo.save_custom_field_definition(tenant, definition, changed)
        await audit.record(
            tenant,
            entity_type="custom_field",
            entity_id=definition.id,
            action="update",
            before=before,
            after=_definition_snapshot(definition),
        )
        return definition

    async def archive(self, tenant: TenantID, definition_id: UUID) -> CustomFieldDefinition:
        definition = await repo.get_custom_field_definition(tenant, definition_id)
        if definition is None:
            raise not_found("custom field", "自定义字段")
        if definition.archived_at is None:
            before = _definition_snapshot(definition)
            definition.archived_at = datetime.now(UTC)
            await repo.save_custom_field_definition(tenant, definition, ["archived_at"])
            await audit.record(
                tenant,
                entity_type="custom_field",
                entity_id=definition.id,
                action="archive",
                before=before,
                after=_definition_snapshot(definition),
            )
        return definition


def _definition_snapshot(definition: CustomFieldDefinition) -> dict[str, Any]:
    return snapshot(
        definition,
        ("key", "label_zh", "label_en", "type", "required", "options", "position", "archived_at"),
    )


employee_service = EmployeeService()
custom_field_service = CustomFieldService()
