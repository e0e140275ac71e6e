"""The client credentials grant at /oauth/token, and what its tokens may do."""

from __future__ import annotations

import httpx
import pytest

from tenants.scope import tenant_transaction
from tenants.service import api_client_service
from tests.factories import create_api_client, create_tenant, tenant_id
from tests.support.graphql import GraphQLClient


async def _token(
    http: httpx.AsyncClient, client_id: str, secret: str, **form: str
) -> httpx.Response:
    return await http.post(
        "/oauth/token", data={"grant_type": "client_credentials", **form}, auth=(client_id, secret)
    )


async def test_a_client_gets_a_token_for_its_scopes_and_uses_it(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    tenant = await create_tenant()
    issued = await create_api_client(tenant, scopes=("users:read", "tenant:read"))

    response = await _token(http, issued.client.client_id, issued.secret, scope="users:read")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "users:read"
    assert body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"

    token = body["access_token"]
    viewer = (
        await gql("{ viewer { kind scopes apiClient { clientId } tenant { slug } } }", token=token)
    ).ok()
    assert viewer["viewer"] == {
        "kind": "CLIENT",
        "scopes": ["users:read"],
        "apiClient": {"clientId": issued.client.client_id},
        "tenant": {"slug": tenant.slug},
    }
    assert (await gql("{ users { edges { node { id } } } }", token=token)).ok()
    # tenant:read was not requested, so this token does not carry it
    assert (await gql("{ tenant { slug } }", token=token)).error_codes == ["FORBIDDEN"]


async def test_without_a_scope_parameter_all_client_scopes_are_granted(
    http: httpx.AsyncClient,
) -> None:
    issued = await create_api_client(await create_tenant(), scopes=("users:read", "jobs:read"))
    body = (await _token(http, issued.client.client_id, issued.secret)).json()
    assert body["scope"] == "jobs:read users:read"


async def test_the_secret_may_also_come_in_the_form(http: httpx.AsyncClient) -> None:
    issued = await create_api_client(await create_tenant(), scopes=("users:read",))
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client.client_id,
            "client_secret": issued.secret,
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "case", ["wrong secret", "unknown client", "other tenant's slug", "revoked"]
)
async def test_bad_client_credentials_get_one_answer(
    http: httpx.AsyncClient, gql: GraphQLClient, case: str
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    issued = await create_api_client(tenant, scopes=("users:read",))
    client_id, secret = issued.client.client_id, issued.secret
    if case == "wrong secret":
        secret = "not-the-secret"
    elif case == "unknown client":
        client_id = f"{tenant.slug}.0000000000"
    elif case == "other tenant's slug":
        client_id = f"{other.slug}.{client_id.split('.', 1)[1]}"
    elif case == "revoked":
        async with tenant_transaction(tenant_id(tenant)):
            await api_client_service.revoke(tenant_id(tenant), issued.client.id)
    response = await _token(http, client_id, secret)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }


async def test_a_revoked_clients_tokens_stop_working(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    tenant = await create_tenant()
    issued = await create_api_client(tenant, scopes=("users:read",))
    token = (await _token(http, issued.client.client_id, issued.secret)).json()["access_token"]
    async with tenant_transaction(tenant_id(tenant)):
        await api_client_service.revoke(tenant_id(tenant), issued.client.id)
    assert (await gql("{ viewer { kind } }", token=token)).status == 401


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "everything:write"}, "invalid_scope"),
    ],
)
async def test_other_grants_and_unknown_scopes_are_refused(
    http: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    issued = await create_api_client(await create_tenant(), scopes=("users:read",))
    response = await http.post(
        "/oauth/token", data=form, auth=(issued.client.client_id, issued.secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_json_bodies_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
