"""Every query and mutation, with arguments schemathesis generates, answers without a server error.

The schema is the one the application serves, printed from the strawberry schema object, so
introspection stays off as in production. An administrator (with every other role too, and
an employee record) of a seeded R&D organisation sends the operations; a second tenant exists
alongside, and nothing of it may show. A server error is an HTTP 5xx or a GraphQL error the
edge masked as ``INTERNAL_SERVER_ERROR``: refusals, validation errors and bad input are
answers, not errors, so schemathesis' own checks (which count every GraphQL error with a path
as a server error) are not what decides here. Most ``ID`` values are swapped for global ids of
seeded rows of the type the argument names, so operations reach real rows rather than stopping
at "not found". Generation is derandomized and bounded per operation: the run is reproducible.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from random import Random
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes
from starlette.applications import Starlette

from api.graphql.schema import build_schema
from api.runtime import AppRuntime
from tenants.authorization import load_matrix
from tenants.settings import Settings
from tests.factories import create_tenant, create_user, global_id, user_token
from tests.factories_dashboards_rd import rd_world
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    give_feedback,
)

MASKED = "INTERNAL_SERVER_ERROR"
EXAMPLES_PER_OPERATION = 20
ALL_ROLES = ("admin", "hr", "manager", "employee", "sales")
# The share of generated ids replaced by a seeded row's id; the rest stay arbitrary strings.
SEEDED_ID_SHARE = 0.8
RIGHT_TYPE_SHARE = 0.8

SCHEMA_OBJECT = build_schema(Settings(), load_matrix())
SCHEMA = schemathesis.graphql.from_file(str(SCHEMA_OBJECT))

# The seeded rows' ids, read once through the API.
HARVEST = """{
  employees(first: 100) { edges { node { id
    engagements(first: 100) { edges { node { id } } }
    appraisals(first: 100) { edges { node { id } } }
    feedback(first: 100) { edges { node { id } } } } } }
  orgUnits(first: 100) { edges { node { id } } }
  skills(first: 100) { edges { node { id } } }
  users(first: 100) { edges { node { id } } }
  apiClients(first: 100) { edges { node { id } } }
  workItems(first: 100) { edges { node { id } } }
  facts(first: 100) { edges { node { id } } }
  customFieldDefinitions { id }
  periods { id }
}"""


def _json_literal(value: Any) -> graphql.ValueNode:
    """A JSON value as the GraphQL literal a client would write for the JSON scalar."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_literal(item) for item in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_json_literal(item))
            for key, item in value.items()
        ]
    )


_JSON_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_JSON_KEYS, children, max_size=4)
    ),
    max_leaves=8,
)
# strawberry reads Decimal from a string; the edges are what a careless client sends too.
_DECIMALS = st.decimals(
    min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
).map(str) | st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "1e-400"])

schemathesis.graphql.scalar("Decimal", _DECIMALS.map(nodes.String))
schemathesis.graphql.scalar("JSON", _JSON_VALUES.map(_json_literal))
# Files come as multipart uploads; in a JSON document a client can only write a literal.
schemathesis.graphql.scalar("Upload", st.just(nodes.Null) | st.text(max_size=20).map(nodes.String))


def _root_fields() -> list[str]:
    schema = SCHEMA_OBJECT._schema
    roots = {"Query": schema.query_type, "Mutation": schema.mutation_type}
    return sorted(f"{kind}.{name}" for kind, root in roots.items() if root for name in root.fields)


OPERATIONS = _root_fields()


@dataclass(frozen=True)
class Fuzzing:
    """What every generated operation is sent with, and what it must never show."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    ids: dict[str, list[str]]  # seeded global ids by node type
    foreign: tuple[str, ...]  # the other tenant's identifiers and names


def _ids_by_type(value: Any, found: dict[str, list[str]]) -> dict[str, list[str]]:
    if isinstance(value, list):
        for item in value:
            _ids_by_type(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                type_name = base64.b64decode(item).decode().split(":", 1)[0]
                found.setdefault(type_name, []).append(item)
            else:
                _ids_by_type(item, found)
    return found


@pytest.fixture(scope="module")
async def fuzzing(app: Starlette, runtime: AppRuntime) -> AsyncIterator[Fuzzing]:
    world = await rd_world()
    user = await create_user(world.tenant, roles=ALL_ROLES, name="Fuzzing Admin")
    await create_employee(world.tenant, user=user, org_unit=world.payments, level="senior")
    await create_engagement(world.tenant, world.ada, skills=[world.python])
    await create_appraisal(world.tenant, world.ada, score=4)
    await give_feedback(world.tenant, world.bo, comment="on time")
    other = await create_tenant()
    marker = "Other-Tenant-Person-7f3c"
    stranger = await create_employee(other, name=marker)
    headers = {"authorization": f"Bearer {user_token(runtime.tokens, user, ttl=3600)}"}
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://renshi.test") as client:
        response = await client.post("/graphql", json={"query": HARVEST}, headers=headers)
        body = response.json()
        assert not body.get("errors"), body
        ids = _ids_by_type(body["data"], {})
        assert {"Employee", "OrgUnit", "WorkItem", "Period", "Appraisal", "Engagement"} <= set(ids)
        yield Fuzzing(
            client=client,
            headers=headers,
            ids=ids,
            foreign=(marker, global_id("Employee", stranger.id), str(stranger.id)),
        )


_VERB = re.compile(r"^[a-z]+")
_ID_SUFFIX = re.compile(r"(Ids?|ID)$")


def _type_named_by(name: str, root_field: str, known: list[str]) -> str | None:
    """The node type an ``ID`` argument names: ``employeeId`` an Employee; a bare ``id`` of
    ``archiveEmployee`` or ``workItem`` the type in the field's name."""
    if name in ("id", "ids"):
        subjects = [root_field, _VERB.sub("", root_field)]
    else:
        subjects = [_ID_SUFFIX.sub("", name)]
    matches = [
        candidate
        for candidate in known
        for subject in (s.lower() for s in subjects if s)
        if candidate.lower().startswith(subject) or candidate.lower() in subject
    ]
    return max(matches, key=len) if matches else None


