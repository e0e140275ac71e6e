"""The GraphQL edge against a careless or hostile client: its limits and modes.

The classic probes (suggestions, introspection, GraphiQL, GET, aliases, batching, tracing,
directives, circular introspection, cross-site posts, unhandled errors) are in test_probes.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.graphql.edge import introspection_mode
from api.runtime import AppRuntime
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


async def test_documents_over_the_token_limit_are_refused(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    query = "{ viewer { " + "kind " * (runtime.settings.max_tokens + 1) + "} }"
    response = await gql(query)
    assert response.errors[0]["message"] == (
        f"Syntax Error: Document contains more than {runtime.settings.max_tokens} tokens. Parsing aborted."
    )


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


async def test_a_client_request_id_is_echoed_and_bad_ones_are_replaced(
    http: httpx.AsyncClient,
) -> None:
    good = await http.get("/healthz", headers={"x-request-id": "trace-abc-12345"})
    assert good.headers["x-request-id"] == "trace-abc-12345"
    bad = await http.get("/healthz", headers={"x-request-id": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"
    assert len(bad.headers["x-request-id"]) == 32


UPSERT_PEOPLE = """mutation($items: [EmployeeUpsertInput!]!) { upsertEmployees(items: $items) {
  ... on EmployeesUpsertPayload { results { outcome } } } }"""


async def test_text_with_a_nul_character_is_refused_as_bad_input(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # PostgreSQL cannot hold U+0000: a lookup by such a number used to fail the statement.
    token = await _admin_token(runtime)
    in_a_literal = await gql(
        'mutation { upsertEmployees(items: [{ employeeNumber: "E1\\u0000", name: "Ann" }]) {'
        " __typename } }",
        token=token,
    )
    in_a_variable = await gql(
        UPSERT_PEOPLE, {"items": [{"employeeNumber": "E1\x00", "name": "Ann"}]}, token=token
    )
    in_a_json_key = await gql(
        UPSERT_PEOPLE,
        {"items": [{"employeeNumber": "E1", "name": "Ann", "customFields": {"a\x00": 1}}]},
        token=token,
    )
    for refused in (in_a_literal, in_a_variable, in_a_json_key):
        assert refused.status == 200
        assert refused.body.get("data") is None
        assert refused.error_codes == ["BAD_USER_INPUT"]
        assert "U+0000" in refused.errors[0]["message"]
    # the same batch without it is written
    written = await gql(
        UPSERT_PEOPLE, {"items": [{"employeeNumber": "E1", "name": "Ann"}]}, token=token
    )
    assert written.ok() == {"upsertEmployees": {"results": [{"outcome": "CREATED"}]}}
