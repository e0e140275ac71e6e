"""User accounts through GraphQL: lists with keyset pages and constant SQL, mutations as data."""

from __future__ import annotations

import pytest

from api.runtime import AppRuntime
from tests.factories import PASSWORD, create_tenant, create_user, global_id, user_token
from tests.support.graphql import GraphQLClient

USERS = """
query($first: Int, $after: String, $filter: UserFilter) {
  users(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id email displayName roles isActive } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
CREATE = """
mutation($input: UserCreateInput!) {
  createUser(input: $input) {
    __typename
    ... on UserCreatePayload { user { id email displayName roles } }
    ... on UserCreateError { code field message messageZh }
  }
}
"""
UPDATE = """
mutation($input: UserUpdateInput!) {
  updateUser(input: $input) {
    __typename
    ... on UserUpdatePayload { user { displayName roles isActive } }
    ... on UserUpdateError { code field message }
  }
}
"""


async def test_users_are_listed_in_keyset_pages(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",), email="a-admin@example.com")
    for i in range(5):
        await create_user(tenant, email=f"b-{i}@example.com")
    await create_user(await create_tenant(), email="b-0@example.com")  # same email, other tenant
    token = user_token(runtime.tokens, admin)

    emails: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await gql(USERS, {"first": 2, "after": after}, token=token)).ok()["users"]
        emails += [edge["node"]["email"] for edge in page["edges"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert emails == ["a-admin@example.com"] + [f"b-{i}@example.com" for i in range(5)]
    assert pages == 3


async def test_the_users_list_costs_the_same_statements_for_2_and_60_users(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    small, large = await create_tenant(), await create_tenant()
    small_admin = await create_user(small, roles=("admin",))
    large_admin = await create_user(large, roles=("admin",))
    await create_user(small)
    for _ in range(59):
        await create_user(large)

    few = await gql(USERS, {"first": 100}, token=user_token(runtime.tokens, small_admin))
    many = await gql(USERS, {"first": 100}, token=user_token(runtime.tokens, large_admin))

    assert len(few.ok()["users"]["edges"]) == 2
    assert len(many.ok()["users"]["edges"]) == 60
    # set the scope, load the caller, one page query
    assert few.statements == many.statements == 3


async def test_users_can_be_filtered(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",), name="Root")
    await create_user(tenant, roles=("hr",), name="Grace Hopper")
    await create_user(tenant, roles=("employee",), name="Alan", active=False)
    token = user_token(runtime.tokens, admin)

    async def names(filter: dict[str, object]) -> list[str]:
        edges = (await gql(USERS, {"filter": filter}, token=token)).ok()["users"]["edges"]
        return sorted(e["node"]["displayName"] for e in edges)

    assert await names({"search": "hopper"}) == ["Grace Hopper"]
    assert await names({"role": "HR"}) == ["Grace Hopper"]
    assert await names({"isActive": False}) == ["Alan"]


@pytest.mark.parametrize(("first", "after"), [(0, None), (101, None), (10, "not-a-cursor")])
async def test_bad_page_arguments_are_clear_errors(
    gql: GraphQLClient, runtime: AppRuntime, first: int, after: str | None
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    response = await gql(
        USERS, {"first": first, "after": after}, token=user_token(runtime.tokens, admin)
    )
    assert response.error_codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == ("first" if after is None else "after")


async def test_create_user_and_log_in(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    created = (
        await gql(
            CREATE,
            {
                "input": {
                    "email": " New.Person@Example.COM ",
                    "displayName": "  New   Person ",
                    "roles": ["MANAGER", "EMPLOYEE", "MANAGER"],
                    "password": PASSWORD,
                }
            },
            token=user_token(runtime.tokens, admin),
        )
    ).ok()["createUser"]
    assert created["__typename"] == "UserCreatePayload"
    assert created["user"]["email"] == "new.person@example.com"
    assert created["user"]["displayName"] == "New Person"
    assert created["user"]["roles"] == ["EMPLOYEE", "MANAGER"]
    login = """mutation($t: String!, $e: String!, $p: String!) {
      login(tenant: $t, email: $e, password: $p) { __typename } }"""
    result = await gql(login, {"t": tenant.slug, "e": "new.person@example.com", "p": PASSWORD})
    assert result.ok()["login"]["__typename"] == "LoginPayload"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"email": "not an email"}, "INVALID", "email"),
        ({"displayName": "   "}, "INVALID", "displayName"),
        ({"roles": []}, "INVALID", "roles"),
        ({"password": "short"}, "WEAK_PASSWORD", "password"),
        ({"email": "taken@example.com"}, "DUPLICATE", "email"),
    ],
)
async def test_create_user_errors_name_the_field(
    gql: GraphQLClient, runtime: AppRuntime, change: dict[str, object], code: str, field: str
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    await create_user(tenant, email="taken@example.com")
    base: dict[str, object] = {
        "email": "fresh@example.com",
        "displayName": "Fresh",
        "roles": ["EMPLOYEE"],
    }
    result = (
        await gql(CREATE, {"input": {**base, **change}}, token=user_token(runtime.tokens, admin))
    ).ok()
    error = result["createUser"]
    assert (error["__typename"], error["code"], error["field"]) == ("UserCreateError", code, field)
    assert error["message"]
    assert error["messageZh"]


async def test_the_same_email_may_exist_in_two_tenants(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    for _ in range(2):
        tenant = await create_tenant()
        admin = await create_user(tenant, roles=("admin",))
        payload = {
            "input": {"email": "shared@example.com", "displayName": "Shared", "roles": ["EMPLOYEE"]}
        }
        result = (await gql(CREATE, payload, token=user_token(runtime.tokens, admin))).ok()
        assert result["createUser"]["__typename"] == "UserCreatePayload"


async def test_the_last_admin_cannot_be_demoted_deactivated_or_deleted(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    token = user_token(runtime.tokens, admin)
    me = global_id("User", admin.id)
    for change in ({"roles": ["EMPLOYEE"]}, {"isActive": False}):
        error = (await gql(UPDATE, {"input": {"id": me, **change}}, token=token)).ok()["updateUser"]
        assert error["code"] == "CONFLICT"
    delete = "mutation($id: ID!) { deleteUser(id: $id) { ... on UserDeleteError { code } } }"
    assert (await gql(delete, {"id": me}, token=token)).ok()["deleteUser"]["code"] == "CONFLICT"

    # With a second administrator the first may step down.
    await create_user(tenant, roles=("admin",))
    done = (await gql(UPDATE, {"input": {"id": me, "roles": ["HR"]}}, token=token)).ok()[
        "updateUser"
    ]
    assert done["user"]["roles"] == ["HR"]


async def test_a_failed_update_leaves_no_partial_change(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    token = user_token(runtime.tokens, admin)
    me = global_id("User", admin.id)
    # The name is valid, the demotion is refused: the name must not change either.
    error = (
        await gql(
            UPDATE, {"input": {"id": me, "displayName": "Renamed", "roles": ["HR"]}}, token=token
        )
    ).ok()["updateUser"]
    assert error["code"] == "CONFLICT"
    viewer = (await gql("{ viewer { user { displayName } } }", token=token)).ok()
    assert viewer["viewer"]["user"]["displayName"] == "Test Person"


async def test_change_password_ends_other_sessions(gql: GraphQLClient) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    login = """mutation($t: String!, $e: String!, $p: String!) {
      login(tenant: $t, email: $e, password: $p) { ... on LoginPayload { accessToken refreshToken } } }"""
    session = (await gql(login, {"t": tenant.slug, "e": user.email, "p": PASSWORD})).ok()["login"]
    change = """mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) {
      __typename ... on PasswordChangeError { code field } } }"""
    wrong = (
        await gql(
            change, {"c": "not it at all", "n": "a new long password"}, token=session["accessToken"]
        )
    ).ok()
    assert wrong["changePassword"] == {
        "__typename": "PasswordChangeError",
        "code": "INVALID_CREDENTIALS",
        "field": "currentPassword",
    }
    done = (
        await gql(change, {"c": PASSWORD, "n": "a new long password"}, token=session["accessToken"])
    ).ok()
    assert done["changePassword"]["__typename"] == "PasswordChangePayload"
    refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { __typename } }"
    assert (await gql(refresh, {"t": session["refreshToken"]})).ok()["refreshToken"][
        "__typename"
    ] == "TokenRefreshError"
    relogin = await gql(login, {"t": tenant.slug, "e": user.email, "p": "a new long password"})
    assert relogin.ok()["login"]["accessToken"]


async def test_employees_see_only_themselves_through_node(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    me, colleague = await create_user(tenant), await create_user(tenant)
    node = "query($id: ID!) { node(id: $id) { id } }"
    token = user_token(runtime.tokens, me)
    assert (await gql(node, {"id": global_id("User", me.id)}, token=token)).ok()["node"] is not None
    assert (await gql(node, {"id": global_id("User", colleague.id)}, token=token)).ok()[
        "node"
    ] is None
