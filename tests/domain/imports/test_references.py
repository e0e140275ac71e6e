"""What import rows may name: units by key, path or name, people by number or e-mail, skills
by key or any of their names; ambiguity, archived records, other tenants, statement counts."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.imports.fields import RefKind, RowErrorCode
from domain.imports.references import (
    TenantReferences,
    employee_names,
    org_unit_names,
    skill_names,
    unit_paths,
)
from domain.org.service import org_service
from domain.people.models import Employee
from domain.people.service import EmployeeChanges, employee_service
from domain.skills.service import skill_service
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_org_unit, create_skill

NOT_FOUND, AMBIGUOUS = RowErrorCode.NOT_FOUND, RowErrorCode.AMBIGUOUS
ALL = {RefKind.ORG_UNIT, RefKind.EMPLOYEE, RefKind.SKILL}


async def _load(tenant: Tenant, kinds: set[RefKind] = ALL) -> TenantReferences:
    async with tenant_transaction(tenant_id(tenant)):
        return await TenantReferences.load(tenant_id(tenant), kinds)


async def _employee(tenant: Tenant, number: str, email: str | None = None) -> Employee:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await employee_service.create(
            tid, EmployeeChanges(employee_number=number, name=f"Person {number}", email=email)
        )


async def _archive_employee(tenant: Tenant, employee: Employee) -> None:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await employee_service.archive(tid, employee.id)


async def test_loading_costs_one_statement_per_kind_whatever_the_tenant_holds() -> None:
    # given a tenant with some of everything
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    root = await create_org_unit(tenant, name="Acme", kind="company")
    for index in range(5):
        await create_org_unit(tenant, name=f"Team {index}", kind="team", parent=root)
        await _employee(tenant, f"E{index:03d}", f"p{index}@example.com")
        await create_skill(tenant, f"Skill {index}")
    # when
    costs = {}
    async with tenant_transaction(tid) as tx:
        for name, kinds in (("all", ALL), ("people", {RefKind.EMPLOYEE}), ("none", set())):
            before = tx.statements
            references = await TenantReferences.load(tid, kinds)
            costs[name] = tx.statements - before
    # then
    assert costs == {"all": 3, "people": 1, "none": 0}
    assert references.kinds == set()


async def test_units_are_named_by_key_by_path_in_any_notation_and_by_unique_name() -> None:
    # given two trees, each with a "QA" unit
    tenant = await create_tenant()
    rd = await create_org_unit(tenant, name="研发中心", kind="department", external_key="RD")
    platform = await create_org_unit(tenant, name="平台组", kind="team", parent=rd)
    qa_cn = await create_org_unit(tenant, name="QA", kind="team", parent=rd)
    rd_en = await create_org_unit(tenant, name="R&D", kind="department")
    platform_en = await create_org_unit(tenant, name="Platform", kind="team", parent=rd_en)
    qa_en = await create_org_unit(tenant, name="QA", kind="team", parent=rd_en)
    # when
    references = await _load(tenant, {RefKind.ORG_UNIT})

    def resolve(text: str) -> object:
        return references.resolve(RefKind.ORG_UNIT, text)

    # then
    assert resolve("RD") == rd.id
    for path in (
        "研发中心/平台组",
        "研发中心 / 平台组",
        "研发中心＞平台组",
        "研发中心>平台组",
        "研发中心／平台组",
    ):
        assert resolve(path) == platform.id, path
    for path in (
        "R&D/Platform",
        "r&d / platform",
        "R&D > Platform",
        "Ｒ＆Ｄ／ＰＬＡＴＦＯＲＭ",
        "/R&D/Platform",
    ):
        assert resolve(path) == platform_en.id, path
    assert resolve("Platform") == platform_en.id  # a name no other unit has
    assert resolve("  平台组 ") == platform.id
    assert resolve("QA") == AMBIGUOUS  # two units are named so
    assert (resolve("R&D/QA"), resolve("研发中心/QA")) == (qa_en.id, qa_cn.id)
    assert resolve("R&D") == rd_en.id
    assert resolve("Platform/R&D") == NOT_FOUND  # a path goes from the root down
    assert resolve("rd") == NOT_FOUND  # keys are exact


async def test_archived_units_and_skills_are_not_nameable_archived_people_are() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    old_unit = await create_org_unit(tenant, name="Old", kind="team", external_key="U-OLD")
    new_unit = await create_org_unit(tenant, name="Current", kind="team")
    old_skill = await create_skill(tenant, "Cobol", external_key="S-COBOL")
    left = await _employee(tenant, "E100", "left@example.com")
    async with tenant_transaction(tid):
        await org_service.archive(tid, old_unit.id)
        await skill_service.archive(tid, old_skill.id)
    await _archive_employee(tenant, left)
    # a retired unit's name does not make an active one's ambiguous
    async with tenant_transaction(tid):
        await org_service.update(tid, new_unit.id, name="Old")
    references = await _load(tenant)
    assert references.resolve(RefKind.ORG_UNIT, "U-OLD") == NOT_FOUND
    assert references.resolve(RefKind.ORG_UNIT, "Old") == new_unit.id
    assert references.resolve(RefKind.SKILL, "S-COBOL") == NOT_FOUND
    assert references.resolve(RefKind.SKILL, "Cobol") == NOT_FOUND
    # facts and history of people who have left still find them
    assert references.resolve(RefKind.EMPLOYEE, "E100") == left.id
    assert references.resolve(RefKind.EMPLOYEE, "LEFT@example.com") == left.id


async def test_people_are_named_by_number_then_by_email_active_ones_first() -> None:
    tenant = await create_tenant()
    wang = await _employee(tenant, "A-001", "Wang.Li@Example.com")
    twin_a = await _employee(tenant, "A-002", "shared@example.com")
    await _employee(tenant, "A-003", "shared@example.com")
    left = await _employee(tenant, "A-004", "desk@example.com")
    successor = await _employee(tenant, "A-005", "desk@example.com")
    await _archive_employee(tenant, left)
    references = await _load(tenant, {RefKind.EMPLOYEE})

    def resolve(text: str) -> object:
        return references.resolve(RefKind.EMPLOYEE, text)

    assert resolve("A-001") == wang.id
    assert resolve("a-001") == wang.id  # numbers typed in lower case
    assert resolve("Ａ－００１") == wang.id  # full width
    assert resolve("wang.li@example.COM") == wang.id
    assert resolve("A-002") == twin_a.id
    assert resolve("shared@example.com") == AMBIGUOUS
    assert resolve("desk@example.com") == successor.id  # the archived namesake yields
    assert resolve("A-004") == left.id
    assert resolve("nobody@example.com") == NOT_FOUND


async def test_skills_are_named_by_key_name_alias_and_either_language() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        python = await skill_service.create(
            tid, name="Python", name_zh="Python 编程", aliases=["py"], external_key="S-PY"
        )
        k8s = await skill_service.create(tid, name="Kubernetes", name_en="Container orchestration")
        nomad = await skill_service.create(tid, name="Nomad", name_en="Container orchestration")
        sql = await skill_service.create(tid, name="SQL", name_zh="数据库")
    references = await _load(tenant, {RefKind.SKILL})

    def resolve(text: str) -> object:
        return references.resolve(RefKind.SKILL, text)

    assert resolve("S-PY") == python.id
    assert resolve("python") == resolve("ＰＹＴＨＯＮ") == resolve("Py") == python.id
    assert resolve("python 编程") == python.id
    assert resolve("数据库") == sql.id
    assert resolve("kubernetes") == k8s.id
    assert resolve("Nomad") == nomad.id
    assert resolve("container orchestration") == AMBIGUOUS
    assert resolve("Go") == NOT_FOUND


async def test_another_tenants_records_are_never_named() -> None:
    # given the other tenant holds the names we look for, and one we share
    ours, theirs = await create_tenant(), await create_tenant()
    our_qa = await create_org_unit(ours, name="QA", kind="team")
    await create_org_unit(theirs, name="QA", kind="team")
    await create_org_unit(theirs, name="Ops", kind="team", external_key="OPS")
    await _employee(theirs, "T-001", "them@example.com")
    await create_skill(theirs, "Rust", external_key="S-RUST")
    # when
    references = await _load(ours)
    # then
    assert references.resolve(RefKind.ORG_UNIT, "QA") == our_qa.id  # not ambiguous
    assert references.resolve(RefKind.ORG_UNIT, "OPS") == NOT_FOUND
    assert references.resolve(RefKind.ORG_UNIT, "Ops") == NOT_FOUND
    assert references.resolve(RefKind.EMPLOYEE, "T-001") == NOT_FOUND
    assert references.resolve(RefKind.EMPLOYEE, "them@example.com") == NOT_FOUND
    assert references.resolve(RefKind.SKILL, "S-RUST") == NOT_FOUND
    assert references.resolve(RefKind.SKILL, "rust") == NOT_FOUND


async def test_records_added_by_the_import_become_nameable() -> None:
    tenant = await create_tenant()
    existing = await create_org_unit(tenant, name="Platform", kind="team")
    await _employee(tenant, "E-1", "same@example.com")
    references = await _load(tenant, {RefKind.ORG_UNIT, RefKind.EMPLOYEE})
    assert references.resolve(RefKind.ORG_UNIT, "NEW") == NOT_FOUND  # remembered...
    new_unit, new_person, new_skill = uuid4(), uuid4(), uuid4()
    # when
    references.add(RefKind.ORG_UNIT, org_unit_names("NEW", "R&D/Platform", "Platform"), new_unit)
    references.add(RefKind.EMPLOYEE, employee_names("E-2", "same@example.com"), new_person)
    references.add(RefKind.SKILL, skill_names("S-1", "Go", None, None), new_skill)  # not loaded
    # then ...and forgotten once something is added
    assert references.resolve(RefKind.ORG_UNIT, "NEW") == new_unit
    assert references.resolve(RefKind.ORG_UNIT, "r&d / platform") == new_unit
    assert references.resolve(RefKind.ORG_UNIT, "Platform") == AMBIGUOUS  # now two units
    assert references.resolve(RefKind.ORG_UNIT, existing.external_key or "-") == NOT_FOUND
    assert references.resolve(RefKind.EMPLOYEE, "e-2") == new_person
    assert references.resolve(RefKind.EMPLOYEE, "same@example.com") == AMBIGUOUS
    with pytest.raises(LookupError):
        references.resolve(RefKind.SKILL, "Go")


async def test_unit_paths_name_each_unit_from_the_root_in_one_statement() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    root = await create_org_unit(tenant, name="Acme", kind="company")
    dept = await create_org_unit(tenant, name="R&D", kind="department", parent=root)
    team = await create_org_unit(tenant, name="平台组", kind="team", parent=dept)
    async with tenant_transaction(tid) as tx:
        before = tx.statements
        paths = await unit_paths(tid, [team.id, root.id, uuid4()])
        statements = tx.statements - before
    assert paths == {team.id: "Acme/R&D/平台组", root.id: "Acme"}
    assert statements == 1
