"""Isolation, exhaustively: every id argument of the schema, probed with the other tenant's ids.

The schema is walked, not listed: every Query and Mutation field with an ``ID`` argument
(directly, in a list, or inside input objects) is called by tenant A's admin with an id of
tenant B's object of the right type and with a well-formed id that never existed; the two
answers must be the same, errors and data alike, once the ids are written out. A third call
with an id of A's own object must answer differently: it proves the call reached the lookup
of the probed id instead of failing on something else. Mutations must leave every row of
tenant B as it was. The same holds for several calls aliased in one request, for lists that
mix the other tenant's ids with missing ones, and for ``node(id:)`` with every node type.

A new id argument is probed as soon as it exists; if what it names cannot be told from its
name (``ID_NAMES``, ``ID_SLOTS``, or the node type in the field's name for ``id``), the
coverage test fails and lists it. Particular valid values a field needs are in
``PARTICULAR``, keyed by field name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from graphql import GraphQLSchema
from starlette.applications import Starlette
from starlette.routing import Route

from api.graphql.schema import NODE_TYPES, build_schema
from api.runtime import AppRuntime
from tenants.authorization import load_matrix
from tenants.models import Tenant, User
from tenants.settings import Settings
from tests.factories import create_tenant, create_user, user_token
from tests.support.graphql import GraphQLClient
from tests.support.isolation_world import OUTSIDE_PERIODS, ObjectKey, fresh, populate, snapshot
from tests.support.schema_probes import (
    IdSlot,
    Own,
    ProbeCall,
    answers_of,
    id_slots,
    operation,
    token_count,
)

# The schema's shape does not depend on the database: any URL builds it (and the first test
# checks that the application serves this very schema).
SCHEMA: GraphQLSchema = build_schema(
    Settings(database_url="postgresql://schema.invalid/renshi"), load_matrix()
)._schema
NODE_TYPE_NAMES = sorted(t.__name__.removesuffix("Type") for t in NODE_TYPES)

# What an id argument names, by the argument's (or input field's) name.
ID_NAMES: dict[str, str] = {
    "employeeId": "Employee",
    "subjectId": "Employee",
    "requesterId": "Employee",
    "assigneeId": "Employee",
    "answeredById": "Employee",
    "orgUnitId": "OrgUnit",
    "parentId": "OrgUnit",
    "skillId": "Skill",
    "skillIds": "Skill",
    "periodId": "Period",
    "scorecardId": "Scorecard",
    "linkedItemId": "WorkItem",
    "userId": "User",
}
# What the slots answer that neither their name nor their field's name settles.
ID_SLOTS: dict[str, str] = {
    # Any entity's id filters the audit log; an employee is the most audited.
    "auditLog.filter.entityId": "Employee",
    "updateCustomField.input.id": "CustomFieldDefinition",
    "archiveCustomField.id": "CustomFieldDefinition",
    "answerFeasibility.input.id": "WorkItem",
    "linkDefect.input.id": "WorkItem",
}
# Slots not probed here, each with the reason and where else it is covered.
NOT_PROBED: dict[str, str] = {
    # node(id:) takes every type: test_node_of_every_type probes it type by type.
    "Query.node.id": "probed per node type below",
    # Subscriptions run over WebSocket, which the in-process HTTP transport does not speak;
    # tests/api/test_import_progress.py subscribes to another tenant's import over a socket.
    "Subscription.importProgress.id": "covered by tests/api/test_import_progress.py",
}
# Slots whose answer with one's own id is, by design, the answer for an id that never
# existed, with why.
OWN_ANSWERS_AS_MISSING: dict[str, str] = {
    "Query.targetAdjustments.periodId": "a period lists the targets rules moved in it; no "
    "rule moved one in the world, and an unknown period lists none either",
    "Query.schoolDashboard.filter.orgUnitId": "the world is an R&D tenant: the school "
    "dashboard finds nothing for any unit",
    "Query.schoolDashboard.filter.skillId": "the world is an R&D tenant: the school "
    "dashboard finds nothing for any skill",
    "Mutation.removeEmployeeSkill.skillId": "removing a skill the person has no level in "
    "answers removed: false, whether the skill exists or not",
}


def _later(days: int) -> Callable[[], str]:
    return lambda: (date.today() + timedelta(days=days)).isoformat()


def _unique(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}{uuid4().hex[:8]}"


QUARTER = {"startsOn": "2026-07-01", "endsOn": "2026-09-30"}
# A fact outside every period: recording it queues no recomputation.
DUE_ITEM = {
    "kind": "due_item",
    "occurredAt": OUTSIDE_PERIODS.isoformat(),
    "value": 1.0,
    "denominator": 1.0,
}
# Valid values a field needs beyond the generated ones, merged over them; callables are
# called per request, ``Own`` becomes an id of the caller's own tenant. A slot's entry
# (``field.path``) goes over its field's.
PARTICULAR: dict[str, dict[str, Any]] = {
    "employees": {"first": 50},
    "orgUnits": {"first": 50},
    "auditLog": {"first": 50},
    "facts": {"first": 50, "includeSuperseded": True},
    "scorecards": {"first": 50},
    "workItems": {"first": 50},
    "matchCandidates": {"input": {"size": 1.0, "deadline": _later(365)}},
    "schoolDashboard": {"filter": QUARTER},
    "rdDashboard": {"filter": QUARTER},
    "createOrgUnit": {"input": {"name": "Probe unit", "kind": "team"}},
    "createEmployee": {"input": {"employeeNumber": _unique("P"), "name": "Probe"}},
    "setEmployeeSkill": {"input": {"level": 3}},
    "createEngagement": {"input": {"kind": "project", "name": "Probe", "startedOn": "2024-01-01"}},
    "createAppraisal": {
        "input": {"period": "2024", "periodStart": "2024-01-01", "periodEnd": "2024-12-31"}
    },
    "giveFeedback": {
        "input": {"source": "PEER", "ratings": [{"criterion": "delivery", "rating": 4}]}
    },
    "recordFact": {"input": DUE_ITEM},
    "recordFacts": {"items": [DUE_ITEM]},
    "correctFact": {"input": {"value": 0.0}},
    "reopenPeriod": {"reason": "Probe"},
    "adjustScorecard": {"input": {"points": 1.0, "comment": "Probe of the tenant boundary"}},
    "createWorkItem": {"input": {"kind": "requirement", "title": "Probe"}},
    # Only a defect links to the item it was found in.
    "createWorkItem.input.linkedItemId": {"input": {"kind": "bug", "foundIn": "TEST"}},
    "answerFeasibility": {"input": {"verdict": "FEASIBLE", "answeredById": Own("Employee")}},
    "promiseWorkItem": {"input": {"promisedOn": _later(60)}},
    "cancelWorkItem": {"reason": "Probe"},
    "setWorkItemCause": {"input": {"cause": "EXTERNAL", "comment": "Probe of the tenant boundary"}},
    "linkDefect": {"input": {"id": Own("WorkItem", "bug"), "foundIn": "TEST"}},
    "startImport": {"input": {"mode": "PREVIEW"}},
}


def _merge_particular(field: dict[str, Any], slot: dict[str, Any]) -> dict[str, Any]:
    merged = dict(field)
    for key, value in slot.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            value = _merge_particular(below, value)
        merged[key] = value
    return merged


def slot_type(slot: IdSlot) -> str | None:
    """The node type an id slot names; None when nothing says."""
    if slot.key in ID_SLOTS:
        return ID_SLOTS[slot.key]
    name = slot.path[-1]
    if name in ID_NAMES:
        return ID_NAMES[name]
    if name == "id":
        # ``updateEmployee(input: {id})``, ``archiveSkill(id)``: the longest node type
        # named in the field's name.
        named = [t for t in NODE_TYPE_NAMES if t.lower() in slot.field.lower()]
        return max(named, key=len) if named else None
    return None


def _slots(root: str) -> list[IdSlot]:
    return [s for s in id_slots(SCHEMA, root) if str(s) not in NOT_PROBED]


def _gid(type_name: str, node_id: UUID) -> str:
    return base64.b64encode(f"{type_name}:{node_id}".encode()).decode()


@dataclass
class World:
    a: Tenant
    admin: User
    b: Tenant
    a_ids: dict[ObjectKey, UUID]
    b_ids: dict[ObjectKey, UUID]


@pytest.fixture(scope="module")
async def world(app: Starlette) -> World:
    """Tenants A and B, both populated; A's admin calls, B's rows are probed."""
    a, b = await create_tenant(), await create_tenant()
    admin = await create_user(a, roles=("admin",))
    return World(a=a, admin=admin, b=b, a_ids=await populate(a), b_ids=await populate(b))


@dataclass
class Probe:
    """The three ids one slot is called with, and the objects of A the call also needs."""

    foreign: str
    missing: str
    own: str
    owned: dict[Own, str]


async def _probe(
    world: World, slot: IdSlot, type_name: str, *, shared: dict[ObjectKey, UUID] | None = None
) -> Probe:
    """Ids for ``slot``: a query reads A's populated objects; a mutation gets fresh ones,
    since its call with A's own id may change or delete them. Calls that are all expected
    to fail may share fresh objects (``shared``); they get no own id then."""
    needed = _owned_needs(slot)

    async def own_id(key: ObjectKey) -> str:
        if slot.root == "Query":
            node_id = world.a_ids[key]
        elif shared is not None:
            if key not in shared:
                shared[key] = await fresh(world.a, key)
            node_id = shared[key]
        else:
            node_id = await fresh(world.a, key)
        return _gid(key[0], node_id)

    owned = {need: await own_id((need.type_name, need.variant)) for need in needed}
    return Probe(
        foreign=_gid(type_name, world.b_ids[(type_name, None)]),
        missing=_gid(type_name, uuid4()),
        own="" if shared is not None else await own_id((type_name, None)),
        owned=owned,
    )


def _owned_needs(slot: IdSlot) -> set[Own]:
    """The objects of A a call of ``slot`` needs besides the probed one (a dry run)."""
    needs: set[Own] = set()

    def record(need: Own) -> str:
        needs.add(need)
        return "owned"

    def ids(key: str, element: int) -> str:
        if key == slot.key:
            return "probed"
        return record(Own(_required_type(slot.root, key)))

    _call(slot, "dry", ids, record).arguments()
    return needs


def _required_type(root: str, key: str) -> str:
    field, *path = key.split(".")
    other = IdSlot(root, field, tuple(path), False)
    type_name = slot_type(other)
    assert type_name is not None, f"{root}.{key}: what does it name? (see ID_NAMES)"
    return type_name


def _call(
    slot: IdSlot,
    alias: str,
    ids: Callable[[str, int], str],
    own: Callable[[Own], str],
    *,
    elements: int = 1,
    depth: int = 3,
) -> ProbeCall:
    return ProbeCall(
        schema=SCHEMA,
        slot=slot,
        alias=alias,
        ids=ids,
        own=own,
        particular=_merge_particular(PARTICULAR.get(slot.field, {}), PARTICULAR.get(slot.key, {})),
        elements=elements,
        depth=depth,
    )


def _probe_call(
    slot: IdSlot,
    probe: Probe,
    alias: str,
    value: str | list[str],
    *,
    depth: int = 3,
) -> ProbeCall:
    """A call with ``value`` in the slot (a list: one id per element of the slot's list)."""
    values = value if isinstance(value, list) else [value]

    def ids(key: str, element: int) -> str:
        if key == slot.key:
            return values[element]
        return probe.owned[Own(_required_type(slot.root, key))]

    return _call(
        slot, alias, ids, lambda need: probe.owned[need], elements=len(values), depth=depth
    )


async def _answers(
    gql: GraphQLClient, token: str, kind: str, calls: list[tuple[ProbeCall, list[str]]]
) -> dict[str, dict[str, Any]]:
    text, variables = operation(kind, [call for call, _ in calls])
    response = await gql(text, variables, token=token)
    assert response.status == 200, (response.status, response.body, text)
    return answers_of(response.body, {call.alias: probed for call, probed in calls})


def _internal(answer: dict[str, Any]) -> bool:
    return any(
        (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in answer["errors"]
    )


async def test_the_probed_schema_is_the_one_the_application_serves(app: Starlette) -> None:
    (route,) = [r for r in app.routes if isinstance(r, Route) and r.path == "/graphql"]
    served = route.endpoint.schema  # type: ignore[attr-defined]
    assert (
        served.as_str()
        == build_schema(
            Settings(database_url="postgresql://schema.invalid/renshi"), load_matrix()
        ).as_str()
    )
    assert served._schema.type_map.keys() == SCHEMA.type_map.keys()


async def test_every_id_argument_is_probed_or_listed(world: World) -> None:
    # given every id slot of every root type
    slots = [s for root in ("Query", "Mutation", "Subscription") for s in id_slots(SCHEMA, root)]
    assert len(slots) > 80, "the walk found too few id arguments: is it still walking?"
    # then each names a node type of which the other tenant has an object, or is listed
    uncovered = [
        str(s) for s in slots if str(s) not in NOT_PROBED and (slot_type(s) not in NODE_TYPE_NAMES)
    ]
    assert not uncovered, f"id arguments nobody knows the type of (add to ID_NAMES): {uncovered}"
    missing = sorted({t for t in NODE_TYPE_NAMES if (t, None) not in world.b_ids})
    assert not missing, f"node types the other tenant has no object of (see populate): {missing}"
    # and the tables name nothing that is gone
    keys = {s.key for s in slots} | {str(s) for s in slots}
    stale = [k for k in (*ID_SLOTS, *NOT_PROBED, *OWN_ANSWERS_AS_MISSING) if k not in keys]
    fields = {s.field for s in id_slots(SCHEMA, "Query") + id_slots(SCHEMA, "Mutation")}
    stale += [f for f in PARTICULAR if f not in fields and f not in keys]
    assert not stale, f"entries for id arguments that no longer exist: {stale}"


@pytest.mark.parametrize("slot", _slots("Query") + _slots("Mutation"), ids=str)
async def test_an_id_of_the_other_tenant_answers_as_one_that_never_existed(
    gql: GraphQLClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
    world: World,
    slot: IdSlot,
) -> None:
    type_name = slot_type(slot)
    assert type_name is not None, f"{slot}: what does it name? (see ID_NAMES)"
    probe = await _probe(world, slot, type_name)
    token = user_token(runtime.tokens, world.admin)
    kind = slot.root.lower()

    before = await snapshot(superuser, world.b.id)
    foreign = await _answers(
        gql, token, kind, [(_probe_call(slot, probe, "probe", probe.foreign), [probe.foreign])]
    )
    after = await snapshot(superuser, world.b.id)
    missing = await _answers(
        gql, token, kind, [(_probe_call(slot, probe, "probe", probe.missing), [probe.missing])]
    )
    own = await _answers(
        gql, token, kind, [(_probe_call(slot, probe, "probe", probe.own), [probe.own])]
    )

    assert foreign == missing
    assert not _internal(foreign["probe"]), foreign
    assert after == before, "tenant B's rows changed"
    if str(slot) not in OWN_ANSWERS_AS_MISSING:
        assert own != missing, f"{slot}: the call fails before it looks the id up: {own}"


@pytest.mark.parametrize(
    "slot", [s for s in _slots("Query") + _slots("Mutation") if s.in_list], ids=str
)
async def test_a_list_mixing_the_other_tenants_ids_answers_as_one_of_missing_ids(
    gql: GraphQLClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
    world: World,
    slot: IdSlot,
) -> None:
    type_name = slot_type(slot)
    assert type_name is not None
    probe = await _probe(world, slot, type_name)
    token = user_token(runtime.tokens, world.admin)
    never = _gid(type_name, uuid4())
    kind = slot.root.lower()

    before = await snapshot(superuser, world.b.id)
    foreign = await _answers(
        gql,
        token,
        kind,
        [(_probe_call(slot, probe, "probe", [probe.foreign, never]), [probe.foreign])],
    )
    after = await snapshot(superuser, world.b.id)
    missing = await _answers(
        gql,
        token,
        kind,
        [(_probe_call(slot, probe, "probe", [probe.missing, never]), [probe.missing])],
    )

    assert foreign == missing
    assert after == before, "tenant B's rows changed"


NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


@pytest.mark.parametrize("type_name", NODE_TYPE_NAMES)
async def test_node_of_every_type(
    gql: GraphQLClient, runtime: AppRuntime, world: World, type_name: str
) -> None:
    token = user_token(runtime.tokens, world.admin)
    foreign = _gid(type_name, world.b_ids[(type_name, None)])
    own = _gid(type_name, world.a_ids[(type_name, None)])

    answers = [
        (await gql(NODE, {"id": node_id}, token=token)).body
        for node_id in (foreign, _gid(type_name, uuid4()), own)
    ]

    assert answers[0] == answers[1] == {"data": {"node": None}}
    assert answers[2] == {"data": {"node": {"__typename": type_name, "id": own}}}


def _chunks(
    calls: list[tuple[ProbeCall, list[str]]], kind: str, *, aliases: int = 30, tokens: int = 3800
) -> list[list[tuple[ProbeCall, list[str]]]]:
    """Calls in requests that stay within the edge's alias and token limits."""
    chunks: list[list[tuple[ProbeCall, list[str]]]] = [[]]
    for call in calls:
        candidate = [*chunks[-1], call]
        text, _ = operation(kind, [c for c, _ in candidate])
        if len(candidate) > aliases or token_count(text) > tokens:
            chunks.append([call])
        else:
            chunks[-1] = candidate
    return [chunk for chunk in chunks if chunk]


@pytest.mark.parametrize("root", ["Query", "Mutation"])
async def test_aliased_calls_each_answer_as_for_an_id_that_never_existed(
    gql: GraphQLClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
    world: World,
    root: str,
) -> None:
    # given, for every slot, a call with B's id and a call with a missing id, side by side
    calls: list[tuple[ProbeCall, list[str]]] = []
    pairs: list[tuple[str, str]] = []
    shared: dict[ObjectKey, UUID] = {}
    for index, slot in enumerate(_slots(root)):
        type_name = slot_type(slot)
        assert type_name is not None
        probe = await _probe(world, slot, type_name, shared=shared)
        foreign, missing = f"f{index}", f"m{index}"
        calls.append((_probe_call(slot, probe, foreign, probe.foreign, depth=2), [probe.foreign]))
        calls.append((_probe_call(slot, probe, missing, probe.missing, depth=2), [probe.missing]))
        pairs.append((foreign, missing))
    token = user_token(runtime.tokens, world.admin)
    kind = root.lower()
    chunks = _chunks(calls, kind)
    assert len(chunks) > 1, "expected several requests"

    # when they run, several to a request
    before = await snapshot(superuser, world.b.id)
    answers: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        answers |= await _answers(gql, token, kind, chunk)
    after = await snapshot(superuser, world.b.id)

    # then each call with B's id answers as its twin with a missing id
    different = {f: (answers[f], answers[m]) for f, m in pairs if answers[f] != answers[m]}
    assert not different, json.dumps(different, indent=1, ensure_ascii=False)
    assert not [alias for alias, answer in answers.items() if _internal(answer)], answers
    assert after == before, "tenant B's rows changed"


async def test_aliased_node_calls_mixing_types_answer_null(
    gql: GraphQLClient, runtime: AppRuntime, world: World
) -> None:
    token = user_token(runtime.tokens, world.admin)
    half = len(NODE_TYPE_NAMES) // 2
    for types in (NODE_TYPE_NAMES[:half], NODE_TYPE_NAMES[half:]):
        calls: list[str] = []
        variables: dict[str, str] = {}
        for type_name in types:
            for tag, node_id in (
                ("foreign", _gid(type_name, world.b_ids[(type_name, None)])),
                ("missing", _gid(type_name, uuid4())),
            ):
                alias = f"{tag}{type_name}"
                calls.append(f"{alias}: node(id: ${alias}) {{ __typename id }}")
                variables[alias] = node_id
        declarations = ", ".join(f"${name}: ID!" for name in variables)
        text = f"query({declarations}) {{ {' '.join(calls)} }}"
        assert (await gql(text, variables, token=token)).ok() == dict.fromkeys(variables)
