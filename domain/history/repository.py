"""Every query of the history area: engagements, the skills used in them, and appraisals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.history.models import Appraisal, Engagement, EngagementSkill
from domain.skills.models import Skill
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateKeyError(Exception):
    """The external key is taken."""


# --- engagements ---------------------------------------------------------------------------


async def insert_engagement(tenant: TenantID, **values: Any) -> Engagement:
    require_tenant(tenant)
    try:
        return await Engagement.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def save_engagement(tenant: TenantID, engagement: Engagement, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await engagement.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def get_engagement(tenant: TenantID, engagement_id: UUID) -> Engagement | None:
    require_tenant(tenant)
    return await Engagement.get_or_none(id=engagement_id)


async def get_engagements_by_external_key(
    tenant: TenantID, keys: Sequence[str]
) -> list[Engagement]:
    require_tenant(tenant)
    return await Engagement.filter(external_key__in=list(keys))


async def engagement_key_taken(tenant: TenantID, key: str, excluding: UUID | None) -> bool:
    require_tenant(tenant)
    query = Engagement.filter(external_key=key)
    if excluding is not None:
        query = query.exclude(id=excluding)
    return await query.exists()


async def engagement_skill_ids(tenant: TenantID, engagement_id: UUID) -> list[UUID]:
    require_tenant(tenant)
    rows = await EngagementSkill.filter(engagement_id=engagement_id).values_list(
        "skill_id", flat=True
    )
    return [UUID(str(row)) for row in rows]


async def replace_engagement_skills(
    tenant: TenantID, engagement_id: UUID, skill_ids: Sequence[UUID]
) -> None:
    """Make ``skill_ids`` the engagement's skills: two statements whatever the change."""
    tx = require_tenant(tenant)
    ids = list(skill_ids)
    await tx.execute(
        "DELETE FROM engagement_skills "
        "WHERE tenant_id = $1 AND engagement_id = $2 AND NOT (skill_id = ANY($3::uuid[]))",
        tenant,
        engagement_id,
        ids,
    )
    if ids:
        await tx.execute(
            "INSERT INTO engagement_skills (id, tenant_id, engagement_id, skill_id) "
            "SELECT gen_random_uuid(), $1, $2, skill_id FROM unnest($3::uuid[]) AS skill_id "
            "ON CONFLICT (tenant_id, engagement_id, skill_id) DO NOTHING",
            tenant,
            engagement_id,
            ids,
        )


async def engagements_of(tenant: TenantID, employee_ids: Sequence[UUID]) -> list[Engagement]:
    """Active engagements of the employees, newest first per employee."""
    require_tenant(tenant)
    if not employee_ids:
        return []
    return await Engagement.filter(employee_id__in=list(employee_ids), archived_at=None).order_by(
        "employee_id", "-started_on", "-id"
    )


_SKILLS_OF_ENGAGEMENTS = """
    SELECT es.engagement_id AS engagement_id, s.*
    FROM engagement_skills es
    JOIN skills s ON s.id = es.skill_id AND s.tenant_id = es.tenant_id
    WHERE es.tenant_id = $1 AND es.engagement_id = ANY($2::uuid[]) AND s.archived_at IS NULL
    ORDER BY es.engagement_id, s.name_key, s.id
"""


async def skills_of_engagements(
    tenant: TenantID, engagement_ids: Sequence[UUID]
) -> list[tuple[UUID, Skill]]:
    """(engagement id, skill) for the engagements' active skills by name, one statement."""
    tx = require_tenant(tenant)
    if not engagement_ids:
        return []
    rows = await tx.fetch(_SKILLS_OF_ENGAGEMENTS, tenant, list(engagement_ids))
    found = []
    for row in rows:
        values = dict(row)
        engagement_id = values.pop("engagement_id")
        found.append((engagement_id, Skill._init_from_db(**values)))
    return found


async def list_engagements(
    tenant: TenantID, *, employee_id: UUID, first: int, after: str | None
) -> Page[Engagement]:
    require_tenant(tenant)
    query = Engagement.filter(employee_id=employee_id, archived_at=None)
    return await paginate(query, order_by=("-started_on", "-id"), first=first, after=after)


# --- appraisals ----------------------------------------------------------------------------


async def insert_appraisal(tenant: TenantID, **values: Any) -> Appraisal:
    require_tenant(tenant)
    try:
        return await Appraisal.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def save_appraisal(tenant: TenantID, appraisal: Appraisal, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await appraisal.save(update_fields=[*fields, "updated_at"])
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def get_appraisal(tenant: TenantID, appraisal_id: UUID) -> Appraisal | None:
    require_tenant(tenant)
    return await Appraisal.get_or_none(id=appraisal_id)


async def get_appraisals_by_external_key(tenant: TenantID, keys: Sequence[str]) -> list[Appraisal]:
    require_tenant(tenant)
    return await Appraisal.filter(external_key__in=list(keys))


async def appraisal_key_taken(tenant: TenantID, key: str, excluding: UUID | None) -> bool:
    require_tenant(tenant)
    query = Appraisal.filter(external_key=key)
    if excluding is not None:
        query = query.exclude(id=excluding)
    return await query.exists()


_LATEST_APPRAISALS = """
    SELECT DISTINCT ON (employee_id) *
    FROM appraisals
    WHERE tenant_id = $1 AND employee_id = ANY($2::uuid[]) AND archived_at IS NULL
    ORDER BY employee_id, period_end DESC, created_at DESC, id DESC
"""


async def latest_appraisals(tenant: TenantID, employee_ids: Sequence[UUID]) -> list[Appraisal]:
    """Each employee's active appraisal with the latest period end, in one statement."""
    tx = require_tenant(tenant)
    if not employee_ids:
        return []
    rows = await tx.fetch(_LATEST_APPRAISALS, tenant, list(employee_ids))
    return [Appraisal._init_from_db(**dict(row)) for row in rows]


async def list_appraisals(
    tenant: TenantID, *, employee_id: UUID, first: int, after: str | None
) -> Page[Appraisal]:
    require_tenant(tenant)
    query = Appraisal.filter(employee_id=employee_id, archived_at=None)
    return await paginate(query, order_by=("-period_end", "-id"), first=first, after=after)
