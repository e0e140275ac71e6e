"""Pages load their items' profile fields up front; single objects still load theirs lazily."""

from __future__ import annotations

from datetime import date

from api.runtime import AppRuntime
from domain.feedback.models import FeedbackSource
from domain.people.models import Employee
from tenants.models import Tenant
from tests.factories import create_tenant, create_user, global_id, user_token
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_org_unit,
    create_skill,
    give_feedback,
    set_skill,
)
from tests.support.graphql import GraphQLClient

PROFILE = """
  name level { code } orgUnit { name } skills { level skill { name } }
  latestAppraisal { period } feedbackSummary { sources { source named { responses } } }
"""
PLAIN = f"query {{ employees(first: 10) {{ edges {{ node {{ {PROFILE} }} }} }} }}"
# The same fields, asked for through an inline fragment and a named one.
FRAGMENTS = """
query { employees(first: 10) { edges { node { ...Profile ... on Employee { latestAppraisal {
  period } } } } } }
fragment Profile on Employee {
  name level { code } orgUnit { name } skills { level skill { name } }
  feedbackSummary { sources { source named { responses } } }
}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Employee {{ {PROFILE} }} }} }}"


async def _people(count: int) -> tuple[Tenant, list[Employee]]:
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    go = await create_skill(tenant, "Go")
    people: list[Employee] = []
    for i in range(count):
        person = await create_employee(tenant, name=f"P{i}", level="senior", org_unit=team)
        await set_skill(tenant, person, go, 3)
        await create_appraisal(
            tenant,
            person,
            period="2024",
            period_start=date(2024, 1, 1),
            period_end=date(2024, 12, 31),
        )
        await give_feedback(tenant, person, source=FeedbackSource.PEER)
        people.append(person)
    return tenant, people


async def test_fragments_are_primed_like_plain_fields(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, _ = await _people(4)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    plain = await gql(PLAIN, token=token)
    through_fragments = await gql(FRAGMENTS, token=token)
    nodes = [edge["node"] for edge in plain.ok()["employees"]["edges"]]
    assert [edge["node"] for edge in through_fragments.ok()["employees"]["edges"]] == nodes
    assert nodes[0] == {
        "name": "P0",
        "level": {"code": "senior"},
        "orgUnit": {"name": "Team"},
        "skills": [{"level": 3, "skill": {"name": "Go"}}],
        "latestAppraisal": {"period": "2024"},
        "feedbackSummary": {"sources": [{"source": "PEER", "named": {"responses": 1}}]},
    }
    # scope, caller, page, then one statement each for skills, appraisals, feedback and the
    # caller's own record (named feedback is never shown about oneself)
    assert plain.statements == through_fragments.statements == 7


async def test_a_single_employee_loads_the_same_fields_lazily(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, people = await _people(1)
    other, _ = await _people(1)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    listed = (await gql(PLAIN, token=token)).ok()["employees"]["edges"][0]["node"]
    alone = await gql(NODE, {"id": global_id("Employee", people[0].id)}, token=token)
    assert alone.ok()["node"] == listed
    # another tenant's person is nobody here, and theirs is nobody to us
    their_hr = user_token(runtime.tokens, await create_user(other, roles=("hr",)))
    missing = await gql(NODE, {"id": global_id("Employee", people[0].id)}, token=their_hr)
    assert missing.ok()["node"] is None
