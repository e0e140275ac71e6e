"""Employees through GraphQL: reach by role, profile fields, mutations and ERP upserts."""

from __future__ import annotations

from datetime import date

from api.runtime import AppRuntime
from domain.org.service import org_service
from domain.people.models import CustomFieldType
from domain.people.service import EnumOption, custom_field_service
from tenants.models import Tenant
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
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_org_unit,
    create_skill,
    set_skill,
)
from tests.support.graphql import GraphQLClient

EMPLOYEES = """
query($first: Int, $filter: EmployeeFilter) {
  employees(first: $first, filter: $filter) {
    edges { node { id name employeeNumber status level { code rank name { zh en } }
                   orgUnit { id name } nationalId } }
    pageInfo { hasNextPage }
  }
}
"""


async def _names(
    gql: GraphQLClient, token: str, filter: dict[str, object] | None = None
) -> list[str]:
    data = (await gql(EMPLOYEES, {"first": 100, "filter": filter}, token=token)).ok()
    return [edge["node"]["name"] for edge in data["employees"]["edges"]]


async def test_each_role_sees_its_reach(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user = await create_user(tenant, roles=("manager",))
    worker_user = await create_user(tenant, roles=("employee",))
    boss = await create_employee(tenant, name="Boss", org_unit=side, user=boss_user)
    await create_employee(tenant, name="Worker", org_unit=team, user=worker_user)
    await create_employee(tenant, name="Outsider", org_unit=side)
    await create_employee(other, name="Foreigner")
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), dept.id, boss.id)

    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    sales = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
    assert await _names(gql, admin) == ["Boss", "Outsider", "Worker"]
    assert await _names(gql, sales) == ["Boss", "Outsider", "Worker"]
    assert await _names(gql, user_token(runtime.tokens, boss_user)) == ["Boss", "Worker"]
    assert await _names(gql, user_token(runtime.tokens, worker_user)) == ["Worker"]
    reader = await create_api_client(tenant, scopes=("records:read",))
    assert await _names(gql, client_token(runtime.tokens, reader.client)) == [
        "Boss",
        "Outsider",
        "Worker",
    ]


