"""Org units through GraphQL: the tree, managers, moves and ERP upserts."""

from __future__ import annotations

from api.runtime import AppRuntime
from domain.org.service import org_service
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, create_user, global_id, tenant_id, user_token
from tests.factories_records import create_employee, create_org_unit
from tests.support.graphql import GraphQLClient

TREE = """
query($id: ID!) { node(id: $id) { ... on OrgUnit {
  name kind kindLabel { zh en } parent { name } ancestors { name } children { name }
  managers { name }
} } }
"""


async def test_a_unit_knows_its_place_in_the_tree(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    company = await create_org_unit(tenant, name="Acme", kind="company")
    dept = await create_org_unit(tenant, name="Platform", kind="department", parent=company)
    await create_org_unit(tenant, name="Cloud", kind="team", parent=dept)
    await create_org_unit(tenant, name="Edge", kind="team", parent=dept)
    boss = await create_employee(tenant, name="Boss", org_unit=dept)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), dept.id, boss.id)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    node = (await gql(TREE, {"id": global_id("OrgUnit", dept.id)}, token=token)).ok()["node"]
    assert node == {
        "name": "Platform",
        "kind": "department",
        "kindLabel": {"zh": "部门", "en": "Department"},
        "parent": {"name": "Acme"},
        "ancestors": [{"name": "Acme"}],
        "children": [{"name": "Cloud"}, {"name": "Edge"}],
        "managers": [{"name": "Boss"}],
    }
    # An employee sees the tree but not the managers' records.
    employee_token = user_token(runtime.tokens, await create_user(tenant, roles=("employee",)))
    seen = (await gql(TREE, {"id": global_id("OrgUnit", dept.id)}, token=employee_token)).ok()[
        "node"
    ]
    assert seen["managers"] == []


