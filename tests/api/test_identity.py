"""Logging in, refreshing and logging out through GraphQL, for two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.ratelimit import RateLimiter
from api.runtime import AppRuntime
from tenants.models import Tenant, TenantStatus
from tenants.scope import tenant_transaction
from tests.factories import PASSWORD, create_tenant, create_user, tenant_id, user_token
from tests.support.graphql import GraphQLClient

LOGIN = """
mutation Login($tenant: String!, $email: String!, $password: String!) {
  login(tenant: $tenant, email: $email, password: $password) {
    __typename
    ... on LoginPayload { accessToken refreshToken expiresIn tokenType }
    ... on LoginError { code field message messageZh retryAfter }
  }
}
"""
REFRESH = """
mutation($token: String!) {
  refreshToken(refreshToken: $token) {
    __typename
    ... on TokenRefreshPayload { accessToken refreshToken expiresIn }
    ... on TokenRefreshError { code field message }
  }
}
"""
LOGOUT = "mutation($token: String!) { logout(refreshToken: $token) { __typename ... on LogoutError { code } } }"
VIEWER = "{ viewer { user { email } tenant { slug } } }"


async def _login(
    gql: GraphQLClient, tenant: str, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    result: dict[str, Any] = (
        await gql(LOGIN, {"tenant": tenant, "email": email, "password": password})
    ).ok()["login"]
    return result


async def test_login_returns_a_session_that_works(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant, email="Ada@Example.com")
    # Email and slug are matched case-insensitively.
    session = await _login(gql, tenant.slug.upper(), "ADA@example.com")
    assert session["__typename"] == "LoginPayload"
    assert session["expiresIn"] == runtime.settings.access_token_ttl
    assert session["tokenType"] == "Bearer"
    viewer = (await gql(VIEWER, token=session["accessToken"])).ok()["viewer"]
    assert viewer == {"user": {"email": user.email}, "tenant": {"slug": tenant.slug}}


@pytest.mark.parametrize(
    "case", ["wrong password", "unknown email", "unknown tenant", "other tenant", "inactive"]
)
async def test_every_login_failure_reads_the_same(gql: GraphQLClient, case: str) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    user = await create_user(tenant, active=case != "inactive")
    await create_user(other, email="someone@example.com")
    slug, email, password = tenant.slug, user.email, PASSWORD
    if case == "wrong password":
        password = "not the password at all"
    elif case == "unknown email":
        email = "nobody@example.com"
    elif case == "unknown tenant":
        slug = "no-such-tenant"
    elif case == "other tenant":
        email = "someone@example.com"  # exists, but in the other tenant
        slug = tenant.slug
    result = await _login(gql, slug, email, password)
    assert result == {
        "__typename": "LoginError",
        "code": "INVALID_CREDENTIALS",
        "field": None,
        "message": "the organisation, email or password is wrong",
        "messageZh": "组织、邮箱或密码不正确",
        "retryAfter": None,
    }


async def test_suspended_tenants_cannot_log_in_and_their_tokens_stop(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    token = user_token(runtime.tokens, user)
    await _set_status(tenant, TenantStatus.SUSPENDED)
    assert (await _login(gql, tenant.slug, user.email))["code"] == "INVALID_CREDENTIALS"
    assert (await gql(VIEWER, token=token)).status == 401


async def _set_status(tenant: Tenant, status: TenantStatus) -> None:
    async with tenant_transaction(tenant_id(tenant)):
        tenant.status = status
        await tenant.save(update_fields=["status"])


async def test_refresh_rotates_and_the_old_token_is_dead(gql: GraphQLClient) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    first = await _login(gql, tenant.slug, user.email)

    second = (await gql(REFRESH, {"token": first["refreshToken"]})).ok()["refreshToken"]
    assert second["__typename"] == "TokenRefreshPayload"
    assert second["refreshToken"] != first["refreshToken"]
    assert (await gql(VIEWER, token=second["accessToken"])).ok()["viewer"]["user"][
        "email"
    ] == user.email

    # The used token is dead; presenting it again is taken as theft: the family is revoked.
    reused = (await gql(REFRESH, {"token": first["refreshToken"]})).ok()["refreshToken"]
    assert reused["code"] == "INVALID_TOKEN"
    revoked = (await gql(REFRESH, {"token": second["refreshToken"]})).ok()["refreshToken"]
    assert revoked["code"] == "INVALID_TOKEN"


async def test_logout_revokes_the_session(gql: GraphQLClient) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    session = await _login(gql, tenant.slug, user.email)
    other_session = await _login(gql, tenant.slug, user.email)

    assert (await gql(LOGOUT, {"token": session["refreshToken"]})).ok()["logout"][
        "__typename"
    ] == "LogoutPayload"
    assert (await gql(REFRESH, {"token": session["refreshToken"]})).ok()["refreshToken"][
        "code"
    ] == "INVALID_TOKEN"
    # Another login of the same person is another session, untouched.
    assert (await gql(REFRESH, {"token": other_session["refreshToken"]})).ok()["refreshToken"][
        "__typename"
    ] == "TokenRefreshPayload"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "rt1.nothex.secretsecretsecretsecretsecretsecret",
        "rt1.00000000000000000000000000000000.short",
    ],
)
async def test_malformed_refresh_tokens_are_refused(gql: GraphQLClient, token: str) -> None:
    assert (await gql(REFRESH, {"token": token})).ok()["refreshToken"]["code"] == "INVALID_TOKEN"
    assert (await gql(LOGOUT, {"token": token})).ok()["logout"]["code"] == "INVALID_TOKEN"


async def test_a_refresh_token_with_a_forged_tenant_id_is_refused(gql: GraphQLClient) -> None:
    a, b = await create_tenant(), await create_tenant()
    user = await create_user(a)
    session = await _login(gql, a.slug, user.email)
    prefix, _, secret = session["refreshToken"].split(".")
    forged = f"{prefix}.{b.id.hex}.{secret}"
    assert (await gql(REFRESH, {"token": forged})).ok()["refreshToken"]["code"] == "INVALID_TOKEN"
    # and the genuine token still works
    assert (await gql(REFRESH, {"token": session["refreshToken"]})).ok()["refreshToken"][
        "__typename"
    ] == "TokenRefreshPayload"


async def test_refresh_stops_for_a_deactivated_user(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    user = await create_user(tenant)
    session = await _login(gql, tenant.slug, user.email)
    from tests.factories import global_id

    deactivate = (
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { __typename } }"
    )
    assert (
        await gql(
            deactivate, {"id": global_id("User", user.id)}, token=user_token(runtime.tokens, admin)
        )
    ).ok()
    assert (await gql(REFRESH, {"token": session["refreshToken"]})).ok()["refreshToken"][
        "code"
    ] == "INVALID_TOKEN"


async def test_login_works_while_sending_a_token_of_another_tenant(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    a, b = await create_tenant(), await create_tenant()
    user_a = await create_user(a)
    user_b = await create_user(b)
    result = (
        await gql(
            LOGIN,
            {"tenant": b.slug, "email": user_b.email, "password": PASSWORD},
            token=user_token(runtime.tokens, user_a),
        )
    ).ok()["login"]
    assert result["__typename"] == "LoginPayload"


@pytest.fixture
def strict_limits(runtime: AppRuntime) -> Iterator[None]:
    original = runtime.limiter
    strict = runtime.settings.model_copy(
        update={"login_rate_limit": "3/minute", "rate_limit": "5/minute"}
    )
    runtime.limiter = RateLimiter(strict)
    yield
    runtime.limiter = original


@pytest.mark.usefixtures("strict_limits")
async def test_login_attempts_are_rate_limited(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    for _ in range(3):
        assert (await _login(gql, tenant.slug, user.email, "wrong password here"))[
            "code"
        ] == "INVALID_CREDENTIALS"
    limited = await _login(gql, tenant.slug, user.email)  # even the right password now waits
    assert limited["code"] == "RATE_LIMITED"
    assert 0 < limited["retryAfter"] <= 60
    if runtime.settings.rate_limit_redis_url:
        assert runtime.limiter.backend == "redis"


@pytest.mark.usefixtures("strict_limits")
async def test_requests_are_rate_limited_per_principal(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    noisy, quiet = await create_user(tenant), await create_user(tenant)
    for _ in range(5):
        assert (await gql(VIEWER, token=user_token(runtime.tokens, noisy))).status == 200
    limited = await gql(VIEWER, token=user_token(runtime.tokens, noisy))
    assert limited.status == 429
    assert limited.error_codes == ["RATE_LIMITED"]
    assert int(limited.headers["retry-after"]) > 0
    # Someone else is not affected.
    assert (await gql(VIEWER, token=user_token(runtime.tokens, quiet))).status == 200
