"""Every query of the skills area: the catalogue, people's current levels and their history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from domain.skills.models import EmployeeSkill, EmployeeSkillEvent, Skill, SkillSource
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateError(Exception):
    """A unique key is taken; ``args[0]`` names the field."""


def _duplicate_field(exc: IntegrityError) -> str:
    return "name" if "name_key" in str(exc) else "externalKey"


# --- the catalogue -------------------------------------------------------------------------


async def lock_catalogue(tenant: TenantID) -> None:
    """Serialise the tenant's catalogue writes until commit.

    Aliases live in an array, which no unique constraint covers: without this, two
    transactions could each check and then both take the same alias.
    """
    tx = require_tenant(tenant)
    await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"skills:{tenant}")


async def insert_skill(tenant: TenantID, **values: Any) -> Skill:
    require_tenant(tenant)
    try:
        return await Skill.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError(_duplicate_field(exc)) from exc


async def save_skill(tenant: TenantID, skill: Skill, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await skill.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateError(_duplicate_field(exc)) from exc


async def get_skill(tenant: TenantID, skill_id: UUID) -> Skill | None:
    require_tenant(tenant)
    return await Skill.get_or_none(id=skill_id)


async def get_skills(tenant: TenantID, ids: Sequence[UUID]) -> list[Skill]:
    require_tenant(tenant)
    return await Skill.filter(id__in=list(ids))


async def get_skills_by_external_key(tenant: TenantID, keys: Sequence[str]) -> list[Skill]:
    require_tenant(tenant)
    return await Skill.filter(external_key__in=list(keys))


async def clashes(
    tenant: TenantID, keys: Sequence[str], *, external_key: str | None, excluding: UUID | None
) -> list[Skill]:
    """Skills, archived ones too, named or aliased by one of ``keys`` or with ``external_key``."""
    require_tenant(tenant)
    condition = Q(name_key__in=list(keys)) | Q(aliases__overlap=list(keys))
    if external_key is not None:
        condition |= Q(external_key=external_key)
    query = Skill.filter(condition)
    if excluding is not None:
        query = query.exclude(id=excluding)
    return await query


async def find_by_keys(tenant: TenantID, keys: Sequence[str]) -> list[Skill]:
    """Active skills whose name key or one of whose aliases is in ``keys``."""
    require_tenant(tenant)
    return await Skill.filter(
        Q(name_key__in=list(keys)) | Q(aliases__overlap=list(keys)), archived_at=None
    )


async def list_skills(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    search_key: str | None = None,
    search: str | None = None,
    category: str | None = None,
    include_archived: bool = False,
) -> Page[Skill]:
    require_tenant(tenant)
    query = Skill.all()
    if not include_archived:
        query = query.filter(archived_at=None)
    if category is not None:
        query = query.filter(category=category)
    if search_key and search:
        query = query.filter(
            Q(name_key__icontains=search_key)
            | Q(name_zh__icontains=search)
            | Q(name_en__icontains=search)
            | Q(aliases__contains=[search_key])
        )
    return await paginate(query, order_by=("name_key", "id"), first=first, after=after)


# --- people's levels -------------------------------------------------------------------------


async def current_level(
    tenant: TenantID, employee_id: UUID, skill_id: UUID
) -> EmployeeSkill | None:
    require_tenant(tenant)
    return await EmployeeSkill.get_or_none(employee_id=employee_id, skill_id=skill_id)


_UPSERT_LEVEL = """
    INSERT INTO employee_skills
        (id, tenant_id, employee_id, skill_id, level, source, evaluated_on, updated_at)
    VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, now())
    ON CONFLICT (tenant_id, employee_id, skill_id) DO UPDATE
    SET level = EXCLUDED.level,
        source = EXCLUDED.source,
        evaluated_on = EXCLUDED.evaluated_on,
        updated_at = EXCLUDED.updated_at
    WHERE employee_skills.evaluated_on <= EXCLUDED.evaluated_on
    RETURNING *
