"""The GraphQL edge against a careless or hostile client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.graphql.edge import introspection_mode
from api.runtime import AppRuntime
from tenants.service import tenant_service
from tenants.settings import Settings
from tests.factories import create_tenant, create_user, user_token
from tests.support.graphql import GraphQLClient

INTROSPECTION = "{ __schema { queryType { name } } }"


async def _admin_token(runtime: AppRuntime) -> str:
    tenant = await create_tenant()
    return user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))


async def test_queries_deeper_than_the_limit_are_refused(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    token = await _admin_token(runtime)
    limit = runtime.settings.max_query_depth
    # viewer { tenant { ... } } nests two levels; fragments cannot hide depth.
    deep = "{ viewer " + "{ tenant " * (limit + 1) + "{ slug }" + " }" * (limit + 2)
    response = await gql(deep, token=token)
    assert response.status == 200
    assert response.body.get("data") is None
    assert any("exceeds maximum operation depth" in e["message"] for e in response.errors)


@pytest.mark.parametrize("count", [31, 101])
async def test_too_many_aliases_are_refused(
    gql: GraphQLClient, runtime: AppRuntime, count: int
) -> None:
    token = await _admin_token(runtime)
    query = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(count)) + " }"
    response = await gql(query, token=token)
    assert response.body.get("data") is None
    assert (
        response.errors[0]["message"]
        == f"{count} aliases found. Allowed: {runtime.settings.max_aliases}"
    )


async def test_within_the_alias_limit_is_fine(gql: GraphQLClient, runtime: AppRuntime) -> None:
    token = await _admin_token(runtime)
    query = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(30)) + " }"
    assert len((await gql(query, token=token)).ok()) == 30


async def test_documents_over_the_token_limit_are_refused(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    query = "{ viewer { " + "kind " * (runtime.settings.max_tokens + 1) + "} }"
    response = await gql(query)
    assert response.errors[0]["message"] == (
        f"Syntax Error: Document contains more than {runtime.settings.max_tokens} tokens. Parsing aborted."
    )


async def test_field_suggestions_are_off(gql: GraphQLClient) -> None:
    response = await gql("{ viewr { kind } }")
    assert response.errors[0]["message"] == "Cannot query field 'viewr' on type 'Query'."


async def test_introspection_is_off_by_default_even_when_logged_in(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    token = await _admin_token(runtime)
    for response in (await gql(INTROSPECTION), await gql(INTROSPECTION, token=token)):
        assert response.body.get("data") is None
        assert "introspection has been disabled" in response.errors[0]["message"]
    # __typename is not introspection and keeps working
    assert (await gql("{ __typename }")).ok() == {"__typename": "Query"}


def test_introspection_modes(settings: Settings) -> None:
    assert introspection_mode(settings) == "off"
    assert introspection_mode(settings.model_copy(update={"introspection": True})) == "on"
    embedded = settings.model_copy(update={"database_url": None})
    assert introspection_mode(embedded) == "authenticated"
    assert introspection_mode(embedded.model_copy(update={"introspection": False})) == "off"


@pytest.fixture
async def authenticated_introspection_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # A second application over the same, already running ORM: no lifespan needed.
    second: Starlette = create_app(
        settings.model_copy(update={"database_url": None, "introspection": None}),
        configure_logs=False,
    )
    transport = httpx.ASGITransport(app=second)
    async with httpx.AsyncClient(transport=transport, base_url="https://renshi.test") as client:
        yield client


async def test_the_embedded_default_shows_the_schema_to_logged_in_callers_only(
    authenticated_introspection_app: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    gql = GraphQLClient(authenticated_introspection_app)
    anonymous = await gql(INTROSPECTION)
    assert "introspection has been disabled" in anonymous.errors[0]["message"]
    logged_in = await gql(INTROSPECTION, token=await _admin_token(runtime))
    assert logged_in.ok() == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize(
    "params",
    [
        {"query": "{ viewer { kind } }"},
        {"query": 'mutation { logout(refreshToken: "x") { __typename } }'},
    ],
)
async def test_operations_over_get_are_refused(
    http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await http.get("/graphql", params=params)
    assert response.status_code == 405


async def test_graphiql_is_not_served_unless_enabled(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 405
    assert "graphiql" not in response.text.lower()


async def test_form_encoded_posts_are_refused(http: httpx.AsyncClient) -> None:
    # A cross-site form can only send these; refusing them closes the CSRF door.
    response = await http.post(
        "/graphql", data={"query": 'mutation { logout(refreshToken: "x") { __typename } }'}
    )
    assert response.status_code in {400, 415}


async def test_array_batches_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert response.status_code == 400


async def test_bodies_over_the_limit_are_refused(
    http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    big = "x" * (runtime.settings.max_body_bytes + 1)
    declared = await http.post("/graphql", json={"query": big})
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"query": "'
        for _ in range(runtime.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = await http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_unexpected_errors_are_masked_with_the_request_id(
    gql: GraphQLClient, runtime: AppRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await _admin_token(runtime)

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection string postgres://secret@db leaked")

    monkeypatch.setattr(tenant_service, "get", explode)
    response = await gql("{ tenant { slug } }", token=token)
    request_id = response.headers["x-request-id"]
    assert response.errors == [
        {
            "message": f"Unexpected error; quote request id {request_id} when reporting it.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["tenant"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    ]
    assert "secret" not in str(response.body)


async def test_a_client_request_id_is_echoed_and_bad_ones_are_replaced(
    http: httpx.AsyncClient,
) -> None:
    good = await http.get("/healthz", headers={"x-request-id": "trace-abc-12345"})
    assert good.headers["x-request-id"] == "trace-abc-12345"
    bad = await http.get("/healthz", headers={"x-request-id": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"
    assert len(bad.headers["x-request-id"]) == 32