async def test_node_answers_an_unreachable_employee_as_missing(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    me_user = await create_user(tenant, roles=("employee",))
    me = await create_employee(tenant, name="Me", user=me_user)
    colleague = await create_employee(tenant, name="Colleague")
    node = "query($id: ID!) { node(id: $id) { ... on Employee { name } } }"
    token = user_token(runtime.tokens, me_user)
    assert (await gql(node, {"id": global_id("Employee", me.id)}, token=token)).ok()["node"] == {
        "name": "Me"
    }
    assert (await gql(node, {"id": global_id("Employee", colleague.id)}, token=token)).ok()[
        "node"
    ] is None
    viewer = (await gql("{ viewer { employee { name } } }", token=token)).ok()
    assert viewer["viewer"]["employee"] == {"name": "Me"}


async def test_national_ids_are_shown_to_admin_and_hr_only(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    await create_employee(tenant, name="Li", national_id="11010519491231002X")
    for roles, expected in (
        (("admin",), "11010519491231002X"),
        (("hr",), "11010519491231002X"),
        (("sales",), None),
    ):
        token = user_token(runtime.tokens, await create_user(tenant, roles=roles))
        data = (await gql(EMPLOYEES, {"first": 10}, token=token)).ok()
        assert data["employees"]["edges"][0]["node"]["nationalId"] == expected, roles


async def test_the_list_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    teams = [await create_org_unit(tenant, name=f"Team {i}", kind="team") for i in range(3)]
    for i in range(60):
        await create_employee(tenant, name=f"P{i:02d}", level="mid", org_unit=teams[i % 3])
    token = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    costs = set()
    for first in (5, 25, 60):
        response = await gql(EMPLOYEES, {"first": first}, token=token)
        assert len(response.ok()["employees"]["edges"]) == first
        costs.add(response.statements)
    assert costs == {3}  # the scope, the caller, one page with its org units


async def test_filters_by_subtree_level_and_search(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    await create_employee(
        tenant, name="Ada", level="senior", org_unit=team, employee_number="ADA-1"
    )
    await create_employee(tenant, name="Bo", level="junior", org_unit=dept)
    await create_employee(tenant, name="Cy", level="senior")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    assert await _names(gql, token, {"orgUnitId": global_id("OrgUnit", dept.id)}) == ["Ada", "Bo"]
    assert await _names(gql, token, {"levels": ["senior"]}) == ["Ada", "Cy"]
    assert await _names(gql, token, {"search": "ada-"}) == ["Ada"]


CREATE = """
mutation($input: EmployeeCreateInput!) {
  createEmployee(input: $input) {
    __typename
    ... on EmployeePayload { employee { id employeeNumber phone customFields level { code } } }
    ... on EmployeeCreateError { code field message messageZh details { field code message } }
  }
}
"""


async def test_create_and_update_with_precise_errors(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    bad = (
        await gql(
            CREATE,
            {
                "input": {
                    "employeeNumber": "E 1",
                    "name": "",
                    "phone": "12",
                    "level": "king",
                    "customFields": {"x": 1},
                }
            },
            token=token,
        )
    ).ok()["createEmployee"]
    assert bad["__typename"] == "EmployeeCreateError"
    assert sorted(d["field"] for d in bad["details"]) == [
        "customFields.x",
        "employeeNumber",
        "level",
        "name",
        "phone",
    ]

    good = (
        await gql(
            CREATE,
            {
                "input": {
                    "employeeNumber": "E-1",
                    "name": "Ada",
                    "phone": "13800138000",
                    "level": "senior",
                }
            },
            token=token,
        )
    ).ok()["createEmployee"]
    assert good["employee"]["phone"] == "+8613800138000"
    update = """mutation($input: EmployeeUpdateInput!) { updateEmployee(input: $input) {
      ... on EmployeePayload { employee { name phone level { code } } } ... on EmployeeUpdateError { code field } } }"""
    changed = (
        await gql(
            update,
            {"input": {"id": good["employee"]["id"], "name": "Ada L.", "phone": None}},
            token=token,
        )
    ).ok()
    assert changed["updateEmployee"]["employee"] == {
        "name": "Ada L.",
        "phone": None,
        "level": {"code": "senior"},
    }


UPSERT = """
mutation($items: [EmployeeUpsertInput!]!) {
  upsertEmployees(items: $items) {
    __typename
    ... on EmployeesUpsertPayload { results { key outcome employee { name } error { code field } } }
    ... on EmployeesUpsertError { code field message }
  }
}
"""


async def test_erp_upserts_are_idempotent_and_limited(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    await create_org_unit(tenant, name="Team", kind="team", external_key="T")
    erp = await create_api_client(tenant, scopes=("records:write",))
    token = client_token(runtime.tokens, erp.client)
    items = [
        {"employeeNumber": "E-1", "name": "Ada", "orgUnitExternalKey": "T", "level": "mid"},
        {"employeeNumber": "E-2", "name": "Bo", "level": "nope"},
    ]
    first = (await gql(UPSERT, {"items": items}, token=token)).ok()["upsertEmployees"]["results"]
    assert [(r["key"], r["outcome"], r["error"]) for r in first] == [
        ("E-1", "CREATED", None),
        ("E-2", "FAILED", {"code": "INVALID", "field": "level"}),
    ]
    again = (await gql(UPSERT, {"items": items[:1]}, token=token)).ok()["upsertEmployees"][
        "results"
    ]
    assert again[0]["outcome"] == "UNCHANGED"
    too_many = [{"employeeNumber": f"N-{i}", "name": "N"} for i in range(501)]
    refused = (await gql(UPSERT, {"items": too_many}, token=token)).ok()["upsertEmployees"]
    assert (refused["__typename"], refused["field"]) == ("EmployeesUpsertError", "items")


PROFILES = """
query($first: Int) { employees(first: $first) { edges { node {
  name orgUnit { name } skills { skill { name } level } latestAppraisal { period score }
} } } }
"""


async def test_profile_page_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given 60 people in 3 teams of a department, each with 2 skills and 2 appraisals
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    teams = [
        await create_org_unit(tenant, name=f"Team {i}", kind="team", parent=dept) for i in range(3)
    ]
    skills = [await create_skill(tenant, name) for name in ("Go", "Python")]
    for i in range(60):
        person = await create_employee(tenant, name=f"P{i:02d}", org_unit=teams[i % 3])
        for skill, level in zip(skills, (2, 4), strict=True):
            await set_skill(tenant, person, skill, level)
        for year in (2023, 2024):
            await create_appraisal(
                tenant,
                person,
                period=str(year),
                period_start=date(year, 1, 1),
                period_end=date(year, 12, 31),
                score=year - 1950,
            )
    # and a manager of the department, and another tenant's person
    boss_user = await create_user(tenant, roles=("manager",))
    boss = await create_employee(tenant, name="Boss", org_unit=dept, user=boss_user)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), dept.id, boss.id)
    await create_employee(other, name="P00 elsewhere")
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    manager = user_token(runtime.tokens, boss_user)

    for token in (admin, manager):
        costs = set()
        for first in (5, 25, 60):
            response = await gql(PROFILES, {"first": first}, token=token)
            nodes = [edge["node"] for edge in response.ok()["employees"]["edges"]]
            assert len(nodes) == first
            assert nodes[0] == {
                "name": "Boss",
                "orgUnit": {"name": "Dept"},
                "skills": [],
                "latestAppraisal": None,
            }
            assert nodes[1] == {
                "name": "P00",
                "orgUnit": {"name": "Team 0"},
                "skills": [
                    {"skill": {"name": "Python"}, "level": 4},
                    {"skill": {"name": "Go"}, "level": 2},
                ],
                "latestAppraisal": {"period": "2024", "score": "74.00"},
            }
            costs.add(response.statements)
        assert len(costs) == 1, costs
        assert max(costs) <= 6, costs
    everyone = (await gql(PROFILES, {"first": 100}, token=admin)).ok()["employees"]["edges"]
    assert len(everyone) == 61
    assert "P00 elsewhere" not in [edge["node"]["name"] for edge in everyone]


DEFINITIONS = """
{ customFieldDefinitions { id entity key label { zh en } type required
  options { value label { zh en } } position archivedAt } }
"""


async def _define_fields(tenant: Tenant, prefix: str, numbers: range) -> None:
    """Employee custom fields ``<prefix>_<number>`` in form order, enums of two options."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        for number in numbers:
            await custom_field_service.create(
                tid,
                key=f"{prefix}_{number:02d}",
                label_zh=f"字段{number}",
                label_en=f"Field {number}",
                kind=CustomFieldType.ENUM,
                options=[EnumOption("a", "甲", "A"), EnumOption("b", "乙", "B")],
                position=number,
            )


async def test_custom_field_definitions_cost_the_same_statements_for_any_number(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # The list is not paginated: what may not grow is its cost with the number of fields.
    tenant, other = await create_tenant(), await create_tenant()
    await _define_fields(other, "elsewhere", range(3))
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    costs = set()
    defined = 0
    for count in (2, 12):
        # given the tenant has that many fields
        await _define_fields(tenant, "field", range(defined, count))
        defined = count
        # when HR reads them
        response = await gql(DEFINITIONS, token=token)
        definitions = response.ok()["customFieldDefinitions"]
        # then every one of its own comes back in form order, none of the other tenant's
        assert [d["key"] for d in definitions] == [f"field_{i:02d}" for i in range(count)]
        assert definitions[1] == {
            "id": definitions[1]["id"],
            "entity": "employee",
            "key": "field_01",
            "label": {"zh": "字段1", "en": "Field 1"},
            "type": "ENUM",
            "required": False,
            "options": [
                {"value": "a", "label": {"zh": "甲", "en": "A"}},
                {"value": "b", "label": {"zh": "乙", "en": "B"}},
            ],
            "position": 1,
            "archivedAt": None,
        }
        costs.add(response.statements)
    assert costs == {3}, costs  # the scope, the caller, the definitions


async def test_filters_naming_something_else_are_bad_input(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given ids of a person and of a unit where a unit's and a skill's belong
    tenant, other = await create_tenant(), await create_tenant()
    unit = await create_org_unit(tenant, name="Team", kind="team")
    person = await create_employee(tenant, name="Ann", org_unit=unit)
    await create_employee(other, name="Foreigner")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    # when
    by_unit = await gql(
        EMPLOYEES, {"filter": {"orgUnitId": global_id("Employee", person.id)}}, token=token
    )
    by_skill = await gql(
        EMPLOYEES,
        {"filter": {"skills": [{"skillId": global_id("OrgUnit", unit.id), "minLevel": 1}]}},
        token=token,
    )
    # then each is refused naming its field, not masked as an unexpected error
    assert by_unit.error_codes == ["BAD_USER_INPUT"]
    assert by_unit.errors[0]["extensions"]["field"] == "orgUnitId"
    assert by_skill.error_codes == ["BAD_USER_INPUT"]
    assert by_skill.errors[0]["extensions"]["field"] == "skills"
    assert await _names(gql, token, {"orgUnitId": global_id("OrgUnit", unit.id)}) == ["Ann"]
