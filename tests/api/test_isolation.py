"""Two tenants side by side: ids, lists and mutations never cross the line."""

from __future__ import annotations

from uuid import uuid4

import pytest

from api.runtime import AppRuntime
from domain.jobs.models import Job
from tenants import repository as repo
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    create_api_client,
    create_job,
    create_tenant,
    create_user,
    global_id,
    tenant_id,
    user_token,
)
from tests.support.graphql import GraphQLClient

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on User { email }
    ... on Job { kind }
    ... on ApiClient { clientId }
    ... on Tenant { slug }
  }
}
"""


async def _two_tenants() -> tuple[Tenant, User, Tenant, User]:
    a, b = await create_tenant(), await create_tenant()
    return a, await create_user(a, roles=("admin",)), b, await create_user(b, roles=("admin",))


@pytest.mark.parametrize("type_name", ["User", "Job", "ApiClient", "Tenant"])
async def test_node_of_another_tenant_answers_as_a_missing_one(
    gql: GraphQLClient, runtime: AppRuntime, type_name: str
) -> None:
    _a, admin_a, b, _ = await _two_tenants()
    theirs = {
        "User": (await create_user(b)).id,
        "Job": (await create_job(b)).id,
        "ApiClient": (await create_api_client(b, scopes=("users:read",))).client.id,
        "Tenant": b.id,
    }[type_name]
    token = user_token(runtime.tokens, admin_a)

    foreign = await gql(NODE, {"id": global_id(type_name, theirs)}, token=token)
    missing = await gql(NODE, {"id": global_id(type_name, uuid4())}, token=token)

    assert foreign.status == missing.status == 200
    assert foreign.body == missing.body == {"data": {"node": None}}


async def test_node_of_ones_own_tenant_resolves(gql: GraphQLClient, runtime: AppRuntime) -> None:
    a, admin_a, _, _ = await _two_tenants()
    job = await create_job(a)
    token = user_token(runtime.tokens, admin_a)
    node = (await gql(NODE, {"id": global_id("Job", job.id)}, token=token)).ok()["node"]
    assert node == {"__typename": "Job", "id": global_id("Job", job.id), "kind": job.kind}
    tenant_node = (await gql(NODE, {"id": global_id("Tenant", a.id)}, token=token)).ok()["node"]
    assert tenant_node["slug"] == a.slug


async def test_ids_of_the_wrong_type_or_malformed_resolve_to_nothing(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    _a, admin_a, _, _ = await _two_tenants()
    token = user_token(runtime.tokens, admin_a)
    for bad in (global_id("Nope", admin_a.id), global_id("User", "not-a-uuid")):  # type: ignore[arg-type]
        assert (await gql(NODE, {"id": bad}, token=token)).body == {"data": {"node": None}}
    # A User id handed to a mutation about API clients is "not found", never a user.
    revoke = "mutation($id: ID!) { revokeApiClient(id: $id) { __typename ... on ApiClientRevokeError { code } } }"
    result = (await gql(revoke, {"id": global_id("User", admin_a.id)}, token=token)).ok()
    assert result["revokeApiClient"] == {"__typename": "ApiClientRevokeError", "code": "NOT_FOUND"}


async def test_lists_never_contain_the_other_tenants_rows(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    a, admin_a, b, _admin_b = await _two_tenants()
    for _ in range(3):
        await create_user(b)
        await create_job(b)
    await create_api_client(b, scopes=("users:read",))
    mine = await create_user(a)
    token = user_token(runtime.tokens, admin_a)
    listing = """
    { users(first: 100) { edges { node { id } } }
      jobs(first: 100) { edges { node { id } } }
      apiClients(first: 100) { edges { node { id } } } }
    """
    data = (await gql(listing, token=token)).ok()
    assert {e["node"]["id"] for e in data["users"]["edges"]} == {
        global_id("User", admin_a.id),
        global_id("User", mine.id),
    }
    assert data["jobs"]["edges"] == []
    assert data["apiClients"]["edges"] == []


@pytest.mark.parametrize(
    ("mutation", "variables"),
    [
        (
            'mutation($id: ID!) { updateUser(input: {id: $id, displayName: "Pwned", roles: [ADMIN]}) '
            "{ __typename ... on UserUpdateError { code field } } }",
            {},
        ),
        (
            "mutation($id: ID!) { deleteUser(id: $id) { __typename ... on UserDeleteError { code field } } }",
            {},
        ),
    ],
)
async def test_mutations_with_the_other_tenants_ids_change_nothing(
    gql: GraphQLClient, runtime: AppRuntime, mutation: str, variables: dict[str, str]
) -> None:
    _a, admin_a, b, _ = await _two_tenants()
    victim = await create_user(b, name="Victim")
    token = user_token(runtime.tokens, admin_a)

    foreign = (await gql(mutation, {"id": global_id("User", victim.id)}, token=token)).ok()
    missing = (await gql(mutation, {"id": global_id("User", uuid4())}, token=token)).ok()

    assert foreign == missing
    assert next(iter(foreign.values()))["code"] == "NOT_FOUND"
    async with tenant_transaction(tenant_id(b)):
        unchanged = await repo.get_user(tenant_id(b), victim.id)
    assert unchanged is not None
    assert (unchanged.display_name, unchanged.roles) == ("Victim", ["employee"])


async def test_a_token_forged_for_another_tenant_is_refused(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # A valid user of tenant A with "tid" rewritten to tenant B cannot be signed without our
    # key; signed with our key (as if stolen) it names a user that does not exist in B.
    _a, admin_a, b, _ = await _two_tenants()
    from tenants.authorization import Principal, Role
    from tenants.scope import TenantID

    principal = Principal(
        tenant_id=TenantID(b.id), subject_id=admin_a.id, kind="user", roles=frozenset({Role.ADMIN})
    )
    token = runtime.tokens.issue(principal, ttl=60).token
    assert (await gql("{ viewer { user { email } } }", token=token)).status == 401


async def test_jobs_of_the_other_tenant_are_invisible_to_the_database() -> None:
    a, _, b, _ = await _two_tenants()
    await create_job(b)
    async with tenant_transaction(tenant_id(a)):
        assert await Job.unscoped().count() == 0