"""


async def upsert_level(
    tenant: TenantID,
    *,
    employee_id: UUID,
    skill_id: UUID,
    level: int,
    source: SkillSource,
    evaluated_on: date,
) -> EmployeeSkill:
    """Write the current level and return the current row, which stays the one of a later
    evaluation if another transaction wrote one meanwhile."""
    tx = require_tenant(tenant)
    row = await tx.fetchrow(
        _UPSERT_LEVEL, tenant, employee_id, skill_id, level, source.value, evaluated_on
    )
    if row is None:
        return await EmployeeSkill.get(employee_id=employee_id, skill_id=skill_id)
    return EmployeeSkill._init_from_db(**dict(row))


async def delete_level(tenant: TenantID, employee_id: UUID, skill_id: UUID) -> EmployeeSkill | None:
    """Delete the current level and return it; None when there was none."""
    tx = require_tenant(tenant)
    row = await tx.fetchrow(
        "DELETE FROM employee_skills "
        "WHERE tenant_id = $1 AND employee_id = $2 AND skill_id = $3 RETURNING *",
        tenant,
        employee_id,
        skill_id,
    )
    return EmployeeSkill._init_from_db(**dict(row)) if row is not None else None


async def append_event(
    tenant: TenantID,
    *,
    employee_id: UUID,
    skill_id: UUID,
    level: int | None,
    source: SkillSource,
    evaluated_on: date,
    recorded_by: UUID | None,
) -> EmployeeSkillEvent:
    require_tenant(tenant)
    return await EmployeeSkillEvent.create(
        tenant_id=tenant,
        employee_id=employee_id,
        skill_id=skill_id,
        level=level,
        source=source,
        evaluated_on=evaluated_on,
        recorded_by=recorded_by,
    )


async def has_event(
    tenant: TenantID,
    *,
    employee_id: UUID,
    skill_id: UUID,
    level: int,
    source: SkillSource,
    evaluated_on: date,
) -> bool:
    require_tenant(tenant)
    return await EmployeeSkillEvent.filter(
        employee_id=employee_id,
        skill_id=skill_id,
        level=level,
        source=source,
        evaluated_on=evaluated_on,
    ).exists()


_CURRENT_SKILLS = """
    SELECT es.employee_id, es.skill_id, es.level, es.source, es.evaluated_on,
           s.id AS s_id, s.tenant_id AS s_tenant_id, s.external_key AS s_external_key,
           s.name AS s_name, s.name_key AS s_name_key, s.name_zh AS s_name_zh,
           s.name_en AS s_name_en, s.category AS s_category, s.aliases AS s_aliases,
           s.archived_at AS s_archived_at, s.created_at AS s_created_at,
           s.updated_at AS s_updated_at
    FROM employee_skills es
    JOIN skills s ON s.id = es.skill_id AND s.tenant_id = es.tenant_id
    WHERE es.tenant_id = $1 AND es.employee_id = ANY($2::uuid[]) AND s.archived_at IS NULL
    ORDER BY es.employee_id, es.level DESC, s.name_key, s.id
"""
_SKILL_COLUMNS = (
    "id",
    "tenant_id",
    "external_key",
    "name",
    "name_key",
    "name_zh",
    "name_en",
    "category",
    "aliases",
    "archived_at",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class HeldSkill:
    """A person's current level in a skill, as pages of people read it.

    A plain record rather than an ``EmployeeSkill``: a page of 50 people holds some 200 of
    them, and building ORM objects for those cost more than the query.
    """

    employee_id: UUID
    skill_id: UUID
    level: int
    source: SkillSource
    evaluated_on: date


async def current_skills(
    tenant: TenantID, employee_ids: Sequence[UUID]
) -> list[tuple[HeldSkill, Skill]]:
    """Current levels of the employees with their (active) skills, in one statement:
    by employee, then highest level first, then skill name."""
    tx = require_tenant(tenant)
    if not employee_ids:
        return []
    rows = await tx.fetch(_CURRENT_SKILLS, tenant, list(employee_ids))
    # A page of people shares a few dozen skills: each is built once, not once per holder.
    skills: dict[UUID, Skill] = {}
    found = []
    for row in rows:
        skill = skills.get(row["skill_id"])
        if skill is None:
            skill = Skill._init_from_db(**{c: row[f"s_{c}"] for c in _SKILL_COLUMNS})
            skills[skill.id] = skill
        held = HeldSkill(
            employee_id=row["employee_id"],
            skill_id=row["skill_id"],
            level=row["level"],
            source=SkillSource(row["source"]),
            evaluated_on=row["evaluated_on"],
        )
        found.append((held, skill))
    return found


async def events(
    tenant: TenantID, employee_id: UUID, skill_id: UUID | None
) -> list[EmployeeSkillEvent]:
    require_tenant(tenant)
    query = EmployeeSkillEvent.filter(employee_id=employee_id)
    if skill_id is not None:
        query = query.filter(skill_id=skill_id)
    return await query.order_by("evaluated_on", "recorded_at", "id")
