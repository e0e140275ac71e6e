"""Employees: checked writes, sealed national ids, visibility, ERP upserts, audit."""

from __future__ import annotations

import pytest

from domain.audit.models import AuditEntry
from domain.changes import KEEP, Outcome
from domain.org.service import org_service
from domain.people.models import CustomFieldType, Employee, EmployeeStatus
from domain.people.service import (
    EVERYONE,
    EmployeeChanges,
    EnumOption,
    Scope,
    custom_field_service,
    employee_service,
    visibility_for,
)
from tenants.errors import ServiceError
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, create_user, tenant_id
from tests.factories_records import create_employee, create_org_unit


async def test_an_employee_is_created_checked_and_audited() -> None:
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await custom_field_service.create(
            tid,
            key="shirt",
            label_zh="尺码",
            label_en="Shirt",
            kind=CustomFieldType.ENUM,
            options=[EnumOption("m", "中", "M")],
        )
        employee = await employee_service.create(
            tid,
            EmployeeChanges(
                employee_number=" ACM-7 ",
                name="Li  Wei",
                email="Li.Wei@Acme.example",
                phone="138 0013 8000",
                org_unit_id=team.id,
                level="senior",
                custom_fields={"shirt": "m"},
                national_id="11010519491231002x",
            ),
        )
        entry = await AuditEntry.get(entity_id=employee.id, action="create")
    assert (employee.employee_number, employee.name, employee.email, employee.phone) == (
        "ACM-7",
        "Li Wei",
        "li.wei@acme.example",
        "+8613800138000",
    )
    assert employee.national_id is not None
    assert b"11010519491231002X" not in bytes(employee.national_id)
    # The audit log says the id was set, never what it is.
    assert entry.changes["national_id"] == {"changed": True}
    assert entry.changes["name"] == {"before": None, "after": "Li Wei"}
    async with tenant_transaction(tid):
        assert await employee_service.national_id_of(tid, employee) == "11010519491231002X"
        found = await employee_service.find_by_national_id(tid, "110105 19491231 002X")
    assert found is not None
    assert found.id == employee.id


async def test_every_problem_of_a_record_is_reported_at_once() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await employee_service.create(
                tid,
                EmployeeChanges(
                    employee_number="ok-1",
                    name="X",
                    phone="123",
                    level="emperor",
                    national_id="110105194912310021",
                    custom_fields={"nope": 1},
                ),
            )
    assert sorted(d.field or "" for d in caught.value.details) == [
        "customFields.nope",
        "level",
        "nationalId",
        "phone",
    ]


async def test_duplicates_are_named() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    await create_employee(tenant, employee_number="E-1", national_id="11010519491231002X")
    # the same number and id in another tenant are fine
    await create_employee(other, employee_number="E-1", national_id="11010519491231002X")
    tid = tenant_id(tenant)
    for changes, field in (
        (EmployeeChanges(employee_number="E-1", name="Again"), "employeeNumber"),
        (
            EmployeeChanges(employee_number="E-2", name="Twin", national_id="11010519491231002X"),
            "nationalId",
        ),
    ):
        async with tenant_transaction(tid):
            with pytest.raises(ServiceError) as caught:
                await employee_service.create(tid, changes)
        assert (caught.value.code, caught.value.field) == ("DUPLICATE", field)


async def test_upserting_the_same_people_twice_changes_nothing_the_second_time() -> None:
    tenant = await create_tenant()
    await create_org_unit(tenant, name="Team", kind="team", external_key="TEAM")
    tid = tenant_id(tenant)
    items = [
        EmployeeChanges(
            employee_number=f"E-{i}",
            name=f"Person {i}",
            org_unit_external_key="TEAM",
            level="mid",
            national_id=nid,
        )
        for i, nid in ((1, "11010519491231002X"), (2, None))
    ]
    items.append(
        EmployeeChanges(employee_number="E-3", name="Nowhere", org_unit_external_key="MISSING")
    )
    async with tenant_transaction(tid):
        first = await employee_service.upsert(tid, items)
    assert [r.outcome for r in first] == [Outcome.CREATED, Outcome.CREATED, Outcome.FAILED]
    assert first[2].error is not None
    assert first[2].error.field == "orgUnitExternalKey"
    async with tenant_transaction(tid):
        second = await employee_service.upsert(tid, items[:2])
        count = await Employee.all().count()
    assert [r.outcome for r in second] == [Outcome.UNCHANGED, Outcome.UNCHANGED]
    assert count == 2
    async with tenant_transaction(tid):
        changed = await employee_service.upsert(
            tid, [EmployeeChanges(employee_number="E-2", name="Person Two", level=KEEP)]
        )
    assert changed[0].outcome == Outcome.UPDATED


async def test_a_manager_sees_exactly_the_subtrees_they_manage_and_themselves() -> None:
    tenant = await create_tenant()
    company = await create_org_unit(tenant, name="Co", kind="company")
    dept = await create_org_unit(tenant, name="Dept", kind="department", parent=company)
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    elsewhere = await create_org_unit(tenant, name="Other", kind="department", parent=company)
    boss_user = await create_user(tenant, roles=("manager",))
    boss = await create_employee(tenant, name="Boss", org_unit=elsewhere, user=boss_user)
    in_dept = await create_employee(tenant, name="In dept", org_unit=dept)
    in_team = await create_employee(tenant, name="In team", org_unit=team)
    outside = await create_employee(tenant, name="Outside", org_unit=elsewhere)
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await org_service.add_manager(tid, dept.id, boss.id)
        seen = await visibility_for(tid, Scope.SUBTREE, boss_user.id)
        page = await employee_service.page(tid, seen, first=50, after=None)
        mine = await visibility_for(tid, Scope.SELF, boss_user.id)
        self_page = await employee_service.page(tid, mine, first=50, after=None)
        everyone = await employee_service.page(tid, EVERYONE, first=50, after=None)
    assert {e.name for e in page.items} == {"Boss", "In dept", "In team"}
    assert seen.allows(in_team)
    assert not seen.allows(outside)
    assert [e.name for e in self_page.items] == ["Boss"]
    assert len(everyone.items) == 4
    assert in_dept.id in {e.id for e in page.items}


async def test_lists_filter_by_subtree_level_status_and_search() -> None:
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    await create_employee(
        tenant, name="Ada Senior", level="senior", org_unit=team, employee_number="A-1"
    )
    await create_employee(
        tenant, name="Bo Junior", level="junior", org_unit=dept, employee_number="B-1"
    )
    await create_employee(
        tenant, name="Cy Gone", level="senior", status=EmployeeStatus.LEFT, employee_number="C-1"
    )
    tid = tenant_id(tenant)

    async def names(**filters: object) -> list[str]:
        async with tenant_transaction(tid):
            page = await employee_service.page(tid, EVERYONE, first=50, after=None, **filters)  # type: ignore[arg-type]
        return [e.name for e in page.items]

    assert await names(org_unit_id=dept.id) == ["Ada Senior", "Bo Junior"]
    assert await names(org_unit_id=team.id) == ["Ada Senior"]
    assert await names(levels=["senior"]) == ["Ada Senior", "Cy Gone"]
    assert await names(statuses=["left"]) == ["Cy Gone"]
    assert await names(search="b-1") == ["Bo Junior"]
