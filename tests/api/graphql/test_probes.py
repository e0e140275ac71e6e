"""The classic probes of a hostile GraphQL client, one test each, with the safe answer.

Field suggestions, introspection, GraphiQL, GET queries and mutations, alias overloading,
array batching, tracing, directive overloading, circular introspection, cross-site (form and
text/plain) posts, unhandled errors, and recovering the schema from error messages. The
other limits of the edge (depth, tokens, body size, request ids) are in test_hardening.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.runtime import AppRuntime
from tenants.service import tenant_service
from tenants.settings import Settings
from tests.factories import create_tenant, create_user, user_token
from tests.support.graphql import GraphQLClient

LOGOUT = 'mutation { logout(refreshToken: "x") { __typename } }'
NOT_ALLOWED = "GraphQL only supports GET and POST requests."


async def _admin_token(runtime: AppRuntime) -> str:
    tenant = await create_tenant()
    return user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))


@pytest.fixture
async def introspection_on(settings: Settings) -> AsyncIterator[GraphQLClient]:
    # A second application over the same, already running ORM: no lifespan needed.
    second: Starlette = create_app(
        settings.model_copy(update={"introspection": True}), configure_logs=False
    )
    transport = httpx.ASGITransport(app=second)
    async with httpx.AsyncClient(transport=transport, base_url="https://renshi.test") as client:
        yield GraphQLClient(client)


async def test_field_suggestions(gql: GraphQLClient, runtime: AppRuntime) -> None:
    token = await _admin_token(runtime)
    # A near miss of a field, an argument, a type and an enum value (literal and variable):
    # graphql-core would answer each with "Did you mean ...", naming what the caller missed.
    probes = {
        "{ viewr { kind } }": "Cannot query field 'viewr' on type 'Query'.",
        "{ users(filtr: 1) { __typename } }": "Unknown argument 'filtr' on field 'Query.users'.",
        "{ ... on Querx { __typename } }": "Unknown type 'Querx'.",
        "{ jobs(status: RUNNIN) { __typename } }": (
            "Value 'RUNNIN' does not exist in 'JobStatus' enum."
        ),
        "{ viewer }": "Field 'viewer' of type 'Viewer' must have a selection of subfields.",
    }
    for query, message in probes.items():
        response = await gql(query, token=token)
        assert response.status == 200
        assert response.body.get("data") is None
        assert [e["message"] for e in response.errors] == [message]
    variable = await gql(
        "query($s: JobStatus) { jobs(status: $s) { __typename } }", {"s": "RUNNIN"}, token=token
    )
    assert [e["message"] for e in variable.errors] == [
        "Variable '$s' has invalid value: Value 'RUNNIN' does not exist in 'JobStatus' enum."
    ]


async def test_introspection(gql: GraphQLClient, runtime: AppRuntime) -> None:
    token = await _admin_token(runtime)
    query = "{ __schema { queryType { name } } }"
    for response in (await gql(query), await gql(query, token=token)):
        assert response.status == 200
        assert response.body.get("data") is None
        assert [e["message"] for e in response.errors] == [
            "GraphQL introspection has been disabled, but the requested query contained the "
            "field '__schema'.",
            "GraphQL introspection has been disabled, but the requested query contained the "
            "field 'queryType'.",
        ]
    # __typename is not introspection and keeps working
    assert (await gql("{ __typename }")).ok() == {"__typename": "Query"}


async def test_introspection_when_configured(introspection_on: GraphQLClient) -> None:
    # Settings.introspection = true (RENSHI_INTROSPECTION=1) opens it to everyone.
    response = await introspection_on("{ __schema { queryType { name } } }")
    assert response.ok() == {"__schema": {"queryType": {"name": "Query"}}}


async def test_graphiql_exposure(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 405
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == NOT_ALLOWED


async def test_get_queries(http: httpx.AsyncClient) -> None:
    # The view is built with allow_queries_via_get=False: operations only ever over POST.
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert (response.status_code, response.text) == (405, NOT_ALLOWED)


async def test_get_mutations(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": LOGOUT})
    assert (response.status_code, response.text) == (405, NOT_ALLOWED)


async def test_alias_overloading(gql: GraphQLClient, runtime: AppRuntime) -> None:
    token = await _admin_token(runtime)
    limit = runtime.settings.max_aliases
    for count in (limit + 1, 101):
        query = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(count)) + " }"
        response = await gql(query, token=token)
        assert response.status == 200
        assert response.body.get("data") is None
        assert [e["message"] for e in response.errors] == [
            f"{count} aliases found. Allowed: {limit}"
        ]
    within = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(limit)) + " }"
    assert len((await gql(within, token=token)).ok()) == limit


async def test_array_batching(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
    assert (response.status_code, response.text) == (400, "Batching is not enabled")


async def test_tracing(http: httpx.AsyncClient) -> None:
    # Asking for Apollo tracing, in the body and as a header, adds nothing to the answer.
    response = await http.post(
        "/graphql",
        json={"query": "{ __typename }", "extensions": {"tracing": True}},
        headers={"apollo-federation-include-trace": "ftv1"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_directive_overloading(gql: GraphQLClient) -> None:
    response = await gql("{ __typename " + "@include(if: true) " * 200 + "}")
    assert response.status == 200
    assert response.body.get("data") is None
    # graphql-core stops validating after 100 errors; the answer stays bounded.
    messages = [e["message"] for e in response.errors]
    assert messages == [
        *["The directive '@include' can only be used once at this location."] * 100,
        "Too many validation errors, error limit reached. Validation aborted.",
    ]


async def test_circular_introspection(introspection_on: GraphQLClient, runtime: AppRuntime) -> None:
    limit = runtime.settings.max_query_depth
    # strawberry's depth limit does not look below __type; the edge's does.
    deep = '{ __type(name: "Query") ' + "{ ofType " * (limit + 1) + "{ name }" + " }" * (limit + 2)
    response = await introspection_on(deep)
    assert response.status == 200
    assert response.body.get("data") is None
    assert [e["message"] for e in response.errors] == [
        f"'anonymous' exceeds maximum operation depth of {limit}"
    ]
    # The same through fragments, named and inline.
    fragments = (
        'query Probe { __type(name: "Query") { ...T } } '
        "fragment T on __Type { ofType { ... on __Type { ofType { ...U } } } } "
        "fragment U on __Type { " + "ofType { " * (limit - 2) + "name" + " }" * (limit - 1)
    )
    response = await introspection_on(fragments)
    assert [e["message"] for e in response.errors] == [
        f"'Probe' exceeds maximum operation depth of {limit}"
    ]
    # Lists of lists (types { fields { type { fields ... } } }) are refused by graphql-core.
    lists = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    response = await introspection_on(lists)
    assert [e["message"] for e in response.errors] == ["Maximum introspection depth exceeded"]
    within = '{ __type(name: "Query") ' + "{ ofType " * (limit - 1) + "{ name }" + " }" * limit
    assert (await introspection_on(within)).ok() == {"__type": {"ofType": None}}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=" + LOGOUT.replace(" ", "+")),
        ("text/plain", json.dumps({"query": LOGOUT})),
        ("text/plain;charset=UTF-8", json.dumps({"query": LOGOUT})),
    ],
)
async def test_cross_site_posts(http: httpx.AsyncClient, content_type: str, body: str) -> None:
    # A cross-site form can send these without a preflight; they never reach the schema.
    response = await http.post("/graphql", content=body, headers={"content-type": content_type})
    assert (response.status_code, response.text) == (400, "Unsupported content type")


async def test_cross_site_multipart_posts(http: httpx.AsyncClient) -> None:
    # A form can send multipart/form-data cross-site too, but never a bearer token: refused
    # before the schema sees it.
    files = {"operations": (None, json.dumps({"query": LOGOUT, "variables": {}})),
             "map": (None, "{}")}  # fmt: skip
    response = await http.post("/graphql", files=files)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.json()["errors"][0]["message"] == "a multipart request needs a bearer token"


async def test_unhandled_errors(
    gql: GraphQLClient, runtime: AppRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await _admin_token(runtime)

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            'relation "secret_table" does not exist: SELECT * FROM secret_table '
            "(postgres://admin:hunter2@db)"
        )

    monkeypatch.setattr(tenant_service, "get", explode)
    response = await gql("{ tenant { slug } }", token=token)
    request_id = response.headers["x-request-id"]
    assert response.status == 200
    assert response.body == {
        "data": None,
        "errors": [
            {
                "message": f"Unexpected error; quote request id {request_id} when reporting it.",
                "locations": [{"line": 1, "column": 3}],
                "path": ["tenant"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ],
    }


async def test_schema_recovery_through_errors(gql: GraphQLClient) -> None:
    # With introspection off, an unknown field's error names the field the query asked for
    # and the type of the object it asked it on (which __typename tells anyway), no more.
    response = await gql("{ viewer { kindd } }")
    assert response.body == {
        "data": None,
        "errors": [
            {
                "message": "Cannot query field 'kindd' on type 'Viewer'.",
                "locations": [{"line": 1, "column": 12}],
            }
        ],
    }
    # An unknown type name is answered without naming any type of the schema.
    unknown_type = await gql("query($x: Foo) { __typename }")
    assert [e["message"] for e in unknown_type.errors] == [
        "Variable '$x' is never used.",
        "Unknown type 'Foo'.",
    ]
