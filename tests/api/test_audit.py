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
