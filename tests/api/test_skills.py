"""Skills through GraphQL: the catalogue, its ERP sync, people's levels and their history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.runtime import AppRuntime
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee
from domain.skills import repository as skills_repo
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    client_token,
    create_api_client,
    create_tenant,
    create_user,
    global_id,
    tenant_id,
    user_token,
)
from tests.factories_records import create_employee, create_org_unit, create_skill, set_skill
from tests.support.graphql import GraphQLClient

CATALOGUE = """
query($filter: SkillFilter) { skills(first: 50, filter: $filter) {
  edges { node { name category aliases archivedAt } } } }
"""

SKILL_NODE = "query($id: ID!) { node(id: $id) { ... on Skill { name aliases label { zh en } } } }"

CREATE = """
mutation($input: SkillCreateInput!) { createSkill(input: $input) {
  __typename
  ... on SkillPayload { skill { id name category aliases label { zh en } } }
  ... on SkillCreateError { code field message details { code field } }
} }
"""

UPDATE = """
mutation($input: SkillUpdateInput!) { updateSkill(input: $input) {
  __typename
  ... on SkillPayload { skill { name category aliases } }
  ... on SkillUpdateError { code field message }
} }
"""

ARCHIVE = """
mutation($id: ID!) { archiveSkill(id: $id) {
  __typename
  ... on SkillPayload { skill { name archivedAt } }
  ... on SkillArchiveError { code field }
} }
"""

UPSERT = """
mutation($items: [SkillUpsertInput!]!) { upsertSkills(items: $items) {
  __typename
  ... on SkillsUpsertPayload { results { key outcome skill { name aliases } error { code field } } }
  ... on SkillsUpsertError { code field }
} }
"""

SET = """
mutation($input: EmployeeSkillInput!) { setEmployeeSkill(input: $input) {
  __typename
  ... on EmployeeSkillPayload { employeeSkill { skill { name } level source evaluatedOn } }
  ... on EmployeeSkillError { code field }
} }
"""

REMOVE = """
mutation($employeeId: ID!, $skillId: ID!) {
  removeEmployeeSkill(employeeId: $employeeId, skillId: $skillId) {
    __typename
    ... on EmployeeSkillRemovePayload { removed }
    ... on EmployeeSkillError { code field }
  }
}
"""

PROFILE = """
query($id: ID!, $skillId: ID) { node(id: $id) { ... on Employee {
  skills { skill { name } level source }
  skillHistory(skillId: $skillId) { skillId level source evaluatedOn }
} } }
"""


async def _mutate(
    gql: GraphQLClient, document: str, token: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """The one root field's result of a mutation."""
    data = (await gql(document, variables, token=token)).ok()
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


async def _names(gql: GraphQLClient, token: str, **filter: Any) -> list[str]:
    data = (await gql(CATALOGUE, {"filter": filter}, token=token)).ok()
    return [edge["node"]["name"] for edge in data["skills"]["edges"]]


