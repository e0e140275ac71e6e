"""The records kinds of imports: each written through its domain service, idempotent on a
second import, refused rows reported with their number and field, references resolved in
the tenant only, other tenants untouched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from tortoise.models import Model

from domain.audit.models import AuditEntry
from domain.feedback.models import Feedback
from domain.history.models import Appraisal, AppraisalSource, Engagement, EngagementSkill
from domain.imports.fields import MappedRow, RefKind, RowErrorCode
from domain.imports.records import RECORD_KINDS, coded
from domain.imports.references import TenantReferences
from domain.imports.writers import WriteContext, WriteReport
from domain.org.models import OrgUnit
from domain.people.models import CustomFieldType, Employee, EmployeeStatus
from domain.people.service import EmployeeChanges, custom_field_service, employee_service
from domain.skills.models import EmployeeSkill, EmployeeSkillEvent, Skill, SkillSource
from domain.skills.service import skill_service
from domain.templates.registry import pack_for
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_employee, create_org_unit, create_skill

NOT_FOUND, AMBIGUOUS = RowErrorCode.NOT_FOUND, RowErrorCode.AMBIGUOUS
REJECTED = RowErrorCode.REJECTED


async def _import(tenant: Tenant, kind: str, rows: Sequence[Mapping[str, Any]]) -> WriteReport:
    """Write ``rows`` as the pipeline does: in the writer's batches, in one tenant
    transaction, every field of the kind present (unmapped ones None, as the mapper has it)."""
    tid = tenant_id(tenant)
    spec, factory = RECORD_KINDS[kind]
    mapped = [
        MappedRow(number, {f.name: values.get(f.name) for f in spec.fields})
        for number, values in enumerate(rows, start=1)
    ]
    report = WriteReport()
    async with tenant_transaction(tid):
        kinds = {f.ref for f in spec.fields if f.ref is not None}
        references = await TenantReferences.load(tid, kinds)
        writer = await factory(WriteContext(tid, uuid4(), "import", references))
        for start in range(0, len(mapped), writer.batch_size):
            report.add(await writer.write(mapped[start : start + writer.batch_size]))
        report.add(await writer.finish())
    return report


def _counts(report: WriteReport) -> tuple[int, int, int]:
    return report.created, report.updated, report.unchanged


def _errors(report: WriteReport) -> list[tuple[int, str, RowErrorCode]]:
    return sorted((e.row, e.column, e.code) for e in report.errors)


async def _rows_of(tenant: Tenant, *models: type[Model]) -> dict[str, int]:
    counted: tuple[type[Model], ...] = (*models, AuditEntry)
    async with tenant_transaction(tenant_id(tenant)):
        return {model.__name__: await model.all().count() for model in counted}


async def _twice(
    tenant: Tenant, kind: str, rows: Sequence[Mapping[str, Any]], *models: type[Model]
) -> tuple[WriteReport, WriteReport]:
    """Import ``rows``, then again: the second import must change nothing at all."""
    first = await _import(tenant, kind, rows)
    before = await _rows_of(tenant, *models)
    second = await _import(tenant, kind, rows)
    assert await _rows_of(tenant, *models) == before
    assert _counts(second) == (0, 0, first.created + first.updated + first.unchanged)
    assert _errors(second) == _errors(first)
    return first, second


# --- pack values ---------------------------------------------------------------------------


def test_pack_values_are_found_by_code_name_beginning_or_abbreviation() -> None:
    levels = pack_for("enterprise_rd").levels
    for given, code in (
        ("senior", "senior"),
        ("高级", "senior"),
        ("高级工程师", "senior"),
        ("Senior Engineer", "senior"),
        ("Sr", "senior"),
        ("Sr.", "senior"),
        ("jr", "junior"),
        ("中级", "mid"),
        ("Engineer", "mid"),
        ("Principal", "principal"),
    ):
        assert coded(given, levels) == code, given
    school = pack_for("school_teaching").levels
    assert (coded("高级", school), coded("正高级", school)) == ("senior", "full_senior")
    assert coded("wizard", levels) == "wizard"  # for the domain to refuse
    assert coded("e", levels) == "e"  # too short to stand for a beginning


# --- org units -----------------------------------------------------------------------------


async def test_org_units_are_written_parents_first_and_a_second_import_changes_nothing() -> None:
    # given a hand-entered unit (no key), and another tenant with the same key and names
    tenant, other = await create_tenant(), await create_tenant()
    legacy = await create_org_unit(tenant, name="Legacy", kind="department")
    theirs = await create_org_unit(other, name="Acme", kind="company", external_key="ACME")
    rows = [
        # a child before its parent, named by the parent's key
        {"external_key": "PLAT", "name": "平台组", "kind": "团队", "parent": "RD"},
        {"external_key": "ACME", "name": "Acme", "kind": "company"},
        {"external_key": "RD", "name": "研发中心", "kind": "部门", "parent": "ACME"},
        # a parent named by a path only this file creates
        {"external_key": "QA", "name": "QA", "kind": "team", "parent": "Acme / 研发中心"},
        # a parent entered by hand, without a key, named by its name
        {"external_key": "OLD-1", "name": "Archive team", "kind": "Team", "parent": "Legacy"},
        {"external_key": "BAD", "name": "Squad", "kind": "squad", "parent": "ACME"},
        {"external_key": "LOST", "name": "Lost", "kind": "team", "parent": "Nowhere/Team"},
    ]
    # when
    first, _ = await _twice(tenant, "org_units", rows, OrgUnit)
    # then
    assert _counts(first) == (5, 0, 0)
    assert _errors(first) == [(6, "kind", REJECTED), (7, "parent", NOT_FOUND)]
    assert any("unknown unit kind" in e.message for e in first.errors)
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        units = {u.external_key: u for u in await OrgUnit.all()}
    assert units["PLAT"].parent_id == units["RD"].id
    assert (units["RD"].kind, units["PLAT"].kind) == ("department", "team")
    assert units["QA"].parent_id == units["RD"].id
    assert units["OLD-1"].parent_id == legacy.id
    # and the other tenant's unit with the same key is untouched
    async with tenant_transaction(tenant_id(other)):
        assert (await OrgUnit.get(id=theirs.id)).name == "Acme"
        assert await OrgUnit.all().count() == 1


async def test_an_org_unit_file_moves_renames_and_keeps_what_it_leaves_empty() -> None:
    tenant = await create_tenant()
    await _import(
        tenant,
        "org_units",
        [
            {"external_key": "A", "name": "Alpha", "kind": "department"},
            {"external_key": "B", "name": "Beta", "kind": "department"},
            {"external_key": "T", "name": "Team", "kind": "team", "parent": "A"},
        ],
    )
    # when the team moves by path and is renamed, and a unit's parent is left empty
    report = await _import(
        tenant,
        "org_units",
        [
            {"external_key": "T", "name": "Team One", "kind": "team", "parent": "Beta"},
            {"external_key": "A", "name": "Alpha", "kind": "department", "parent": None},
        ],
    )
    assert (_counts(report), report.errors) == ((0, 1, 1), [])
    async with tenant_transaction(tenant_id(tenant)):
        units = {u.external_key: u for u in await OrgUnit.all()}
        renamed = await AuditEntry.filter(entity_id=units["T"].id, action="update").count()
    assert (units["T"].name, units["T"].parent_id) == ("Team One", units["B"].id)
    assert units["A"].parent_id is None
    assert renamed == 1


async def test_an_ambiguous_parent_is_reported_and_the_unit_not_written() -> None:
    tenant = await create_tenant()
    for parent_name in ("North", "South"):
        parent = await create_org_unit(tenant, name=parent_name, kind="department")
        await create_org_unit(tenant, name="Sales", kind="team", parent=parent)
    report = await _import(
        tenant,
        "org_units",
        [
            {"external_key": "X", "name": "Inside", "kind": "team", "parent": "Sales"},
            {"external_key": "Y", "name": "Inside", "kind": "team", "parent": "South/Sales"},
        ],
    )
    assert _errors(report) == [(1, "parent", AMBIGUOUS)]
    assert "full path" in report.errors[0].message
    assert "完整路径" in report.errors[0].message_zh
    assert _counts(report) == (1, 0, 0)


# --- employees -----------------------------------------------------------------------------


async def test_employees_are_written_with_pack_levels_units_and_sealed_ids() -> None:
    # given units, one name shared by two, and another tenant's unit and employee
    tenant, other = await create_tenant(), await create_tenant()
    rd = await create_org_unit(tenant, name="R&D", kind="department", external_key="RD")
    platform = await create_org_unit(tenant, name="Platform", kind="team", parent=rd)
    for name in ("North", "South"):
        parent = await create_org_unit(tenant, name=name, kind="department")
        await create_org_unit(tenant, name="Ops", kind="team", parent=parent)
    await create_org_unit(other, name="Theirs", kind="team")
    their_person = await create_employee(other, employee_number="E001", name="Not ours")
    async with tenant_transaction(tenant_id(tenant)):
        for key, kind in (
            ("primary_stack", CustomFieldType.STRING),
            ("on_call", CustomFieldType.BOOLEAN),
        ):
            await custom_field_service.create(
                tenant_id(tenant), key=key, label_zh=key, label_en=key, kind=kind
            )
    rows: list[dict[str, Any]] = [
        {
            "employee_number": "E001",
            "name": "王 力",
            "email": "wang.li@example.com",
            "phone": "+8613800138000",
            "org_unit": "R&D/Platform",
            "level": "高级",
            "title": "Backend engineer",
            "hire_date": date(2021, 3, 1),
            "status": "active",
            "national_id": "11010519491231002X",
            "custom_fields": {"primary_stack": "backend", "on_call": True},
        },
        {"employee_number": "E002", "name": "Li Na", "level": "Sr", "org_unit": "RD"},
        {"employee_number": "E003", "name": "Ops person", "org_unit": "Ops"},
        {"employee_number": "E004", "name": "Elsewhere", "org_unit": "Theirs"},
        {"employee_number": "E005", "name": "Wizard", "level": "wizard"},
        {"employee_number": "E006", "name": "Bad id", "national_id": "110105194912310021"},
        {"employee_number": "E007", "name": "Bad field", "custom_fields": {"shoe_size": 42}},
        {"employee_number": "E 008", "name": "Bad number"},
    ]
    # when
    first, _ = await _twice(tenant, "employees", rows, Employee)
    # then
    assert _counts(first) == (2, 0, 0)
    assert _errors(first) == [
        (3, "org_unit", AMBIGUOUS),
        (4, "org_unit", NOT_FOUND),
        (5, "level", REJECTED),
        (6, "national_id", REJECTED),
        (7, "custom_fields", REJECTED),
        (8, "employee_number", REJECTED),
    ]
    refused = {e.row: e for e in first.errors}
    assert refused[5].value == "wizard"
    assert "未知职级" in refused[5].message_zh
    assert refused[7].message.startswith("shoe_size: ")
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        people = {e.employee_number: e for e in await Employee.all()}
        wang = people["E001"]
        assert await employee_service.national_id_of(tid, wang) == "11010519491231002X"
    assert bytes(wang.national_id or b"") != b"11010519491231002X"  # sealed
    assert (wang.org_unit_id, wang.level, wang.email) == (
        platform.id,
        "senior",
        "wang.li@example.com",
    )
    assert wang.custom_fields == {"primary_stack": "backend", "on_call": True}
    assert (people["E002"].level, people["E002"].org_unit_id) == ("senior", rd.id)
    # and the other tenant's E001 is untouched
    async with tenant_transaction(tenant_id(other)):
        assert (await Employee.get(id=their_person.id)).name == "Not ours"


async def test_an_employee_file_without_a_column_keeps_that_value() -> None:
    tenant = await create_tenant()
    await _import(
        tenant,
        "employees",
        [{"employee_number": "E1", "name": "Zhang", "phone": "13800138000", "level": "mid"}],
    )
    # when a later file has no phone column and another status
    report = await _import(
        tenant, "employees", [{"employee_number": "E1", "name": "Zhang", "status": "left"}]
    )
    assert (_counts(report), report.errors) == ((0, 1, 0), [])
    async with tenant_transaction(tenant_id(tenant)):
        person = await Employee.get(employee_number="E1")
    assert (person.phone, person.level, person.status) == (
        "+8613800138000",
        "mid",
        EmployeeStatus.LEFT,
    )


# --- skills --------------------------------------------------------------------------------


async def test_skills_are_written_by_key_and_a_second_import_changes_nothing() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    await create_skill(tenant, "Golang", aliases=["go"])
    theirs = await create_skill(other, "Python", external_key="S-PY")
    rows: list[dict[str, Any]] = [
        {"external_key": "S-PY", "name": "Python", "name_zh": "Python 语言", "aliases": ["py"]},
        {"external_key": "S-SQL", "name": "SQL", "category": "Data", "aliases": ["结构化查询"]},
        {"external_key": "S-GO", "name": "Go"},  # the name is another skill's alias
    ]
    first, _ = await _twice(tenant, "skills", rows, Skill)
    assert _counts(first) == (2, 0, 0)
    assert _errors(first) == [(3, "name", REJECTED)]
    # a later file without the Chinese name keeps it
    report = await _import(tenant, "skills", [{"external_key": "S-PY", "name": "Python 3"}])
    assert _counts(report) == (0, 1, 0)
    async with tenant_transaction(tenant_id(tenant)):
        python = await Skill.get(external_key="S-PY")
    assert (python.name, python.name_zh, python.aliases) == ("Python 3", "Python 语言", ["py"])
    async with tenant_transaction(tenant_id(other)):
        assert (await Skill.get(id=theirs.id)).name_zh is None


# --- people's skill levels -----------------------------------------------------------------


async def test_skill_levels_join_the_history_and_a_second_import_changes_nothing() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        wang = await employee_service.create(
            tid, EmployeeChanges(employee_number="E1", name="Wang", email="wang@example.com")
        )
    python = await create_skill(tenant, "Python", aliases=["py"], external_key="S-PY")
    sql = await create_skill(tenant, "SQL")
    await create_employee(other, employee_number="T1")
    rows: list[dict[str, Any]] = [
        {"employee": "E1", "skill": "Python", "level": 3, "evaluated_on": date(2024, 1, 10)},
        {"employee": "E1", "skill": "py", "level": 2, "evaluated_on": date(2023, 6, 1)},
        {"employee": "WANG@example.com", "skill": "SQL", "level": 4, "source": "verified"},
        {"employee": "E1", "skill": "S-PY", "level": 7, "evaluated_on": date(2024, 2, 1)},
        {"employee": "E1", "skill": "Rust", "level": 3},
        {"employee": "T1", "skill": "SQL", "level": 3},  # another tenant's number
        {"employee": "E1", "skill": "SQL", "level": 2, "evaluated_on": date(2999, 1, 1)},
    ]
    first, _ = await _twice(tenant, "employee_skills", rows, EmployeeSkill, EmployeeSkillEvent)
    assert _counts(first) == (2, 1, 0)
    assert _errors(first) == [
        (4, "level", REJECTED),
        (5, "skill", NOT_FOUND),
        (6, "employee", NOT_FOUND),
        (7, "evaluated_on", REJECTED),
    ]
    async with tenant_transaction(tid):
        current = await skill_service.current_skills(tid, [wang.id])
        history = await skill_service.evolution(tid, wang.id, python.id)
    held = {skill.name: (h.level, h.source) for h, skill in current[wang.id]}
    assert held == {"Python": (3, SkillSource.MANAGER), "SQL": (4, SkillSource.VERIFIED)}
    assert [(e.level, e.evaluated_on) for e in history] == [
        (2, date(2023, 6, 1)),
        (3, date(2024, 1, 10)),
    ]
    assert sql.id in {h.skill_id for h, _ in current[wang.id]}


# --- engagements ---------------------------------------------------------------------------


async def test_engagements_are_written_with_skills_and_outcomes_by_name() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, employee_number="E1")
    python, sql = await create_skill(tenant, "Python"), await create_skill(tenant, "SQL")
    rows: list[dict[str, Any]] = [
        {
            "external_key": "P-1",
            "employee": "E1",
            "kind": "项目",
            "name": "Billing revamp",
            "role": "Lead",
            "started_on": date(2024, 1, 1),
            "ended_on": date(2024, 6, 30),
            "skills": ["python", "SQL", "Python"],
            "outcomes": {"开发周期": 30, "customer_rating": 4.5},
        },
        {
            "external_key": "P-2",
            "employee": "E1",
            "kind": "project",
            "name": "Outcome out of range",
            "started_on": date(2024, 1, 1),
            "outcomes": {"customer_rating": 9},
        },
        {
            "external_key": "P-3",
            "employee": "E1",
            "kind": "project",
            "name": "Backwards",
            "started_on": date(2024, 6, 1),
            "ended_on": date(2024, 1, 1),
        },
        {
            "external_key": "P-4",
            "employee": "E1",
            "kind": "project",
            "name": "Unknown skill",
            "started_on": date(2024, 1, 1),
            "skills": ["Python", "Haskell"],
        },
        {
            "external_key": "P-5",
            "employee": "E1",
            "kind": "project",
            "name": "Odd outcomes",
            "started_on": date(2024, 1, 1),
            "outcomes": [1, 2],
        },
    ]
    first, _ = await _twice(tenant, "engagements", rows, Engagement, EngagementSkill)
    assert _counts(first) == (1, 0, 0)
    assert _errors(first) == [
        (2, "outcomes", REJECTED),
        (3, "ended_on", REJECTED),
        (4, "skills", NOT_FOUND),
        (5, "outcomes", RowErrorCode.INVALID_VALUE),
    ]
    assert [e.value for e in first.errors if e.row == 4] == ["Haskell"]
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        project = await Engagement.get(external_key="P-1")
        skills = {s.skill_id for s in await EngagementSkill.filter(engagement_id=project.id)}
    assert (project.employee_id, project.kind) == (person.id, "project")
    assert project.outcomes == {"cycle_days": 30.0, "customer_rating": 4.5}
    assert skills == {python.id, sql.id}


# --- appraisals ----------------------------------------------------------------------------


async def test_appraisals_are_written_as_imported_and_a_second_import_changes_nothing() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, employee_number="E1")
    rows: list[dict[str, Any]] = [
        {"external_key": "A-2024", "employee": "E1", "period": 2024, "score": 88.5,
         "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "grade": "A",
         "reviewer": "Zhao", "comments": "Steady"},
        {"external_key": "A-BAD", "employee": "E1", "period": "2023", "score": 120,
         "period_start": date(2023, 1, 1), "period_end": date(2023, 12, 31)},
        {"external_key": "A-BACK", "employee": "E1", "period": "2022",
         "period_start": date(2022, 12, 31), "period_end": date(2022, 1, 1)},
        {"external_key": "A-WHO", "employee": "E404", "period": "2022",
         "period_start": date(2022, 1, 1), "period_end": date(2022, 12, 31)},
    ]  # fmt: skip
    first, _ = await _twice(tenant, "appraisals", rows, Appraisal)
    assert _counts(first) == (1, 0, 0)
    assert _errors(first) == [
        (2, "score", REJECTED),
        (3, "period_end", REJECTED),
        (4, "employee", NOT_FOUND),
    ]
    async with tenant_transaction(tenant_id(tenant)):
        appraisal = await Appraisal.get(external_key="A-2024")
    assert (appraisal.employee_id, appraisal.period, appraisal.score) == (
        person.id,
        "2024",
        Decimal("88.50"),
    )
    assert appraisal.source == AppraisalSource.IMPORTED


async def test_rows_naming_nobody_never_reach_the_database() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    rows = [
        MappedRow(n, {"external_key": f"A-{n}", "employee": f"E{n}", "period": "2024",
                      "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31)})
        for n in range(1, 4)
    ]  # fmt: skip
    _spec, factory = RECORD_KINDS["appraisals"]
    async with tenant_transaction(tid) as tx:
        references = await TenantReferences.load(tid, {RefKind.EMPLOYEE})
        writer = await factory(WriteContext(tid, uuid4(), "import", references))
        before = tx.statements
        report = await writer.write(rows)
        statements = tx.statements - before
    assert statements == 0
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (n, "employee", NOT_FOUND) for n in range(1, 4)
    ]


# --- feedback ------------------------------------------------------------------------------


async def test_feedback_is_written_by_key_with_criteria_by_name() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    subject = await create_employee(tenant, employee_number="E1")
    await create_employee(other, employee_number="T1")
    given = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"external_key": "F-1", "subject": "E1", "source": "peer", "given_at": given,
         "ratings": {"沟通": 4, "delivery": "5"}, "comment": "Clear", "author_label": "Li"},
        {"external_key": "F-2", "subject": "E1", "source": "manager", "anonymous": True,
         "ratings": {"quality": 3}, "author_label": "Should vanish", "given_at": given},
        {"external_key": "F-3", "subject": "E1", "source": "peer", "ratings": {"delivery": 9}},
        {"external_key": "F-4", "subject": "T1", "source": "peer", "ratings": {"delivery": 3}},
        {"external_key": "F-5", "subject": "E1", "source": "student", "ratings": {"quality": 3}},
    ]  # fmt: skip
    first, _ = await _twice(tenant, "feedback", rows, Feedback)
    assert _counts(first) == (2, 0, 0)
    assert _errors(first) == [
        (3, "ratings", REJECTED),
        (4, "subject", NOT_FOUND),
        (5, "source", REJECTED),
    ]
    async with tenant_transaction(tenant_id(tenant)):
        stored = {f.external_key: f for f in await Feedback.all()}
    assert stored["F-1"].ratings == {"communication": 4, "delivery": 5}
    assert (stored["F-1"].subject_id, stored["F-1"].author_label) == (subject.id, "Li")
    assert (stored["F-2"].anonymous, stored["F-2"].author_label) == (True, None)
    assert stored["F-2"].given_at == given
    async with tenant_transaction(tenant_id(other)):
        assert await Feedback.all().count() == 0


def test_every_records_kind_has_a_writer_and_bilingual_fields() -> None:
    assert list(RECORD_KINDS) == [
        "org_units",
        "employees",
        "skills",
        "employee_skills",
        "engagements",
        "appraisals",
        "feedback",
    ]
    for code, (spec, _) in RECORD_KINDS.items():
        assert spec.code == code
        names = [f.name for f in spec.fields]
        assert len(names) == len(set(names)), code
        assert set(spec.key) <= set(names), code
        for field in spec.fields:
            assert field.label_en, (code, field.name)
            assert field.label_zh, (code, field.name)
