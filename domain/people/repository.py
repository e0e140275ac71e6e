"""Every query of the people area: employees, who may see whom, custom field definitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from domain.people.models import CustomFieldDefinition, Employee, EmployeeStatus
from domain.skills.models import EmployeeSkill
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateError(Exception):
    """A unique key is taken; ``args[0]`` names the field."""


def _duplicate_field(exc: IntegrityError) -> str:
    text = str(exc)
    if "user_id" in text:
        return "userId"
    if "national_id" in text:
        return "nationalId"
    return "employeeNumber"


@dataclass(frozen=True)
class Reach:
    """The caller's own employee record and the org units they manage (whole subtrees)."""

    employee_id: UUID | None
    unit_ids: frozenset[UUID]


_REACH_SQL = """
    SELECT e.id AS employee_id,
           ARRAY(
               SELECT DISTINCT s.id
               FROM org_unit_managers m
               JOIN org_units u ON u.id = m.org_unit_id AND u.archived_at IS NULL
               JOIN org_units s ON s.tenant_id = u.tenant_id AND s.path <@ u.path
               WHERE m.tenant_id = e.tenant_id AND m.employee_id = e.id
           ) AS unit_ids
    FROM employees e
    WHERE e.tenant_id = $1 AND e.user_id = $2 AND e.archived_at IS NULL
"""


async def reach_of_user(tenant: TenantID, user_id: UUID) -> Reach:
    """One query: who the user is on the records, and every unit under the ones they manage."""
    tx = require_tenant(tenant)
    row = await tx.fetchrow(_REACH_SQL, tenant, user_id)
    if row is None:
        return Reach(employee_id=None, unit_ids=frozenset())
    return Reach(employee_id=row["employee_id"], unit_ids=frozenset(row["unit_ids"]))


@dataclass(frozen=True)
class SkillRequirement:
    skill_id: UUID
    min_level: int


async def insert_employee(tenant: TenantID, **values: Any) -> Employee:
    require_tenant(tenant)
    try:
        return await Employee.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError(_duplicate_field(exc)) from exc


async def save_employee(tenant: TenantID, employee: Employee, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await employee.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateError(_duplicate_field(exc)) from exc


async def get_employee(tenant: TenantID, employee_id: UUID) -> Employee | None:
    require_tenant(tenant)
    return await Employee.get_or_none(id=employee_id)


async def get_employees(tenant: TenantID, ids: Sequence[UUID]) -> list[Employee]:
    require_tenant(tenant)
    return await Employee.filter(id__in=list(ids))


async def get_employees_by_number(tenant: TenantID, numbers: Sequence[str]) -> list[Employee]:
    require_tenant(tenant)
    return await Employee.filter(employee_number__in=list(numbers))


async def existing_employee_ids(tenant: TenantID, ids: Sequence[UUID]) -> list[UUID]:
    require_tenant(tenant)
    rows = await Employee.filter(id__in=list(ids)).values_list("id", flat=True)
    return [UUID(str(row)) for row in rows]


async def employee_ids_by_number(tenant: TenantID, numbers: Sequence[str]) -> dict[str, UUID]:
    require_tenant(tenant)
    rows = await Employee.filter(employee_number__in=list(numbers)).values_list(
        "employee_number", "id"
    )
    return {str(number): UUID(str(employee_id)) for number, employee_id in rows}


async def get_employee_by_user(tenant: TenantID, user_id: UUID) -> Employee | None:
    require_tenant(tenant)
    return await Employee.get_or_none(user_id=user_id, archived_at=None)


async def get_employees_by_users(tenant: TenantID, user_ids: Sequence[UUID]) -> list[Employee]:
    require_tenant(tenant)
    return await Employee.filter(user_id__in=list(user_ids))


async def find_by_national_id(tenant: TenantID, sealed_values: Sequence[bytes]) -> Employee | None:
    require_tenant(tenant)
    return await Employee.filter(national_id__in=list(sealed_values)).first()


async def list_employees(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    order_by: tuple[str, ...] = ("name", "id"),
    visible_unit_ids: frozenset[UUID] | None = None,
    visible_employee_ids: frozenset[UUID] = frozenset(),
    unit_ids: Sequence[UUID] | None = None,
    levels: Sequence[str] | None = None,
    statuses: Sequence[EmployeeStatus] | None = None,
    skills: Sequence[SkillRequirement] = (),
    search: str | None = None,
    include_archived: bool = False,
) -> Page[Employee]:
    """A page of employees; ``visible_*`` limit it to what the caller may see (None: all)."""
    require_tenant(tenant)
    query = Employee.all().select_related("org_unit")
    if visible_unit_ids is not None:
        query = query.filter(
            Q(org_unit_id__in=list(visible_unit_ids)) | Q(id__in=list(visible_employee_ids))
        )
    if not include_archived:
        query = query.filter(archived_at=None)
    if unit_ids is not None:
        query = query.filter(org_unit_id__in=list(unit_ids))
    if levels:
        query = query.filter(level__in=list(levels))
    if statuses:
        query = query.filter(status__in=list(statuses))
    for requirement in skills:
        holders = EmployeeSkill.filter(
            skill_id=requirement.skill_id, level__gte=requirement.min_level
        ).values("employee_id")
        query = query.filter(id__in=Subquery(holders))
    if search:
        query = query.filter(Q(name__icontains=search) | Q(employee_number__icontains=search))
    return await paginate(query, order_by=order_by, first=first, after=after)


# --- custom field definitions ----------------------------------------------------------------


async def custom_field_definitions(
    tenant: TenantID, entity: str, *, include_archived: bool = True
) -> list[CustomFieldDefinition]:
    require_tenant(tenant)
    query = CustomFieldDefinition.filter(entity=entity)
    if not include_archived:
        query = query.filter(archived_at=None)
    return await query.order_by("position", "key")


async def get_custom_field_definition(
    tenant: TenantID, definition_id: UUID
) -> CustomFieldDefinition | None:
    require_tenant(tenant)
    return await CustomFieldDefinition.get_or_none(id=definition_id)


async def insert_custom_field_definition(tenant: TenantID, **values: Any) -> CustomFieldDefinition:
    require_tenant(tenant)
    try:
        return await CustomFieldDefinition.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError("key") from exc


async def save_custom_field_definition(
    tenant: TenantID, definition: CustomFieldDefinition, fields: Sequence[str]
) -> None:
    require_tenant(tenant)
    await definition.save(update_fields=[*fields, "updated_at"])
