"""Skills: the catalogue's names and aliases, its ERP sync, and people's levels over time."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest

from domain.audit.models import AuditEntry
from domain.changes import Outcome
from domain.people.models import Employee
from domain.people.service import EmployeeChanges, employee_service
from domain.skills.models import EmployeeSkill, EmployeeSkillEvent, Skill, SkillSource
from domain.skills.service import SkillChanges, SkillItem, name_key, skill_service
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import TenantID, tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_employee, create_skill, set_skill

JAN, FEB, MAR = date(2024, 1, 10), date(2024, 2, 10), date(2024, 3, 10)


def _fields(error: ServiceError) -> list[str | None]:
    return [problem.field for problem in error.details or [error]]


async def _actions(tenant: Tenant, entity_type: str, entity_id: UUID) -> list[str]:
    async with tenant_transaction(tenant_id(tenant)):
        entries = await AuditEntry.filter(entity_type=entity_type, entity_id=entity_id).order_by(
            "at", "id"
        )
    return [entry.action for entry in entries]


# --- the catalogue ---------------------------------------------------------------------------


def test_name_keys_are_half_width_case_folded_and_single_spaced() -> None:
    assert name_key("  Machine   Learning ") == "machine learning"
    assert name_key("ＰＹＴＨＯＮ") == "python"
    assert name_key("ｐｙ") == name_key("PY") == "py"


async def test_a_skill_resolves_by_name_or_alias_in_any_case_or_width() -> None:
    # given a skill with aliases, and a skill of the same name in another tenant
    a, b = await create_tenant(), await create_tenant()
    python = await create_skill(a, "Python", aliases=("py", "Python 3"))
    theirs = await create_skill(b, "Python", aliases=("py",))
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        # then
        for text in ("Python", "python", "PY", "ｐｙ", "ＰＹＴＨＯＮ", " python   3 "):
            found = await skill_service.resolve(tid, text)
            assert found is not None, text
            assert found.id == python.id
        assert await skill_service.resolve(tid, "Java") is None
        assert await skill_service.resolve(tid, "  ") is None
        many = await skill_service.resolve_many(tid, ["PY", "Java", "python"])
        assert {text: skill.id for text, skill in many.items()} == {
            "PY": python.id,
            "python": python.id,
        }
    assert python.aliases == ["py", "python 3"]
    async with tenant_transaction(tenant_id(b)):
        found = await skill_service.resolve(tenant_id(b), "ｐｙ")
        assert found is not None
        assert found.id == theirs.id


async def test_names_and_aliases_are_unique_within_a_tenant() -> None:
    a = await create_tenant()
    await create_skill(a, "Python", aliases=("py",))
    tid = tenant_id(a)
    cases: list[tuple[str, tuple[str, ...], list[str | None]]] = [
        ("ＰＹＴＨＯＮ", (), ["name"]),  # the name of another skill, in another width
        ("PY", (), ["name"]),  # an alias of another skill
        ("Go", ("golang", "Py"), ["aliases"]),
        ("Go", ("python",), ["aliases"]),
        ("py", ("python",), ["name", "aliases"]),  # every clash reported
    ]
    for name, aliases, fields in cases:
        async with tenant_transaction(tid):
            with pytest.raises(ServiceError) as caught:
                await skill_service.create(tid, name=name, aliases=aliases)
        assert caught.value.code == ErrorCode.DUPLICATE, name
        assert sorted(_fields(caught.value), key=str) == sorted(fields, key=str), name
        assert caught.value.message_zh
    async with tenant_transaction(tid):
        assert await Skill.all().count() == 1


async def test_an_alias_equal_to_the_own_name_is_dropped_and_aliases_are_checked_on_update() -> (
    None
):
    a = await create_tenant()
    go = await create_skill(a, "Go", aliases=("GO", "golang", "Golang"))
    rust = await create_skill(a, "Rust")
    assert go.aliases == ["golang"]
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await skill_service.update(tid, rust.id, SkillChanges(aliases=["rs", "GOLANG"]))
        assert caught.value.code == ErrorCode.DUPLICATE
        assert caught.value.field == "aliases"
        with pytest.raises(ServiceError) as caught:
            await skill_service.update(tid, rust.id, SkillChanges(name="golang"))
        assert caught.value.field == "name"
    async with tenant_transaction(tid):
        # renaming a skill to one of its own aliases is fine: the alias goes
        renamed = await skill_service.update(tid, go.id, SkillChanges(name="Golang"))
        assert (renamed.name, renamed.name_key, renamed.aliases) == ("Golang", "golang", [])
        updated = await skill_service.update(
            tid, rust.id, SkillChanges(aliases=["RS"], category=" Languages ", name_zh="锈")
        )
        assert (updated.aliases, updated.category, updated.name_zh) == (["rs"], "Languages", "锈")
    assert await _actions(a, "skill", rust.id) == ["create", "update"]


async def test_clearing_a_skills_name_is_refused_as_required() -> None:
    # given a skill, and one of the same name in another tenant
    a, b = await create_tenant(), await create_tenant()
    go = await create_skill(a, "Go")
    await create_skill(b, "Go")
    tid = tenant_id(a)
    # when the update sends the name as null
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await skill_service.update(tid, go.id, SkillChanges(name=None, category="x" * 121))
    # then it is a problem of the name, reported with the others, and nothing changed
    assert caught.value.code == ErrorCode.INVALID
    assert sorted(_fields(caught.value), key=str) == ["category", "name"]
    async with tenant_transaction(tid):
        assert (await skill_service.get(tid, go.id)).name == "Go"


async def test_skill_fields_are_validated_all_at_once() -> None:
    a = await create_tenant()
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await skill_service.create(
                tid, name="  ", aliases=["ok", " "], category="x" * 121, external_key=" "
            )
    assert caught.value.code == ErrorCode.INVALID
    assert sorted(_fields(caught.value), key=str) == ["aliases", "category", "externalKey", "name"]


async def test_an_archived_skill_leaves_resolution_and_the_catalogue_but_keeps_its_name() -> None:
    a = await create_tenant()
    old = await create_skill(a, "Perl", aliases=("pl",))
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        archived = await skill_service.archive(tid, old.id)
        assert archived.archived_at is not None
        await skill_service.archive(tid, old.id)  # again: nothing more happens
        assert await skill_service.resolve(tid, "perl") is None
        page = await skill_service.page(tid, first=10, after=None)
        assert page.items == []
        page = await skill_service.page(tid, first=10, after=None, include_archived=True)
        assert [s.id for s in page.items] == [old.id]
        with pytest.raises(ServiceError) as caught:
            await skill_service.create(tid, name="Raku", aliases=["PL"])
        assert caught.value.code == ErrorCode.DUPLICATE
        assert "archived" in caught.value.message
    assert await _actions(a, "skill", old.id) == ["create", "archive"]


async def test_the_catalogue_pages_by_name_with_search_and_category() -> None:
    a, b = await create_tenant(), await create_tenant()
    for name, category, aliases in [
        ("TypeScript", "Languages", ("ts",)),
        ("python", "Languages", ()),
        ("Kubernetes", "Ops", ("k8s",)),
        ("Go", "Languages", ()),
    ]:
        await create_skill(a, name, category=category, aliases=aliases)
    await create_skill(b, "Ada", category="Languages")
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        first = await skill_service.page(tid, first=2, after=None)
        assert [s.name for s in first.items] == ["Go", "Kubernetes"]
        assert first.has_next_page
        rest = await skill_service.page(tid, first=10, after=first.cursors[-1])
        assert [s.name for s in rest.items] == ["python", "TypeScript"]
        assert not rest.has_next_page
        languages = await skill_service.page(tid, first=10, after=None, category="Languages")
        assert [s.name for s in languages.items] == ["Go", "python", "TypeScript"]
        by_alias = await skill_service.page(tid, first=10, after=None, search="Ｋ８Ｓ")
        assert [s.name for s in by_alias.items] == ["Kubernetes"]
        by_part = await skill_service.page(tid, first=10, after=None, search="SCRIPT")
        assert [s.name for s in by_part.items] == ["TypeScript"]


async def test_the_catalogue_sync_is_idempotent() -> None:
    # given
    a, b = await create_tenant(), await create_tenant()
    await create_skill(b, "Python", external_key="SK-1")  # the same key in another tenant
    items = [
        SkillItem("SK-1", "Python", name_zh="Python 编程", category="Languages", aliases=("py",)),
        SkillItem("SK-2", "Go", aliases=("golang", "Go")),
        SkillItem("SK-3", "SQL", name_en="SQL"),
    ]
    tid = tenant_id(a)
    # when the batch is sent twice
    async with tenant_transaction(tid):
        first = await skill_service.upsert(tid, items)
    async with tenant_transaction(tid):
        state = {s.external_key: (s.name, s.aliases, s.name_zh) for s in await Skill.all()}
        audited = await AuditEntry.filter(entity_type="skill").count()
        second = await skill_service.upsert(tid, items)
    # then the second run changes nothing
    assert [r.outcome for r in first] == [Outcome.CREATED] * 3
    assert [r.outcome for r in second] == [Outcome.UNCHANGED] * 3
    assert [r.key for r in second] == ["SK-1", "SK-2", "SK-3"]
    async with tenant_transaction(tid):
        assert {s.external_key: (s.name, s.aliases, s.name_zh) for s in await Skill.all()} == state
        assert await AuditEntry.filter(entity_type="skill").count() == audited == 3
        # and a changed item is an update, reordered aliases are not
        third = await skill_service.upsert(
            tid,
            [
                SkillItem(
                    "SK-1", "Python", name_zh="Python 编程", category="Languages", aliases=("py",)
                ),
                SkillItem("SK-2", "Go", aliases=("go", "Golang")),
                SkillItem("SK-3", "SQL", name_en=None),
            ],
        )
    assert [r.outcome for r in third] == [Outcome.UNCHANGED, Outcome.UNCHANGED, Outcome.UPDATED]


async def test_a_failing_sync_item_fails_alone() -> None:
    a = await create_tenant()
    await create_skill(a, "Python", aliases=("py",))
    tid = tenant_id(a)
    items = [
        SkillItem(None, "No key"),
        SkillItem("SK-1", "Go"),
        SkillItem("SK-2", "PY"),  # the alias of a skill entered by hand
        SkillItem("SK-3", "Rust", aliases=("rs",)),
        SkillItem("SK-4", "One"),
        SkillItem("SK-4", "Two"),
        SkillItem("SK-5", " "),
    ]
    async with tenant_transaction(tid):
        results = await skill_service.upsert(tid, items)
    assert [r.outcome for r in results] == [
        Outcome.FAILED,
        Outcome.CREATED,
        Outcome.FAILED,
        Outcome.CREATED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.FAILED,
    ]
    errors = [(r.error.code, r.error.field) if r.error else None for r in results]
    assert errors == [
        (ErrorCode.INVALID, "externalKey"),
        None,
        (ErrorCode.DUPLICATE, "name"),
        None,
        (ErrorCode.INVALID, "externalKey"),
        (ErrorCode.INVALID, "externalKey"),
        (ErrorCode.INVALID, "name"),
    ]
    async with tenant_transaction(tid):
        assert sorted(s.name for s in await Skill.all()) == ["Go", "Python", "Rust"]
    with pytest.raises(ServiceError) as caught:
        async with tenant_transaction(tid):
            await skill_service.upsert(tid, [SkillItem(f"K{i}", f"S{i}") for i in range(501)])
    assert caught.value.field == "items"


# --- people's levels -------------------------------------------------------------------------


async def test_set_level_appends_an_event_only_when_something_changes() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    python = await create_skill(a, "Python")
    tid = tenant_id(a)
    # when the level is set, set again unchanged, then raised and confirmed by a manager
    await set_skill(a, person, python, 2, evaluated_on=JAN)
    await set_skill(a, person, python, 2, evaluated_on=JAN)
    await set_skill(a, person, python, 3, evaluated_on=FEB)
    current = await set_skill(a, person, python, 3, source="manager", evaluated_on=MAR)
    # then
    assert (current.level, current.source, current.evaluated_on) == (3, SkillSource.MANAGER, MAR)
    async with tenant_transaction(tid):
        history = await skill_service.evolution(tid, person.id, python.id)
        assert await EmployeeSkill.all().count() == 1
        entries = await AuditEntry.filter(entity_type="employee", entity_id=person.id).order_by(
            "at", "id"
        )
    assert [(e.level, e.source, e.evaluated_on) for e in history] == [
        (2, SkillSource.SELF, JAN),
        (3, SkillSource.SELF, FEB),
        (3, SkillSource.MANAGER, MAR),
    ]
    skill_changes = [e.changes[f"skills.{python.id}"] for e in entries if e.action == "set_skill"]
    assert [change["after"]["level"] for change in skill_changes] == [2, 3, 3]
    assert skill_changes[0]["before"] is None


async def test_an_older_evaluation_joins_the_history_but_not_the_current_level() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    sql = await create_skill(a, "SQL")
    await set_skill(a, person, sql, 4, evaluated_on=MAR)
    current = await set_skill(a, person, sql, 2, evaluated_on=JAN)
    await set_skill(a, person, sql, 2, evaluated_on=JAN)  # imported again: nothing new
    assert (current.level, current.evaluated_on) == (4, MAR)
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        history = await skill_service.evolution(tid, person.id)
    assert [(e.level, e.evaluated_on) for e in history] == [(2, JAN), (4, MAR)]


async def test_evolution_lists_every_skill_in_date_order_and_a_removal_has_no_level() -> None:
    a = await create_tenant()
    person, other = await create_employee(a), await create_employee(a)
    python, go = await create_skill(a, "Python"), await create_skill(a, "Go")
    await set_skill(a, person, go, 1, evaluated_on=FEB)
    await set_skill(a, person, python, 2, evaluated_on=JAN)
    await set_skill(a, person, python, 4, evaluated_on=MAR)
    await set_skill(a, other, python, 5, evaluated_on=JAN)
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        assert await skill_service.remove(tid, person.id, python.id, recorded_by=person.id)
        assert not await skill_service.remove(tid, person.id, python.id)  # nothing left
    async with tenant_transaction(tid):
        everything = await skill_service.evolution(tid, person.id)
        python_only = await skill_service.evolution(tid, person.id, python.id)
        current = await skill_service.current_skills(tid, [person.id])
        removal = await EmployeeSkillEvent.filter(level=None).get()
        audited = await AuditEntry.filter(action="remove_skill", entity_id=person.id).count()
    assert [(e.skill_id, e.level) for e in everything] == [
        (python.id, 2),
        (go.id, 1),
        (python.id, 4),
        (python.id, None),
    ]
    assert [e.level for e in python_only] == [2, 4, None]
    assert [skill.name for _, skill in current[person.id]] == ["Go"]
    assert (removal.source, removal.recorded_by) == (SkillSource.SELF, person.id)
    assert audited == 1


async def test_set_level_reports_every_problem() -> None:
    a = await create_tenant()
    person = await create_employee(a)
    python = await create_skill(a, "Python")
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        for level in (0, 6):
            with pytest.raises(ServiceError) as caught:
                await skill_service.set_level(
                    tid, person.id, python.id, level=level, source=SkillSource.SELF
                )
            assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID, "level")
        with pytest.raises(ServiceError) as caught:
            await skill_service.set_level(
                tid,
                person.id,
                python.id,
                level=3,
                source=SkillSource.SELF,
                evaluated_on=date.today() + timedelta(days=30),
            )
        assert caught.value.field == "evaluatedOn"
        await skill_service.archive(tid, python.id)
        await employee_service.archive(tid, person.id)
        with pytest.raises(ServiceError) as caught:
            await skill_service.set_level(tid, person.id, python.id, level=9, source="guess")  # type: ignore[arg-type]
        assert caught.value.code == ErrorCode.INVALID
        assert _fields(caught.value) == ["level", "source", "employeeId", "skillId"]
        assert [p.code for p in caught.value.details][2:] == [ErrorCode.NOT_FOUND] * 2
        assert await EmployeeSkillEvent.all().count() == 0


async def test_another_tenants_skill_or_employee_cannot_be_used() -> None:
    a, b = await create_tenant(), await create_tenant()
    mine, theirs = await create_employee(a), await create_employee(b)
    their_skill = await create_skill(b, "Python")
    my_skill = await create_skill(a, "Python")
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await skill_service.set_level(
                tid, mine.id, their_skill.id, level=3, source=SkillSource.SELF
            )
        assert (caught.value.code, caught.value.field) == (ErrorCode.NOT_FOUND, "skillId")
        with pytest.raises(ServiceError) as caught:
            await skill_service.set_level(tid, theirs.id, my_skill.id, level=3, source="self")  # type: ignore[arg-type]
        assert (caught.value.code, caught.value.field) == (ErrorCode.NOT_FOUND, "employeeId")
        assert not await skill_service.remove(tid, theirs.id, their_skill.id)
    for tenant in (a, b):
        async with tenant_transaction(tenant_id(tenant)):
            assert await EmployeeSkill.all().count() == 0
            assert await EmployeeSkillEvent.all().count() == 0


async def test_current_skills_of_many_employees_is_one_statement() -> None:
    # given 60 employees with two or three skills each, and another tenant's
    a, b = await create_tenant(), await create_tenant()
    tid = tenant_id(a)
    async with tenant_transaction(tid):
        skills = [await skill_service.create(tid, name=n) for n in ("Go", "python", "Rust")]
        people: list[Employee] = []
        for i in range(60):
            person = await _employee(tid, i)
            people.append(person)
            for skill, level in zip(skills, (2, 4, 2 + i % 2), strict=True):
                if i % 3 == 0 and skill.name == "Rust":
                    continue
                await skill_service.set_level(
                    tid, person.id, skill.id, level=level, source=SkillSource.SELF
                )
        await skill_service.archive(tid, (await skill_service.create(tid, name="Old")).id)
    theirs = await create_employee(b)
    await set_skill(b, theirs, await create_skill(b, "Go"), 5)
    ids = [p.id for p in people]
    # when
    async with tenant_transaction(tid) as tx:
        before = tx.statements
        current = await skill_service.current_skills(tid, [*ids, theirs.id])
        statements = tx.statements - before
    # then
    assert statements == 1
    assert current[theirs.id] == []
    assert [(s.name, held.level) for held, s in current[ids[1]]] == [
        ("python", 4),
        ("Rust", 3),
        ("Go", 2),
    ]
    assert [(s.name, held.level) for held, s in current[ids[2]]] == [
        ("python", 4),
        ("Go", 2),
        ("Rust", 2),
    ]
    assert [s.name for _, s in current[ids[0]]] == ["python", "Go"]
    assert all(held.employee_id == i for i in ids for held, _ in current[i])


async def _employee(tid: TenantID, index: int) -> Employee:
    """An employee in the open transaction (factories open one each: too slow for 60)."""
    return await employee_service.create(
        tid, EmployeeChanges(employee_number=f"N{index:03}", name=f"Person {index}")
    )
