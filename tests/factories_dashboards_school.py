"""Factories for the school and personal dashboards: a provisioned school, teachers with a
teaching style, a unit's manager, class tests as an import writes them, parent survey
responses at a given time, scorecards with chosen totals, and a tenant's minimum group size.

Each opens its own tenant transaction and goes through the domain services where the
product has one for the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from domain.feedback.models import FeedbackSource
from domain.feedback.service import feedback_service
from domain.indicators.models import Period, Scorecard, ScorecardStatus
from domain.indicators.repository import FactRow, copy_facts
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee
from domain.people.service import EmployeeChanges, employee_service
from domain.templates.onboarding import provision_pack
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tenants.service import tenant_service
from tests.factories import create_tenant, create_user, tenant_id


async def create_school(template: str = "school_teaching") -> Tenant:
    """A tenant seeded from its pack (indicator set, custom fields such as teaching_style)."""
    tenant = await create_tenant(template=template)
    async with tenant_transaction(tenant_id(tenant)):
        await provision_pack(tenant_id(tenant))
    return tenant


async def create_teacher(
    tenant: Tenant,
    *,
    style: str | None = None,
    level: str | None = "senior",
    org_unit: OrgUnit | None = None,
    name: str | None = None,
    user: User | None = None,
) -> Employee:
    """A teacher; ``style`` is their ``teaching_style`` custom field (None: not recorded)."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await employee_service.create(
            tid,
            EmployeeChanges(
                employee_number=f"T{uuid4().hex[:8]}",
                name=name or "Teacher",
                level=level,
                org_unit_id=org_unit.id if org_unit is not None else None,
                user_id=user.id if user is not None else None,
                custom_fields={"teaching_style": style} if style is not None else {},
            ),
        )


async def imported_class_tests(
    tenant: Tenant, person: Employee, rows: Sequence[Mapping[str, Any]]
) -> None:
    """``class_test`` facts written the way a bulk import writes them (COPY), which takes a
    pre-test mean of 100 that the one-by-one service refuses. Each row: ``post``, ``pre``,
    ``at`` and optionally ``excellent``."""
    tid = tenant_id(tenant)
    now = datetime.now(UTC)
    facts = []
    for row in rows:
        attributes: dict[str, Any] = {"pre": row["pre"]}
        if "excellent" in row:
            attributes["excellent"] = row["excellent"]
        facts.append(
            FactRow(
                id=uuid4(),
                employee_id=person.id,
                kind="class_test",
                occurred_at=row["at"],
                value=row["post"],
                denominator=None,
                source="import",
                external_key=f"class:{uuid4().hex}",
                attributes=attributes,
                recorded_at=now,
            )
        )
    async with tenant_transaction(tid):
        await copy_facts(tid, facts)


async def parent_responses(
    tenant: Tenant,
    teacher: Employee,
    ratings: Sequence[Mapping[str, int]],
    *,
    at: datetime,
    source: FeedbackSource = FeedbackSource.PARENT,
) -> None:
    """One anonymous response per item of ``ratings`` about ``teacher``, given at ``at``."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        for rated in ratings:
            await feedback_service.give(
                tid,
                subject_id=teacher.id,
                source=source,
                ratings=rated,
                comment=None,
                anonymous=True,
                author_user_id=None,
                given_at=at,
            )


async def create_scorecard(
    tenant: Tenant,
    period: Period,
    person: Employee,
    total: float | None,
    *,
    level: str | None = None,
) -> Scorecard:
    """A scorecard with a chosen total (None: insufficient data), at ``level`` (the person's
    by default), as a recomputation would have stored it."""
    tid = tenant_id(tenant)
    status = ScorecardStatus.SCORED if total is not None else ScorecardStatus.INSUFFICIENT_DATA
    async with tenant_transaction(tid):
        return await Scorecard.create(
            tenant_id=tid,
            period_id=period.id,
            employee_id=person.id,
            level=level or person.level,
            org_unit_id=person.org_unit_id,
            status=status,
            indicator_total=total,
            total=total,
            scored_weight=100.0 if total is not None else 0.0,
            indicator_set_version=period.indicator_set_version,
            computed_at=datetime.now(UTC),
        )


async def set_min_group_size(tenant: Tenant, size: int) -> None:
    """The tenant's ``dashboardMinGroupSize`` setting."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        row = await tenant_service.get(tid)
        await tenant_service.update(tid, settings={**row.settings, "dashboardMinGroupSize": size})


async def create_manager(
    tenant: Tenant, unit: OrgUnit, *, name: str = "Head", style: str | None = None
) -> tuple[User, Employee]:
    """A manager's account, linked to a senior teacher who manages ``unit``."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_teacher(tenant, style=style, org_unit=unit, name=name, user=user)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user, person
