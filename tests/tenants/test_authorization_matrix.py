"""The authorization matrix, walked: every row, every role, every kind of caller.

For each operation the test calls it as anonymous, as a user of each single role, as a client
holding the scopes the row names and as a client holding none of them, and checks the answer
against the matrix: allowed calls carry no access error, denied ones are refused with
UNAUTHENTICATED (anonymous) or FORBIDDEN (everyone else).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from api.graphql.relay import registered_node_types
from api.graphql.schema import Mutation, Query
from api.graphql.view import SELF_SCOPED_FIELDS
from api.runtime import AppRuntime
from tenants.authorization import Principal, Role, load_matrix
from tenants.models import ApiClient, Tenant, User
from tenants.scope import TenantID
from tests.factories import (
    PASSWORD,
    client_token,
    create_api_client,
    create_job,
    create_tenant,
    create_user,
    global_id,
    user_token,
)
from tests.support.graphql import GraphQLClient

MATRIX = load_matrix()
ACCESS_CODES = {"FORBIDDEN", "UNAUTHENTICATED"}


@dataclass
class World:
    tenant: Tenant
    users: dict[Role, User]


Sample = Callable[[World], Awaitable[tuple[str, dict[str, Any]]]]


async def _fixed(
    document: str, variables: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    return document, variables or {}


def fixed(document: str, variables: dict[str, Any] | None = None) -> Sample:
    return lambda world: _fixed(document, variables)


async def _delete_user(world: World) -> tuple[str, dict[str, Any]]:
    victim = await create_user(world.tenant)
    return "mutation($id: ID!) { deleteUser(id: $id) { __typename } }", {
        "id": global_id("User", victim.id)
    }


async def _update_user(world: World) -> tuple[str, dict[str, Any]]:
    target = await create_user(world.tenant)
    return (
        'mutation($id: ID!) { updateUser(input: {id: $id, displayName: "Renamed"}) { __typename } }',
        {"id": global_id("User", target.id)},
    )


async def _revoke_client(world: World) -> tuple[str, dict[str, Any]]:
    issued = await create_api_client(world.tenant, scopes=("users:read",))
    return "mutation($id: ID!) { revokeApiClient(id: $id) { __typename } }", {
        "id": global_id("ApiClient", issued.client.id)
    }


async def _node_job(world: World) -> tuple[str, dict[str, Any]]:
    job = await create_job(world.tenant)
    return "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Job", job.id)}


async def _node_client(world: World) -> tuple[str, dict[str, Any]]:
    issued = await create_api_client(world.tenant, scopes=("users:read",))
    return "query($id: ID!) { node(id: $id) { id } }", {
        "id": global_id("ApiClient", issued.client.id)
    }


def _node_user(world: World) -> Awaitable[tuple[str, dict[str, Any]]]:
    return _fixed(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": global_id("User", world.users[Role.ADMIN].id)},
    )


def _node_tenant(world: World) -> Awaitable[tuple[str, dict[str, Any]]]:
    return _fixed(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Tenant", world.tenant.id)}
    )


SAMPLES: dict[str, Sample] = {
    "Query.viewer": fixed("{ viewer { kind } }"),
    "Query.node": fixed(
        "query($id: ID!) { node(id: $id) { id } }", {"id": global_id("Nothing", UUID(int=1))}
    ),
    "Query.tenant": fixed("{ tenant { slug } }"),
    "Query.users": fixed("{ users { edges { node { id } } } }"),
    "Query.apiClients": fixed("{ apiClients { edges { node { id } } } }"),
    "Query.apiScopes": fixed("{ apiScopes { name } }"),
    "Query.jobs": fixed("{ jobs { edges { node { id } } } }"),
    "Mutation.login": fixed(
        'mutation($p: String!) { login(tenant: "nobody", email: "x@example.com", password: $p) { __typename } }',
        {"p": PASSWORD},
    ),
    "Mutation.refreshToken": fixed(
        'mutation { refreshToken(refreshToken: "rt1.x.y") { __typename } }'
    ),
    "Mutation.logout": fixed('mutation { logout(refreshToken: "rt1.x.y") { __typename } }'),
    "Mutation.changePassword": fixed(
        'mutation { changePassword(currentPassword: "wrong password!", newPassword: "x") { __typename } }'
    ),
    "Mutation.createUser": fixed(
        'mutation { createUser(input: {email: "not an email", displayName: "N", roles: [EMPLOYEE]}) { __typename } }'
    ),
    "Mutation.updateUser": _update_user,
    "Mutation.deleteUser": _delete_user,
    "Mutation.createApiClient": fixed(
        'mutation { createApiClient(input: {name: "X", scopes: ["users:read"]}) { __typename } }'
    ),
    "Mutation.revokeApiClient": _revoke_client,
    "Mutation.updateTenant": fixed(
        'mutation { updateTenant(input: {name: "Renamed"}) { __typename } }'
    ),
    "Mutation.purgeExpiredSessions": fixed("mutation { purgeExpiredSessions { __typename } }"),
    "Node.Tenant": _node_tenant,
    "Node.User": _node_user,
    "Node.ApiClient": _node_client,
    "Node.Job": _node_job,
}


def test_every_operation_and_node_type_has_a_row_and_a_sample() -> None:
    from strawberry.types.base import get_object_definition

    operations = {
        f"{definition.name}.{field.graphql_name or _camel(field.python_name)}"
        for root in (Query, Mutation)
        for definition in [get_object_definition(root, strict=True)]
        for field in definition.fields
    }
    operations |= {f"Node.{name}" for name in registered_node_types()}
    assert operations == set(MATRIX.rules), "the matrix and the schema disagree"
    assert set(SAMPLES) == set(MATRIX.rules), "every matrix row needs a sample call"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Caller:
    label: str
    principal: Principal | None
    token: str | None


@pytest.fixture(scope="module")
async def world() -> World:
    tenant = await create_tenant()
    users = {role: await create_user(tenant, roles=(role.value,)) for role in Role}
    await create_user(tenant, roles=("admin",))  # a second administrator, so changes stay legal
    return World(tenant=tenant, users=users)


async def _client(world: World, scopes: tuple[str, ...]) -> ApiClient:
    return (await create_api_client(world.tenant, scopes=scopes)).client


async def _callers(world: World, runtime: AppRuntime, operation: str) -> list[Caller]:
    callers = [Caller("anonymous", None, None)]
    for role, user in world.users.items():
        principal = Principal(
            tenant_id=TenantID(world.tenant.id),
            subject_id=user.id,
            kind="user",
            roles=frozenset({role}),
        )
        callers.append(Caller(f"role {role.value}", principal, user_token(runtime.tokens, user)))
    rule = MATRIX.rules[operation]
    unrelated = sorted(set(MATRIX.scopes) - rule.scopes)[:1]
    for scopes in ({*rule.scopes} or set(), set(unrelated)):
        if not scopes:
            continue
        client = await _client(world, tuple(sorted(scopes)))
        principal = Principal(
            tenant_id=TenantID(world.tenant.id),
            subject_id=client.id,
            kind="client",
            scopes=frozenset(scopes),
            client_id=client.client_id,
        )
        callers.append(
            Caller(f"client {sorted(scopes)}", principal, client_token(runtime.tokens, client))
        )
    return callers


@pytest.mark.parametrize("operation", sorted(MATRIX.rules))
async def test_the_matrix_row_holds(
    operation: str, world: World, gql: GraphQLClient, runtime: AppRuntime
) -> None:
    field = operation.split(".", 1)[1]
    for caller in await _callers(world, runtime, operation):
        # login, refreshToken and logout ignore the bearer token: they carry their own credentials
        principal = None if field in SELF_SCOPED_FIELDS else caller.principal
        expected = MATRIX.decide(operation, principal).allowed
        document, variables = await SAMPLES[operation](world)
        response = await gql(document, variables, token=caller.token)
        assert response.status == 200, (caller.label, response.body)
        codes = set(response.error_codes) & ACCESS_CODES
        if expected:
            assert not codes, f"{operation} should be allowed for {caller.label}: {response.body}"
        else:
            wanted = "UNAUTHENTICATED" if caller.principal is None else "FORBIDDEN"
            assert codes == {wanted}, (
                f"{operation} should be denied for {caller.label}: {response.body}"
            )