async def test_moving_a_unit_through_graphql(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    a = await create_org_unit(tenant, name="A", kind="department")
    b = await create_org_unit(tenant, name="B", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=a)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    move = """mutation($input: OrgUnitUpdateInput!) { updateOrgUnit(input: $input) {
      __typename ... on OrgUnitPayload { orgUnit { parent { name } ancestors { name } } }
      ... on OrgUnitUpdateError { code field } } }"""
    moved = (
        await gql(
            move,
            {
                "input": {
                    "id": global_id("OrgUnit", team.id),
                    "parentId": global_id("OrgUnit", b.id),
                }
            },
            token=token,
        )
    ).ok()
    assert moved["updateOrgUnit"]["orgUnit"] == {
        "parent": {"name": "B"},
        "ancestors": [{"name": "B"}],
    }
    to_top = (
        await gql(
            move, {"input": {"id": global_id("OrgUnit", team.id), "parentId": None}}, token=token
        )
    ).ok()
    assert to_top["updateOrgUnit"]["orgUnit"] == {"parent": None, "ancestors": []}
    loop = (
        await gql(
            move,
            {"input": {"id": global_id("OrgUnit", b.id), "parentId": global_id("OrgUnit", b.id)}},
            token=token,
        )
    ).ok()
    assert loop["updateOrgUnit"] == {
        "__typename": "OrgUnitUpdateError",
        "code": "CONFLICT",
        "field": "parentId",
    }


async def test_upserting_units_twice(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    token = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    upsert = """mutation($items: [OrgUnitUpsertInput!]!) { upsertOrgUnits(items: $items) {
      ... on OrgUnitsUpsertPayload { results { key outcome orgUnit { name parent { name } } error { field } } } } }"""
    items = [
        {"externalKey": "T", "name": "Team", "kind": "team", "parentExternalKey": "D"},
        {"externalKey": "D", "name": "Dept", "kind": "department"},
    ]
    first = (await gql(upsert, {"items": items}, token=token)).ok()["upsertOrgUnits"]["results"]
    assert [(r["key"], r["outcome"]) for r in first] == [("T", "CREATED"), ("D", "CREATED")]
    assert first[0]["orgUnit"]["parent"] == {"name": "Dept"}
    second = (await gql(upsert, {"items": items}, token=token)).ok()["upsertOrgUnits"]["results"]
    assert [r["outcome"] for r in second] == ["UNCHANGED", "UNCHANGED"]
    listing = (
        await gql(
            "{ orgUnits(filter: {rootsOnly: true}) { edges { node { name } } } }", token=token
        )
    ).ok()
    assert [e["node"]["name"] for e in listing["orgUnits"]["edges"]] == ["Dept"]


async def test_another_tenants_unit_cannot_be_a_parent(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    foreign = await create_org_unit(other, name="Theirs", kind="department")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    create = """mutation($input: OrgUnitCreateInput!) { createOrgUnit(input: $input) {
      __typename ... on OrgUnitCreateError { code field } } }"""
    result = (
        await gql(
            create,
            {"input": {"name": "X", "kind": "team", "parentId": global_id("OrgUnit", foreign.id)}},
            token=token,
        )
    ).ok()
    assert result["createOrgUnit"] == {
        "__typename": "OrgUnitCreateError",
        "code": "NOT_FOUND",
        "field": "parentId",
    }


UNITS = """
query($first: Int) { orgUnits(first: $first) { edges { node {
  name kind kindLabel { en } parent { name } children { name } managers { name }
  ancestors { name }
} } } }
"""


async def test_the_unit_list_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a company of 4 departments of 5 teams each (25 units), each department managed
    tenant, other = await create_tenant(), await create_tenant()
    company = await create_org_unit(tenant, name="Acme", kind="company")
    boss_user = await create_user(tenant, roles=("manager",))
    for d in range(4):
        dept = await create_org_unit(tenant, name=f"Dept {d}", kind="department", parent=company)
        boss = await create_employee(
            tenant, name=f"Boss {d}", org_unit=dept, user=boss_user if d == 0 else None
        )
        async with tenant_transaction(tenant_id(tenant)):
            await org_service.add_manager(tenant_id(tenant), dept.id, boss.id)
        for t in range(5):
            await create_org_unit(tenant, name=f"Team {d}.{t}", kind="team", parent=dept)
    # and another tenant's tree
    theirs = await create_org_unit(other, name="Acme elsewhere", kind="company")
    await create_org_unit(other, name="Dept elsewhere", kind="department", parent=theirs)
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    manager = user_token(runtime.tokens, boss_user)

    # The statements: the scope, the caller, the page, the children, the parents and
    # ancestors, the managers' links, their records; and for a manager, their reach.
    for token, statements in ((admin, 7), (manager, 8)):
        costs = set()
        for first in (3, 10, 25):
            response = await gql(UNITS, {"first": first}, token=token)
            nodes = [edge["node"] for edge in response.ok()["orgUnits"]["edges"]]
            assert len(nodes) == first
            assert nodes[1] == {
                "name": "Dept 0",
                "kind": "department",
                "kindLabel": {"en": "Department"},
                "parent": {"name": "Acme"},
                "children": [{"name": f"Team 0.{t}"} for t in range(5)],
                "managers": [{"name": "Boss 0"}],
                "ancestors": [{"name": "Acme"}],
            }
            costs.add(response.statements)
        assert costs == {statements}, costs
    everything = (await gql(UNITS, {"first": 100}, token=admin)).ok()["orgUnits"]["edges"]
    names = [edge["node"]["name"] for edge in everything]
    assert len(names) == 25
    assert not [name for name in names if "elsewhere" in name]


async def test_a_parent_filter_naming_something_else_is_bad_input(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a person's id, and another tenant's unit, where a unit's id belongs
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant)
    theirs = await create_org_unit(other, name="Theirs", kind="department")
    await create_org_unit(other, name="Below theirs", kind="team", parent=theirs)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    query = """query($parent: ID!) { orgUnits(filter: { parentId: $parent }) {
      edges { node { name } } } }"""
    # when
    wrong_type = await gql(query, {"parent": global_id("Employee", person.id)}, token=token)
    foreign = await gql(query, {"parent": global_id("OrgUnit", theirs.id)}, token=token)
    # then the caller hears which argument is wrong, not an unexpected error
    assert wrong_type.error_codes == ["BAD_USER_INPUT"]
    assert wrong_type.errors[0]["extensions"]["field"] == "parentId"
    assert foreign.ok() == {"orgUnits": {"edges": []}}