def with_seeded_ids(document: str, fuzzing: Fuzzing, random: Random) -> str:
    """The document with most ``ID`` literals replaced by ids of seeded rows of the named type."""
    ast = graphql.parse(document)
    type_info = graphql.TypeInfo(SCHEMA_OBJECT._schema)
    known = sorted(fuzzing.ids)
    every = [value for values in fuzzing.ids.values() for value in values]

    class Seed(graphql.Visitor):
        root_field = ""

        def enter_field(self, node: graphql.FieldNode, *_: Any) -> None:
            if not self.root_field:
                self.root_field = node.name.value

        def enter_string_value(
            self, node: graphql.StringValueNode, key: Any, parent: Any, path: Any, ancestors: Any
        ) -> graphql.StringValueNode | None:
            if graphql.get_named_type(type_info.get_input_type()) is not graphql.GraphQLID:
                return None
            if random.random() >= SEEDED_ID_SHARE:
                return None
            owner = next(
                a
                for a in (parent, *reversed(ancestors))
                if isinstance(a, (graphql.ArgumentNode, graphql.ObjectFieldNode))
            )
            type_name = _type_named_by(owner.name.value, self.root_field, known)
            # Now and then an id of another type: a caller's mix-up is an answer too.
            right_type = type_name is not None and random.random() < RIGHT_TYPE_SHARE
            choices = fuzzing.ids[type_name] if right_type and type_name else every
            return graphql.StringValueNode(value=random.choice(choices))

    return graphql.print_ast(graphql.visit(ast, graphql.TypeInfoVisitor(type_info, Seed())))


def server_errors(response: httpx.Response) -> list[str]:
    """What in a response is a server error; empty when the server answered properly."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}: {response.text[:500]}"]
    if not response.headers.get("content-type", "").startswith("application/json"):
        return []  # refused by the edge before GraphQL (400, 401, 413, 429): not an error
    body = response.json()
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        return [f"not a GraphQL response: {response.text[:500]}"]
    return [
        json.dumps(error, ensure_ascii=False)
        for error in body.get("errors") or []
        if (error.get("extensions") or {}).get("code") == MASKED
    ]


def test_the_check_tells_a_masked_error_from_an_answer() -> None:
    def answer(body: object, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=body)

    masked = {"data": None, "errors": [{"message": "x", "extensions": {"code": MASKED}}]}
    refused = {"data": None, "errors": [{"message": "x", "extensions": {"code": "FORBIDDEN"}}]}
    invalid = {"errors": [{"message": "Cannot query field 'x' on type 'Query'."}]}
    assert server_errors(answer(masked)) != []
    assert server_errors(answer({"data": {}}, status=502)) != []
    assert server_errors(answer(["not", "graphql"])) != []
    assert server_errors(answer(refused)) == []
    assert server_errors(answer(invalid)) == []
    assert server_errors(answer({"data": {"viewer": None}})) == []
    assert server_errors(httpx.Response(401, text="Unauthorized")) == []


def test_every_root_field_is_fuzzed() -> None:
    assert len(OPERATIONS) > 90
    assert "Query.employees" in OPERATIONS
    assert "Mutation.upsertEmployees" in OPERATIONS
    assert all(SCHEMA.find_operation_by_label(label) is not None for label in OPERATIONS)
    assert len(list(SCHEMA.get_all_operations())) == len(OPERATIONS)


def test_id_arguments_name_their_type() -> None:
    known = ["CustomFieldDefinition", "Employee", "OrgUnit", "Period", "WorkItem"]
    assert _type_named_by("employeeId", "scorecard", known) == "Employee"
    assert _type_named_by("orgUnitIds", "rdDashboard", known) == "OrgUnit"
    assert _type_named_by("id", "archiveEmployee", known) == "Employee"
    assert _type_named_by("id", "workItem", known) == "WorkItem"
    assert _type_named_by("id", "updateCustomField", known) == "CustomFieldDefinition"
    assert _type_named_by("id", "correctWorkItemTimes", known) == "WorkItem"
    assert _type_named_by("id", "node", known) is None
    assert _type_named_by("requesterId", "salesView", known) is None


@pytest.mark.parametrize("label", OPERATIONS)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
async def test_no_operation_answers_with_a_server_error(
    label: str, fuzzing: Fuzzing, data: st.DataObject
) -> None:
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    case = data.draw(operation.as_strategy(), label="case")
    assert isinstance(case.body, str)
    document = with_seeded_ids(case.body, fuzzing, data.draw(st.randoms(), label="ids"))
    # when
    response = await fuzzing.client.post(
        "/graphql", json={"query": document}, headers=fuzzing.headers
    )
    # then
    errors = server_errors(response)
    assert not errors, f"{document}\n" + "\n".join(errors)
    leaked = [value for value in fuzzing.foreign if value in response.text]
    assert not leaked, f"{document}\nshows another tenant's {leaked}"