async def _manager_of(tenant: Tenant, unit: OrgUnit, name: str) -> tuple[User, Employee]:
    """A manager's user account, linked to an employee who manages ``unit``."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_employee(tenant, name=name, org_unit=unit, user=user)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user, person


# --- the catalogue ---------------------------------------------------------------------------


async def test_the_catalogue_finds_names_in_part_and_aliases_exactly(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a catalogue, and another tenant's skills with similar names
    tenant, other = await create_tenant(), await create_tenant()
    python = await create_skill(tenant, "Python", aliases=("PY", "CPython"))
    await create_skill(tenant, "Java", category="Languages")
    await create_skill(tenant, "JavaScript", aliases=("JS", "ECMAScript"), category="Languages")
    await create_skill(tenant, "Rust", category="Systems")
    perl = await create_skill(tenant, "Perl")
    theirs = await create_skill(other, "Pyramid", aliases=("py",))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    archived = (await gql(ARCHIVE, {"id": global_id("Skill", perl.id)}, token=hr)).ok()
    assert archived["archiveSkill"]["skill"]["archivedAt"] is not None
    token = user_token(runtime.tokens, await create_user(tenant, roles=("employee",)))

    # then every role reads the catalogue by name, with its aliases in key form
    listing = (await gql(CATALOGUE, {"filter": None}, token=token)).ok()["skills"]["edges"]
    assert [edge["node"] for edge in listing] == [
        {"name": "Java", "category": "Languages", "aliases": [], "archivedAt": None},
        {
            "name": "JavaScript",
            "category": "Languages",
            "aliases": ["ecmascript", "js"],
            "archivedAt": None,
        },
        {"name": "Python", "category": None, "aliases": ["cpython", "py"], "archivedAt": None},
        {"name": "Rust", "category": "Systems", "aliases": [], "archivedAt": None},
    ]
    assert await _names(gql, token, search="JAVA") == ["Java", "JavaScript"]
    assert await _names(gql, token, search="py") == ["Python"]  # not the other tenant's
    assert await _names(gql, token, search="ｊｓ") == ["JavaScript"]  # full-width alias
    assert await _names(gql, token, search="cpython") == ["Python"]
    assert await _names(gql, token, search="cpy") == []  # aliases match whole only
    assert await _names(gql, token, category="Languages") == ["Java", "JavaScript"]
    assert await _names(gql, token, search="perl") == []
    assert await _names(gql, token, search="perl", includeArchived=True) == ["Perl"]

    # and a skill is a node, of this tenant only
    node = (await gql(SKILL_NODE, {"id": global_id("Skill", python.id)}, token=token)).ok()
    assert node["node"] == {
        "name": "Python",
        "aliases": ["cpython", "py"],
        "label": {"zh": "Python", "en": "Python"},
    }
    foreign = (await gql(SKILL_NODE, {"id": global_id("Skill", theirs.id)}, token=token)).ok()
    assert foreign["node"] is None


async def test_catalogue_changes_with_precise_errors(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    await create_skill(tenant, "Python", aliases=("py",))
    theirs = await create_skill(other, "Go")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    async def create(**fields: Any) -> dict[str, Any]:
        return await _mutate(gql, CREATE, token, {"input": fields})

    async def update(**fields: Any) -> dict[str, Any]:
        return await _mutate(gql, UPDATE, token, {"input": fields})

    # every problem of the input at once
    bad = await create(name="  ", aliases=["ok", " "])
    assert (bad["__typename"], bad["code"]) == ("SkillCreateError", "INVALID")
    assert [(d["code"], d["field"]) for d in bad["details"]] == [
        ("INVALID", "name"),
        ("INVALID", "aliases"),
    ]
    # names and aliases are one namespace, compared in any case and width
    taken = await create(name="ＰＹＴＨＯＮ")
    assert (taken["code"], taken["field"]) == ("DUPLICATE", "name")
    assert taken["message"] == "'ＰＹＴＨＯＮ' is already the name or an alias of skill 'Python'"
    alias_taken = await create(name="Go", aliases=["PY"])
    assert (alias_taken["code"], alias_taken["field"]) == ("DUPLICATE", "aliases")

    created = await create(
        name=" Go ", nameZh="Go 语言", category="Backend", aliases=["golang", "GoLang", "go"]
    )
    assert created["__typename"] == "SkillPayload"
    go = created["skill"]
    assert {k: v for k, v in go.items() if k != "id"} == {
        "name": "Go",
        "category": "Backend",
        "aliases": ["golang"],  # repeated and own-name aliases dropped
        "label": {"zh": "Go 语言", "en": "Go"},
    }

    # an update changes only what it names; renaming drops the alias that is now the name
    renamed = await update(id=go["id"], name="Golang")
    assert renamed["skill"] == {"name": "Golang", "category": "Backend", "aliases": []}
    clash = await update(id=go["id"], aliases=["Py"])
    assert (clash["__typename"], clash["code"], clash["field"]) == (
        "SkillUpdateError",
        "DUPLICATE",
        "aliases",
    )
    cleared = await update(id=go["id"], category=None, aliases=["go"])
    assert cleared["skill"] == {"name": "Golang", "category": None, "aliases": ["go"]}

    # another tenant's skill, or an id of another type, is not found
    for wrong in (global_id("Skill", theirs.id), global_id("Employee", theirs.id)):
        missing = await update(id=wrong, name="Mine")
        assert (missing["code"], missing["field"]) == ("NOT_FOUND", "id")
    refused = (await gql(ARCHIVE, {"id": global_id("Skill", theirs.id)}, token=token)).ok()
    assert refused["archiveSkill"] == {
        "__typename": "SkillArchiveError",
        "code": "NOT_FOUND",
        "field": "id",
    }
    async with tenant_transaction(tenant_id(other)):
        untouched = await skills_repo.get_skill(tenant_id(other), theirs.id)
    assert untouched is not None
    assert (untouched.name, untouched.archived_at) == ("Go", None)

    # archiving keeps the name taken, and the catalogue says so
    archived = (await gql(ARCHIVE, {"id": go["id"]}, token=token)).ok()["archiveSkill"]
    assert archived["skill"]["name"] == "Golang"
    assert archived["skill"]["archivedAt"] is not None
    assert await _names(gql, token) == ["Python"]
    again = await create(name="golang")
    assert (again["code"], again["field"]) == ("DUPLICATE", "name")
    assert again["message"].endswith("(archived)")

    # only administrators and HR keep the catalogue
    employee = user_token(runtime.tokens, await create_user(tenant, roles=("employee",)))
    forbidden = await gql(CREATE, {"input": {"name": "Haskell"}}, token=employee)
    assert forbidden.error_codes == ["FORBIDDEN"]


async def test_upserting_skills_twice_changes_nothing(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    erp = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("records:write",))).client
    )
    items: list[dict[str, Any]] = [
        {"externalKey": "S-1", "name": "Python", "aliases": ["PY", "py3"], "category": "Lang"},
        {"externalKey": "S-2", "name": "Kubernetes", "aliases": ["k8s"]},
        {"externalKey": "S-3", "name": "Docker", "nameZh": "容器"},
        {"externalKey": "S-4", "name": "K8S"},  # the name is S-2's alias
    ]

    async def run(batch: list[dict[str, Any]], token: str = erp) -> list[tuple[Any, ...]]:
        data = (await gql(UPSERT, {"items": batch}, token=token)).ok()["upsertSkills"]
        return [
            (r["key"], r["outcome"], r["error"], r["skill"]["name"] if r["skill"] else None)
            for r in data["results"]
        ]

    failure = ("S-4", "FAILED", {"code": "DUPLICATE", "field": "name"}, None)
    assert await run(items) == [
        ("S-1", "CREATED", None, "Python"),
        ("S-2", "CREATED", None, "Kubernetes"),
        ("S-3", "CREATED", None, "Docker"),
        failure,
    ]
    # the same batch again, aliases reordered and recased: nothing changes
    items[0]["aliases"] = ["Py3", "py"]
    assert await run(items) == [
        ("S-1", "UNCHANGED", None, "Python"),
        ("S-2", "UNCHANGED", None, "Kubernetes"),
        ("S-3", "UNCHANGED", None, "Docker"),
        failure,
    ]
    items[1]["aliases"] = ["k8s", "kube"]
    assert [outcome for _, outcome, _, _ in await run(items[:3])] == [
        "UNCHANGED",
        "UPDATED",
        "UNCHANGED",
    ]
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    assert await _names(gql, hr) == ["Docker", "Kubernetes", "Python"]

    # more than 500 items is refused as a whole
    too_many = [{"externalKey": f"K-{i}", "name": f"Skill {i}"} for i in range(501)]
    refused = (await gql(UPSERT, {"items": too_many}, token=erp)).ok()["upsertSkills"]
    assert refused == {"__typename": "SkillsUpsertError", "code": "INVALID", "field": "items"}
    assert await _names(gql, hr, search="skill") == []

    # the same external keys are another tenant's own
    other_erp = client_token(
        runtime.tokens, (await create_api_client(other, scopes=("records:write",))).client
    )
    assert [outcome for _, outcome, _, _ in await run(items[:1], other_erp)] == ["CREATED"]
    assert await _names(gql, hr) == ["Docker", "Kubernetes", "Python"]


# --- people's levels -------------------------------------------------------------------------


async def test_who_may_record_a_level_and_as_which_source(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a manager of a department, a worker in a team below it, and an outsider
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, boss = await _manager_of(tenant, dept, "Boss")
    worker_user = await create_user(tenant, roles=("employee",))
    worker = await create_employee(tenant, name="Worker", org_unit=team, user=worker_user)
    outsider = await create_employee(tenant, name="Outsider", org_unit=side)
    foreigner = await create_employee(other, name="Foreigner")
    python = await create_skill(tenant, "Python")
    theirs = await create_skill(other, "Python")
    retired = await create_skill(tenant, "Cobol")
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    await gql(ARCHIVE, {"id": global_id("Skill", retired.id)}, token=hr)
    worker_token = user_token(runtime.tokens, worker_user)
    boss_token = user_token(runtime.tokens, boss_user)
    today = datetime.now(UTC).date().isoformat()

    async def record(
        token: str, person: Employee, level: int = 3, source: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        given = {
            "employeeId": global_id("Employee", person.id),
            "skillId": global_id("Skill", python.id),
            "level": level,
            "source": source,
            **extra,
        }
        return await _mutate(gql, SET, token, {"input": given})

    def refused(code: str, field: str) -> dict[str, Any]:
        return {"__typename": "EmployeeSkillError", "code": code, "field": field}

    # a person rates themselves, as SELF only
    assert (await record(worker_token, worker, 2))["employeeSkill"] == {
        "skill": {"name": "Python"},
        "level": 2,
        "source": "SELF",
        "evaluatedOn": today,
    }
    assert await record(worker_token, worker, source="MANAGER") == refused("INVALID", "source")
    assert await record(worker_token, worker, source="VERIFIED") == refused("INVALID", "source")
    assert await record(worker_token, outsider) == refused("NOT_FOUND", "employeeId")

    # a manager rates their subtree as MANAGER, and themselves as SELF
    assert (await record(boss_token, worker, 4))["employeeSkill"]["source"] == "MANAGER"
    assert await record(boss_token, worker, source="VERIFIED") == refused("INVALID", "source")
    assert await record(boss_token, worker, source="SELF") == refused("INVALID", "source")
    assert (await record(boss_token, boss, 5))["employeeSkill"]["source"] == "SELF"
    assert await record(boss_token, outsider) == refused("NOT_FOUND", "employeeId")

    # HR records any source on anyone of the tenant
    verified = await record(hr, outsider, 5, "VERIFIED")
    assert (verified["employeeSkill"]["level"], verified["employeeSkill"]["source"]) == (
        5,
        "VERIFIED",
    )
    assert (await record(hr, worker, 4))["employeeSkill"]["source"] == "MANAGER"
    assert await record(hr, worker, 6) == refused("INVALID", "level")
    tomorrow_but_one = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    assert await record(hr, worker, evaluatedOn=tomorrow_but_one) == refused(
        "INVALID", "evaluatedOn"
    )
    assert await record(hr, worker, skillId=global_id("Skill", retired.id)) == refused(
        "NOT_FOUND", "skillId"
    )

    # nothing of another tenant can be named
    assert await record(hr, foreigner) == refused("NOT_FOUND", "employeeId")
    assert await record(hr, worker, skillId=global_id("Skill", theirs.id)) == refused(
        "NOT_FOUND", "skillId"
    )

    # what stuck: the worker's level was last set by HR, the outsider's verified
    profile = (await gql(PROFILE, {"id": global_id("Employee", worker.id)}, token=hr)).ok()
    assert profile["node"]["skills"] == [
        {"skill": {"name": "Python"}, "level": 4, "source": "MANAGER"}
    ]
    assert [(e["level"], e["source"]) for e in profile["node"]["skillHistory"]] == [
        (2, "SELF"),
        (4, "MANAGER"),
    ]  # HR's 4 as MANAGER on the same day was no change
    seen = (await gql(PROFILE, {"id": global_id("Employee", outsider.id)}, token=hr)).ok()
    assert seen["node"]["skills"] == [
        {"skill": {"name": "Python"}, "level": 5, "source": "VERIFIED"}
    ]


async def test_removing_a_skill_follows_the_same_reach(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, team, "Boss")
    worker_user = await create_user(tenant, roles=("employee",))
    worker = await create_employee(tenant, name="Worker", org_unit=team, user=worker_user)
    outsider = await create_employee(tenant, name="Outsider", org_unit=side)
    python = await create_skill(tenant, "Python")
    rust = await create_skill(tenant, "Rust")
    for person in (worker, outsider):
        await set_skill(tenant, person, python, 3)
        await set_skill(tenant, person, rust, 2)

    async def remove(token: str, person: Employee, skill_id: Any) -> dict[str, Any]:
        variables = {
            "employeeId": global_id("Employee", person.id),
            "skillId": global_id("Skill", skill_id),
        }
        return await _mutate(gql, REMOVE, token, variables)

    worker_token = user_token(runtime.tokens, worker_user)
    boss_token = user_token(runtime.tokens, boss_user)
    not_found = {"__typename": "EmployeeSkillError", "code": "NOT_FOUND", "field": "employeeId"}
    assert await remove(worker_token, worker, python.id) == {
        "__typename": "EmployeeSkillRemovePayload",
        "removed": True,
    }
    assert (await remove(worker_token, worker, python.id))["removed"] is False
    assert await remove(worker_token, outsider, python.id) == not_found
    assert await remove(boss_token, outsider, python.id) == not_found
    assert (await remove(boss_token, worker, rust.id))["removed"] is True

    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    mine = (await gql(PROFILE, {"id": global_id("Employee", worker.id)}, token=hr)).ok()
    assert mine["node"]["skills"] == []
    theirs = (await gql(PROFILE, {"id": global_id("Employee", outsider.id)}, token=hr)).ok()
    assert [(s["skill"]["name"], s["level"]) for s in theirs["node"]["skills"]] == [
        ("Python", 3),
        ("Rust", 2),
    ]


async def test_a_skill_evolves_oldest_first(gql: GraphQLClient, runtime: AppRuntime) -> None:
    # given a person whose Python level went from 2 to 4 and was then removed
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant, name="Ada")
    python = await create_skill(tenant, "Python")
    sql = await create_skill(tenant, "SQL")
    foreign_person = await create_employee(other, name="Elsewhere")
    await set_skill(other, foreign_person, await create_skill(other, "Python"), 5)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    person_id = global_id("Employee", person.id)
    python_id = global_id("Skill", python.id)
    for level in (2, 4):
        given = {"employeeId": person_id, "skillId": python_id, "level": level}
        assert (await gql(SET, {"input": given}, token=token)).ok()["setEmployeeSkill"][
            "__typename"
        ] == "EmployeeSkillPayload"
    given = {"employeeId": person_id, "skillId": global_id("Skill", sql.id), "level": 3}
    await gql(SET, {"input": {**given, "source": "VERIFIED"}}, token=token)
    removed = await gql(REMOVE, {"employeeId": person_id, "skillId": python_id}, token=token)
    assert removed.ok()["removeEmployeeSkill"]["removed"] is True

    # then Python's history has three events, oldest first, the removal without a level
    today = datetime.now(UTC).date().isoformat()
    profile = (await gql(PROFILE, {"id": person_id, "skillId": python_id}, token=token)).ok()
    assert profile["node"]["skillHistory"] == [
        {"skillId": python_id, "level": 2, "source": "MANAGER", "evaluatedOn": today},
        {"skillId": python_id, "level": 4, "source": "MANAGER", "evaluatedOn": today},
        {"skillId": python_id, "level": None, "source": "MANAGER", "evaluatedOn": today},
    ]
    assert profile["node"]["skills"] == [
        {"skill": {"name": "SQL"}, "level": 3, "source": "VERIFIED"}
    ]
    everything = (await gql(PROFILE, {"id": person_id}, token=token)).ok()["node"]
    assert [(e["level"], e["source"]) for e in everything["skillHistory"]] == [
        (2, "MANAGER"),
        (4, "MANAGER"),
        (3, "VERIFIED"),
        (None, "MANAGER"),
    ]

    # another tenant's person is not there at all
    foreign = (
        await gql(PROFILE, {"id": global_id("Employee", foreign_person.id)}, token=token)
    ).ok()
    assert foreign["node"] is None


SKILLS_PAGE = """
query($first: Int) { skills(first: $first) {
  edges { node { id name category aliases label { zh en } } } } }
"""


async def test_the_catalogue_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given 30 skills in 3 categories, each with an alias, and another tenant's skills
    tenant, other = await create_tenant(), await create_tenant()
    for i in range(30):
        await create_skill(tenant, f"Skill {i:02d}", category=f"Cat {i % 3}", aliases=(f"s{i}",))
    for i in range(3):
        await create_skill(other, f"Skill {i:02d} elsewhere")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("employee",)))

    costs = set()
    for first in (3, 10, 30):
        response = await gql(SKILLS_PAGE, {"first": first}, token=token)
        nodes = [edge["node"] for edge in response.ok()["skills"]["edges"]]
        assert len(nodes) == first
        assert {k: v for k, v in nodes[1].items() if k != "id"} == {
            "name": "Skill 01",
            "category": "Cat 1",
            "aliases": ["s1"],
            "label": {"zh": "Skill 01", "en": "Skill 01"},
        }
        costs.add(response.statements)
    assert costs == {3}, costs  # the scope, the caller, the page
    everything = (await gql(SKILLS_PAGE, {"first": 100}, token=token)).ok()["skills"]["edges"]
    assert [edge["node"]["name"] for edge in everything] == [f"Skill {i:02d}" for i in range(30)]
