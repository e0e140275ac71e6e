"""Factories for the records areas: org units, employees, skills, history, feedback.

Each opens its own tenant transaction and goes through the domain services, so rows are
created, validated and audited the way the product creates them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from domain.feedback.models import Feedback, FeedbackSource
from domain.feedback.service import feedback_service
from domain.history.models import Appraisal, AppraisalSource, Engagement
from domain.history.service import (
    AppraisalChanges,
    EngagementChanges,
    appraisal_service,
    engagement_service,
)
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee, EmployeeStatus
from domain.people.service import EmployeeChanges, employee_service
from domain.skills.models import EmployeeSkill, Skill, SkillSource
from domain.skills.service import skill_service
from domain.templates.registry import pack_for
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import tenant_id

START = date(2024, 1, 1)
END = date(2024, 12, 31)


def _token() -> str:
    return secrets.token_hex(4)


async def create_org_unit(
    tenant: Tenant,
    *,
    name: str | None = None,
    kind: str | None = None,
    parent: OrgUnit | None = None,
    external_key: str | None = None,
) -> OrgUnit:
    """A unit; ``kind`` defaults to the first unit kind of the tenant's pack."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await org_service.create(
            tid,
            name=name or f"Unit {_token()}",
            kind=kind or pack_for(tenant.template_code).org_unit_kinds[0].code,
            parent_id=parent.id if parent is not None else None,
            external_key_value=external_key,
        )


async def create_employee(
    tenant: Tenant,
    *,
    level: str | None = None,
    org_unit: OrgUnit | None = None,
    name: str | None = None,
    employee_number: str | None = None,
    user: User | None = None,
    status: EmployeeStatus = EmployeeStatus.ACTIVE,
    national_id: str | None = None,
) -> Employee:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await employee_service.create(
            tid,
            EmployeeChanges(
                employee_number=employee_number or f"E{_token()}",
                name=name or "Test Employee",
                level=level,
                org_unit_id=org_unit.id if org_unit is not None else None,
                user_id=user.id if user is not None else None,
                status=status,
                national_id=national_id,
            ),
        )


async def create_skill(
    tenant: Tenant,
    name: str,
    *,
    category: str | None = None,
    aliases: Sequence[str] = (),
    external_key: str | None = None,
) -> Skill:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await skill_service.create(
            tid, name=name, category=category, aliases=aliases, external_key=external_key
        )


async def set_skill(
    tenant: Tenant,
    employee: Employee,
    skill: Skill,
    level: int,
    *,
    source: SkillSource | str = SkillSource.SELF,
    evaluated_on: date | None = None,
) -> EmployeeSkill:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await skill_service.set_level(
            tid,
            employee.id,
            skill.id,
            level=level,
            source=SkillSource(source),
            evaluated_on=evaluated_on,
        )


async def create_engagement(
    tenant: Tenant,
    employee: Employee,
    *,
    kind: str | None = None,
    name: str | None = None,
    role: str | None = None,
    started_on: date = START,
    ended_on: date | None = None,
    outcomes: Mapping[str, float | int] | None = None,
    skills: Sequence[Skill] = (),
    external_key: str | None = None,
) -> Engagement:
    """An engagement; ``kind`` defaults to the first engagement kind of the tenant's pack."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await engagement_service.create(
            tid,
            EngagementChanges(
                employee_id=employee.id,
                kind=kind or pack_for(tenant.template_code).engagement_kinds[0].code,
                name=name or f"Engagement {_token()}",
                role=role,
                started_on=started_on,
                ended_on=ended_on,
                outcomes=outcomes or {},
                skill_ids=[skill.id for skill in skills],
                external_key=external_key,
            ),
        )


async def create_appraisal(
    tenant: Tenant,
    employee: Employee,
    *,
    period: str = "2024",
    period_start: date = START,
    period_end: date = END,
    score: Decimal | float | int | None = None,
    grade: str | None = None,
    reviewer: str | None = None,
    comments: str | None = None,
    source: AppraisalSource = AppraisalSource.ENTERED,
    external_key: str | None = None,
) -> Appraisal:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await appraisal_service.create(
            tid,
            AppraisalChanges(
                employee_id=employee.id,
                period=period,
                period_start=period_start,
                period_end=period_end,
                score=score,
                grade=grade,
                reviewer=reviewer,
                comments=comments,
                source=source,
                external_key=external_key,
            ),
        )


async def give_feedback(
    tenant: Tenant,
    subject: Employee,
    *,
    source: FeedbackSource = FeedbackSource.PEER,
    ratings: Mapping[str, int] | None = None,
    anonymous: bool = False,
    author: User | None = None,
    author_label: str | None = None,
    comment: str | None = None,
) -> Feedback:
    """Feedback on ``subject``; ratings default to 4 on the pack's first criterion."""
    criterion = pack_for(tenant.template_code).feedback_criteria[0].code
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await feedback_service.give(
            tid,
            subject_id=subject.id,
            source=source,
            ratings={criterion: 4} if ratings is None else ratings,
            comment=comment,
            anonymous=anonymous,
            author_user_id=author.id if author is not None else None,
            author_label=author_label,
        )
