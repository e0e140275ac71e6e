"""The audit log through GraphQL: who changed what, readable by admin and HR only."""

from __future__ import annotations

from api.runtime import AppRuntime
from tests.factories import create_tenant, create_user, global_id, user_token
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient

LOG = """
query($filter: AuditFilter) { auditLog(filter: $filter) { edges { node {
  actorKind actorLabel entityType entityId action changes requestId } } } }
"""


async def test_changes_made_through_the_api_are_logged_with_their_actor(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    hr = await create_user(tenant, roles=("hr",), email="hr@example.com")
    token = user_token(runtime.tokens, hr)
    person = await create_employee(tenant, name="Ada")
    await create_employee(other, name="Elsewhere")
    update = """mutation($input: EmployeeUpdateInput!) { updateEmployee(input: $input) { __typename } }"""
    response = await gql(
        update,
        {
            "input": {
                "id": global_id("Employee", person.id),
                "name": "Ada Lovelace",
                "nationalId": "11010519491231002X",
            }
        },
        token=token,
    )
    assert response.ok()["updateEmployee"]["__typename"] == "EmployeePayload"

    log = (
        await gql(LOG, {"filter": {"entityId": global_id("Employee", person.id)}}, token=token)
    ).ok()
    entries = [edge["node"] for edge in log["auditLog"]["edges"]]
    assert [e["action"] for e in entries] == ["update", "create"]  # newest first
    update_entry = entries[0]
    assert update_entry["actorKind"] == "user"
    assert update_entry["actorLabel"] == "hr@example.com"
    assert update_entry["requestId"] == response.headers["x-request-id"]
    assert update_entry["changes"] == {
        "name": {"before": "Ada", "after": "Ada Lovelace"},
        "national_id": {"changed": True},
    }
    # nothing of the other tenant in the whole log
    everything = (await gql(LOG, token=token)).ok()["auditLog"]["edges"]
    assert all(
        e["node"]["entityId"] != global_id("Employee", person.id) or True for e in everything
    )
    assert "Elsewhere" not in str(everything)


async def test_only_admin_and_hr_read_the_log(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    for role, allowed in (("admin", True), ("hr", True), ("manager", False), ("employee", False)):
        token = user_token(runtime.tokens, await create_user(tenant, roles=(role,)))
        response = await gql(LOG, token=token)
        assert (response.error_codes == []) is allowed, role


PAGE = """
query($first: Int) { auditLog(first: $first) { edges { node {
  id actorKind actorLabel entityType entityId action changes requestId at } } } }
"""


async def test_the_log_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given 15 people created and then renamed: 30 entries, and another tenant's people
    tenant, other = await create_tenant(), await create_tenant()
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    people = [await create_employee(tenant, name=f"P{i:02d}") for i in range(15)]
    update = """mutation($input: EmployeeUpdateInput!) { updateEmployee(input: $input) { __typename } }"""
    for person in people:
        renamed = {"id": global_id("Employee", person.id), "name": f"{person.name} renamed"}
        assert (await gql(update, {"input": renamed}, token=hr)).ok()["updateEmployee"][
            "__typename"
        ] == "EmployeePayload"
    theirs = [await create_employee(other, name=f"Elsewhere {i}") for i in range(3)]

    costs = set()
    for first in (3, 10, 30):
        response = await gql(PAGE, {"first": first}, token=hr)
        entries = [edge["node"] for edge in response.ok()["auditLog"]["edges"]]
        assert len(entries) == first
        assert entries[0]["action"] == "update"
        assert entries[0]["actorKind"] == "user"
        costs.add(response.statements)
    assert costs == {3}, costs  # the scope, the caller, the page
    everything = (await gql(PAGE, {"first": 100}, token=hr)).ok()["auditLog"]["edges"]
    assert len(everything) == 30
    logged = {edge["node"]["entityId"] for edge in everything}
    assert logged == {global_id("Employee", person.id) for person in people}
    assert not logged & {global_id("Employee", person.id) for person in theirs}
