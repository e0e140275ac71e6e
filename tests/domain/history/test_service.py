"""Work history: engagements checked against the tenant's pack, appraisals, their ERP syncs
and the batched readers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.audit.models import AuditEntry
from domain.changes import KEEP, Outcome
from domain.history.models import Appraisal, AppraisalSource, Engagement, EngagementSkill
from domain.history.service import (
    AppraisalChanges,
    EngagementChanges,
    appraisal_service,
    engagement_service,
)
from domain.people.models import Employee
from domain.people.service import EmployeeChanges, employee_service
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import TenantID, tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    create_skill,
)


def _problems(error: ServiceError) -> list[tuple[ErrorCode, str | None]]:
    return [(p.code, p.field) for p in error.details or [error]]


async def _audit(tenant: Tenant, entity_type: str, entity_id: UUID) -> list[AuditEntry]:
    async with tenant_transaction(tenant_id(tenant)):
        return await AuditEntry.filter(entity_type=entity_type, entity_id=entity_id).order_by(
            "at", "id"
        )


def _project(employee: Employee, **values: Any) -> EngagementChanges:
    fields: dict[str, Any] = {
        "employee_id": employee.id,
        "kind": "project",
        "name": "Billing revamp",
        "started_on": date(2024, 1, 1),
    }
    return EngagementChanges(**{**fields, **values})


async def _create_failing(tenant: Tenant, changes: EngagementChanges) -> ServiceError:
    async with tenant_transaction(tenant_id(tenant)):
        with pytest.raises(ServiceError) as caught:
            await engagement_service.create(tenant_id(tenant), changes)
    return caught.value


# --- engagements -----------------------------------------------------------------------------


async def test_an_engagement_records_outcomes_and_skills_and_is_audited() -> None:
    # given
    a = await create_tenant()
    person = await create_employee(a)
    python, sql = await create_skill(a, "Python"), await create_skill(a, "SQL")
    # when
    project = await create_engagement(
        a,
        person,
        kind="project",
        name="Billing revamp",
        role="Lead",
        ended_on=date(2024, 6, 30),
        outcomes={"cycle_days": 42.5, "defects_test": 3.0, "customer_rating": 4},
        skills=[sql, python, sql],
    )
    # then
    assert project.outcomes == {"cycle_days": 42.5, "defects_test": 3, "customer_rating": 4.0}
    assert isinstance(project.outcomes["defects_test"], int)
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        skills = await engagement_service.skills_of_engagements(tid, [project.id, uuid4()])
        assert [s.name for s in skills[project.id]] == ["Python", "SQL"]
        # when the skills are replaced as a set, and the end date cleared
        await engagement_service.update(
            tid, project.id, EngagementChanges(skill_ids=[python.id], ended_on=None)
        )
        skills = await engagement_service.skills_of_engagements(tid, [project.id])
        assert [s.name for s in skills[project.id]] == ["Python"]
        assert await EngagementSkill.all().count() == 1
        await engagement_service.archive(tid, project.id)
    entries = await _audit(a, "engagement", project.id)
    assert [e.action for e in entries] == ["create", "update", "archive"]
    assert entries[0].changes["skill_ids"]["after"] == sorted([str(python.id), str(sql.id)])
    assert entries[1].changes["skill_ids"]["after"] == [str(python.id)]
    assert entries[1].changes["ended_on"] == {"before": "2024-06-30", "after": None}


async def test_engagement_problems_are_reported_all_at_once() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    invalid = ErrorCode.INVALID
    # an unknown kind
    error = await _create_failing(a, _project(person, kind="class"))
    assert _problems(error) == [(invalid, "kind")]
    # an outcome the kind does not record
    error = await _create_failing(a, _project(person, outcomes={"class_size": 30}))
    assert _problems(error) == [(invalid, "outcomes.class_size")]
    # out of range, and not a whole number
    error = await _create_failing(a, _project(person, outcomes={"customer_rating": 5.5}))
    assert _problems(error) == [(invalid, "outcomes.customer_rating")]
    assert "at most 5" in error.message
    error = await _create_failing(a, _project(person, outcomes={"defects_test": 2.5}))
    assert _problems(error) == [(invalid, "outcomes.defects_test")]
    error = await _create_failing(a, _project(person, outcomes={"cycle_days": True}))
    assert _problems(error) == [(invalid, "outcomes.cycle_days")]
    # an end before the start
    error = await _create_failing(a, _project(person, ended_on=date(2023, 12, 31)))
    assert _problems(error) == [(invalid, "endedOn")]
    # several at once
    error = await _create_failing(
        a,
        _project(
            person,
            name=" ",
            ended_on=date(2023, 1, 1),
            outcomes={"defects_production": -1, "customer_rating": 0, "velocity": 3},
            skill_ids=[uuid4()],
        ),
    )
    assert _problems(error) == [
        (invalid, "name"),
        (invalid, "endedOn"),
        (invalid, "outcomes.defects_production"),
        (invalid, "outcomes.customer_rating"),
        (invalid, "outcomes.velocity"),
        (ErrorCode.NOT_FOUND, "skillIds"),
    ]
    assert error.message_zh
    # and what a new engagement requires
    error = await _create_failing(a, EngagementChanges())
    assert _problems(error) == [
        (invalid, "employeeId"),
        (invalid, "kind"),
        (invalid, "name"),
        (invalid, "startedOn"),
    ]
    async with tenant_transaction(tenant_id(a)):
        assert await Engagement.all().count() == 0


async def test_a_school_records_classes_with_test_means() -> None:
    school = await create_tenant(template="school_teaching")
    teacher = await create_employee(school, level="senior")
    taught = await create_engagement(
        school,
        teacher,
        kind="class",
        name="Grade 8 class 3, mathematics",
        outcomes={"class_size": 42, "pre_test_mean": 61.5, "post_test_mean": 78.25},
    )
    assert taught.outcomes == {"class_size": 42, "pre_test_mean": 61.5, "post_test_mean": 78.25}
    tid = tenant_id(school)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await engagement_service.update(
                tid, taught.id, EngagementChanges(outcomes={"post_test_mean": 101})
            )
        assert _problems(caught.value) == [(ErrorCode.INVALID, "outcomes.post_test_mean")]
        # a new kind checks the outcomes already recorded against it
        with pytest.raises(ServiceError) as caught:
            await engagement_service.update(tid, taught.id, EngagementChanges(kind="course"))
        assert [field for _, field in _problems(caught.value)] == [
            "outcomes.class_size",
            "outcomes.pre_test_mean",
            "outcomes.post_test_mean",
        ]
        course = await engagement_service.update(
            tid, taught.id, EngagementChanges(kind="course", outcomes={"lessons": 16})
        )
        assert (course.kind, course.outcomes) == ("course", {"lessons": 16})
        with pytest.raises(ServiceError) as caught:
            await engagement_service.update(tid, taught.id, EngagementChanges(kind="project"))
        assert _problems(caught.value) == [(ErrorCode.INVALID, "kind")]


async def test_another_tenants_employee_or_skill_cannot_be_used() -> None:
    a, b = await create_tenant(), await create_tenant()
    mine, theirs = await create_employee(a), await create_employee(b)
    their_skill = await create_skill(b, "Python")
    error = await _create_failing(a, _project(theirs))
    assert _problems(error) == [(ErrorCode.NOT_FOUND, "employeeId")]
    error = await _create_failing(a, _project(mine, skill_ids=[their_skill.id]))
    assert _problems(error) == [(ErrorCode.NOT_FOUND, "skillIds")]
    for tenant in (a, b):
        async with tenant_transaction(tenant_id(tenant)):
            assert await Engagement.all().count() == 0


async def test_an_external_key_names_one_engagement_per_tenant() -> None:
    a, b = await create_tenant(), await create_tenant()
    person = await create_employee(a)
    await create_engagement(a, person, external_key="P-1")
    await create_engagement(b, await create_employee(b), external_key="P-1")
    other = await create_engagement(a, person, external_key="P-2")
    error = await _create_failing(a, _project(person, external_key=" P-1 "))
    assert _problems(error) == [(ErrorCode.DUPLICATE, "externalKey")]
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await engagement_service.update(tid, other.id, EngagementChanges(external_key="P-1"))
        assert _problems(caught.value) == [(ErrorCode.DUPLICATE, "externalKey")]


async def test_the_engagement_sync_is_idempotent_and_items_fail_alone() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    python = await create_skill(a, "Python")
    tid = tenant_id(a)
    items = [
        _project(person, external_key="P-1", outcomes={"cycle_days": 30}, skill_ids=[python.id]),
        _project(person, external_key="P-2", name="Search", started_on=date(2024, 3, 1)),
        _project(person, external_key="P-3", kind="unknown"),
        _project(person, external_key=None),
    ]
    async with tenant_transaction(tid):
        first = await engagement_service.upsert(tid, items)
    async with tenant_transaction(tid):
        audited = await AuditEntry.filter(entity_type="engagement").count()
        second = await engagement_service.upsert(tid, items)
        assert await AuditEntry.filter(entity_type="engagement").count() == audited == 2
    outcomes = [Outcome.CREATED, Outcome.CREATED, Outcome.FAILED, Outcome.FAILED]
    assert [r.outcome for r in first] == outcomes
    assert [r.outcome for r in second] == [
        Outcome.UNCHANGED,
        Outcome.UNCHANGED,
        Outcome.FAILED,
        Outcome.FAILED,
    ]
    assert [r.error.field if r.error else None for r in second] == [
        None,
        None,
        "kind",
        "externalKey",
    ]
    async with tenant_transaction(tid):
        third = await engagement_service.upsert(
            tid,
            [
                _project(person, external_key="P-1", outcomes={"cycle_days": 30}, skill_ids=[]),
                _project(
                    person,
                    external_key="P-2",
                    name="Search",
                    started_on=date(2024, 3, 1),
                    role=KEEP,
                ),
            ],
        )
        assert [r.outcome for r in third] == [Outcome.UPDATED, Outcome.UNCHANGED]
        engagements = await engagement_service.engagements_of(tid, [person.id])
        assert [e.external_key for e in engagements[person.id]] == ["P-2", "P-1"]


async def test_engagements_are_read_newest_first_in_batches_and_pages() -> None:
    a, b = await create_tenant(), await create_tenant()
    first, second = await create_employee(a), await create_employee(a)
    starts = [date(2022, 5, 1), date(2024, 2, 1), date(2023, 7, 1), date(2023, 7, 1)]
    made = [await create_engagement(a, first, started_on=day) for day in starts]
    await create_engagement(a, second, started_on=date(2021, 1, 1))
    archived = await create_engagement(a, first, started_on=date(2025, 1, 1))
    await create_engagement(b, await create_employee(b))
    tid = tenant_id(a)
    async with tenant_transaction(tid) as tx:
        await engagement_service.archive(tid, archived.id)
        before = tx.statements
        found = await engagement_service.engagements_of(tid, [first.id, second.id, uuid4()])
        assert tx.statements - before == 1
        same_day = sorted((made[2].id, made[3].id), reverse=True)
        newest_first = [made[1].id, *same_day, made[0].id]
        assert [e.id for e in found[first.id]] == newest_first
        assert len(found[second.id]) == 1
        page = await engagement_service.page(tid, employee_id=first.id, first=2, after=None)
        assert [e.id for e in page.items] == newest_first[:2]
        assert page.has_next_page
        rest = await engagement_service.page(
            tid, employee_id=first.id, first=2, after=page.cursors[-1]
        )
        assert [e.id for e in rest.items] == newest_first[2:]
        assert not rest.has_next_page


# --- appraisals ------------------------------------------------------------------------------


async def test_appraisal_problems_are_reported_all_at_once() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await appraisal_service.create(
                tid,
                AppraisalChanges(
                    employee_id=person.id,
                    period="x" * 33,
                    period_start=date(2024, 12, 31),
                    period_end=date(2024, 1, 1),
                    score=100.5,
                    grade="G" * 17,
                ),
            )
        assert _problems(caught.value) == [
            (ErrorCode.INVALID, "period"),
            (ErrorCode.INVALID, "periodEnd"),
            (ErrorCode.INVALID, "score"),
            (ErrorCode.INVALID, "grade"),
        ]
        for score in (-1, Decimal("87.555"), float("nan"), "high"):
            with pytest.raises(ServiceError) as caught:
                await appraisal_service.create(
                    tid,
                    AppraisalChanges(
                        employee_id=person.id,
                        period="2024",
                        period_start=date(2024, 1, 1),
                        period_end=date(2024, 12, 31),
                        score=score,  # type: ignore[arg-type]
                    ),
                )
            assert _problems(caught.value) == [(ErrorCode.INVALID, "score")], score
        with pytest.raises(ServiceError) as caught:
            await appraisal_service.create(tid, AppraisalChanges(employee_id=uuid4()))
        assert _problems(caught.value) == [
            (ErrorCode.INVALID, "period"),
            (ErrorCode.INVALID, "periodStart"),
            (ErrorCode.INVALID, "periodEnd"),
            (ErrorCode.NOT_FOUND, "employeeId"),
        ]
        assert await Appraisal.all().count() == 0


async def test_an_appraisal_is_created_changed_archived_and_audited() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    appraisal = await create_appraisal(
        a, person, period=" 2024 H1 ", score=87.5, grade="A", reviewer="Review board"
    )
    assert (appraisal.period, appraisal.score, appraisal.source) == (
        "2024 H1",
        Decimal("87.50"),
        AppraisalSource.ENTERED,
    )
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        same = await appraisal_service.update(
            tid, appraisal.id, AppraisalChanges(score=Decimal("87.50"), grade="A")
        )
        assert same.score == Decimal("87.50")
        await appraisal_service.update(
            tid, appraisal.id, AppraisalChanges(score=None, grade=" ", comments=" Steady. \n")
        )
        with pytest.raises(ServiceError) as caught:
            await appraisal_service.update(
                tid, appraisal.id, AppraisalChanges(period_end=date(2023, 1, 1))
            )
        assert _problems(caught.value) == [(ErrorCode.INVALID, "periodEnd")]
        await appraisal_service.archive(tid, appraisal.id)
        assert await appraisal_service.latest_of(tid, [person.id]) == {}
    entries = await _audit(a, "appraisal", appraisal.id)
    assert [e.action for e in entries] == ["create", "update", "archive"]
    assert entries[1].changes == {
        "score": {"before": "87.50", "after": None},
        "grade": {"before": "A", "after": None},
        "comments": {"before": None, "after": "Steady."},
    }


async def test_latest_of_thirty_employees_is_one_statement() -> None:
    # given 30 employees with appraisals over three years (one archived), and another tenant's
    a, b = await create_tenant(), await create_tenant()
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        people = [await _employee(tid, i) for i in range(30)]
        for index, person in enumerate(people):
            for year in (2022, 2024, 2023)[: 1 + index % 3]:
                await appraisal_service.create(tid, _year(person, year))
        newest = await appraisal_service.create(tid, _year(people[2], 2025))
        await appraisal_service.archive(tid, newest.id)
    theirs = await create_employee(b)
    await create_appraisal(b, theirs)
    ids = [p.id for p in people]
    # when
    async with tenant_transaction(tid) as tx:
        before = tx.statements
        latest = await appraisal_service.latest_of(tid, [*ids, theirs.id])
        statements = tx.statements - before
    # then
    assert statements == 1
    assert set(latest) == set(ids)
    assert {i: latest[i].period for i in ids} == {
        person.id: ("2022", "2024", "2024")[index % 3] for index, person in enumerate(people)
    }
    assert latest[ids[0]].score == Decimal("70.00")


async def test_the_appraisal_sync_is_idempotent_and_pages_are_newest_first() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    tid = tenant_id(a)
    items = [
        AppraisalChanges(
            external_key=f"A-{year}",
            employee_id=person.id,
            period=str(year),
            period_start=date(year, 1, 1),
            period_end=date(year, 12, 31),
            score=Decimal("80.5") + year - 2020,
            source=AppraisalSource.IMPORTED,
        )
        for year in (2021, 2023, 2022)
    ]
    async with tenant_transaction(tid):
        first = await appraisal_service.upsert(tid, items)
    async with tenant_transaction(tid):
        second = await appraisal_service.upsert(tid, [*items, AppraisalChanges(period="no key")])
        page = await appraisal_service.page(tid, employee_id=person.id, first=2, after=None)
        rest = await appraisal_service.page(
            tid, employee_id=person.id, first=2, after=page.cursors[-1]
        )
        changed = await appraisal_service.upsert(
            tid, [AppraisalChanges(external_key="A-2021", grade="B")]
        )
    assert [r.outcome for r in first] == [Outcome.CREATED] * 3
    assert [r.outcome for r in second] == [Outcome.UNCHANGED] * 3 + [Outcome.FAILED]
    assert [a.period for a in page.items] == ["2023", "2022"]
    assert [a.period for a in rest.items] == ["2021"]
    assert [r.outcome for r in changed] == [Outcome.UPDATED]


async def _employee(tid: TenantID, index: int) -> Employee:
    """An employee in the open transaction (factories open one each: too slow for many)."""
    return await employee_service.create(
        tid, EmployeeChanges(employee_number=f"N{index:03}", name=f"Person {index}")
    )


def _year(person: Employee, year: int) -> AppraisalChanges:
    return AppraisalChanges(
        employee_id=person.id,
        period=str(year),
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        score=Decimal(70 + year - 2022),
    )
