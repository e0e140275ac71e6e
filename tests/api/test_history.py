"""Work history through GraphQL: engagements and appraisals, their ERP syncs, who reads them."""

from __future__ import annotations

from datetime import date
from typing import Any

from api.runtime import AppRuntime
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee
from domain.templates.registry import pack_for
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    client_token,
    create_api_client,
    create_tenant,
    create_user,
    global_id,
    tenant_id,
    user_token,
)
from tests.factories_records import (
    create_appraisal,
    create_employee,
    create_engagement,
    create_org_unit,
    create_skill,
)
from tests.support.graphql import GraphQLClient

ENGAGEMENT_FIELDS = """
  id kind kindLabel { en } name role startedOn endedOn outcomes
  figures { code name { zh en } unit value } skills { name } employeeId
"""

CREATE_ENGAGEMENT = f"""
mutation($input: EngagementCreateInput!) {{ createEngagement(input: $input) {{
  __typename
  ... on EngagementPayload {{ engagement {{ {ENGAGEMENT_FIELDS} }} }}
  ... on EngagementError {{ code field message details {{ code field }} }}
}} }}
"""

UPDATE_ENGAGEMENT = f"""
mutation($input: EngagementUpdateInput!) {{ updateEngagement(input: $input) {{
  __typename
  ... on EngagementPayload {{ engagement {{ {ENGAGEMENT_FIELDS} }} }}
  ... on EngagementError {{ code field message details {{ code field }} }}
}} }}
"""

ARCHIVE_ENGAGEMENT = """
mutation($id: ID!) { archiveEngagement(id: $id) {
  __typename
  ... on EngagementPayload { engagement { name archivedAt } }
  ... on EngagementError { code field }
} }
"""

APPRAISAL_FIELDS = "id period periodStart periodEnd score grade reviewer comments source"

CREATE_APPRAISAL = f"""
mutation($input: AppraisalCreateInput!) {{ createAppraisal(input: $input) {{
  __typename
  ... on AppraisalPayload {{ appraisal {{ {APPRAISAL_FIELDS} }} }}
  ... on AppraisalError {{ code field message details {{ code field }} }}
}} }}
"""

UPDATE_APPRAISAL = f"""
mutation($input: AppraisalUpdateInput!) {{ updateAppraisal(input: $input) {{
  __typename
  ... on AppraisalPayload {{ appraisal {{ {APPRAISAL_FIELDS} }} }}
  ... on AppraisalError {{ code field message }}
}} }}
"""

ARCHIVE_APPRAISAL = """
mutation($id: ID!) { archiveAppraisal(id: $id) {
  __typename
  ... on AppraisalPayload { appraisal { period archivedAt } }
  ... on AppraisalError { code field }
} }
"""

HISTORY = """
query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Employee {
  engagements(first: $first, after: $after) {
    edges { node { name startedOn } } pageInfo { hasNextPage endCursor }
  }
  appraisals { edges { node { period score } } }
  latestAppraisal { period score grade }
} } }
"""

NODE = """
query($id: ID!) { node(id: $id) {
  __typename
  ... on Engagement { name }
  ... on Appraisal { period }
} }
"""

UPSERT_ENGAGEMENTS = """
mutation($items: [EngagementUpsertInput!]!) { upsertEngagements(items: $items) {
  __typename
  ... on EngagementsUpsertPayload { results {
    key outcome engagement { name employeeId skills { name } outcomes } error { code field }
  } }
  ... on EngagementError { code field }
} }
"""

UPSERT_APPRAISALS = """
mutation($items: [AppraisalUpsertInput!]!) { upsertAppraisals(items: $items) {
  __typename
  ... on AppraisalsUpsertPayload { results {
    key outcome appraisal { period score source employeeId } error { code field }
  } }
  ... on AppraisalError { code field }
} }
"""


async def _manager_of(tenant: Tenant, unit: OrgUnit, name: str) -> tuple[User, Employee]:
    """A manager's user account, linked to an employee who manages ``unit``."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_employee(tenant, name=name, org_unit=unit, user=user)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user, person


async def _mutate(
    gql: GraphQLClient, document: str, token: str, **variables: Any
) -> dict[str, Any]:
    """The one root field's result of a mutation."""
    data = (await gql(document, variables, token=token)).ok()
    (result,) = data.values()
    assert isinstance(result, dict)
    return result


async def _history(
    gql: GraphQLClient, token: str, person: Employee, **variables: Any
) -> dict[str, Any] | None:
    data = (
        await gql(HISTORY, {"id": global_id("Employee", person.id), **variables}, token=token)
    ).ok()
    node: dict[str, Any] | None = data["node"]
    return node


# --- engagements -----------------------------------------------------------------------------


async def test_engagements_are_checked_against_the_tenants_pack(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a person of an R&D tenant, and a school tenant with its own kinds and people
    tenant = await create_tenant(template="enterprise_rd")
    school = await create_tenant(template="school_teaching")
    person = await create_employee(tenant, name="Ada")
    python = await create_skill(tenant, "Python")
    teacher = await create_employee(school, name="Teacher")
    their_skill = await create_skill(school, "Algebra")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    person_id = global_id("Employee", person.id)
    assert [k.code for k in pack_for("enterprise_rd").engagement_kinds] == ["project"]

    # when an engagement is recorded with figures of its kind
    created = await _mutate(
        gql,
        CREATE_ENGAGEMENT,
        token,
        input={
            "employeeId": person_id,
            "kind": "project",
            "name": " Billing  rewrite ",
            "role": "Lead",
            "startedOn": "2024-03-01",
            "endedOn": "2024-09-30",
            "outcomes": {"defects_test": 3, "cycle_days": 12.5},
            "skillIds": [global_id("Skill", python.id)],
        },
    )

    # then the figures come with their names and units, in the pack's order
    assert created["__typename"] == "EngagementPayload"
    engagement = created["engagement"]
    assert {k: v for k, v in engagement.items() if k != "id"} == {
        "kind": "project",
        "kindLabel": {"en": "Project"},
        "name": "Billing rewrite",
        "role": "Lead",
        "startedOn": "2024-03-01",
        "endedOn": "2024-09-30",
        "outcomes": {"defects_test": 3, "cycle_days": 12.5},
        "figures": [
            {
                "code": "cycle_days",
                "name": {"zh": "开发周期", "en": "Cycle time"},
                "unit": "days",
                "value": 12.5,
            },
            {
                "code": "defects_test",
                "name": {"zh": "测试发现缺陷", "en": "Defects found in test"},
                "unit": None,
                "value": 3.0,
            },
        ],
        "skills": [{"name": "Python"}],
        "employeeId": person_id,
    }

    # and every bad figure is named at once
    bad = await _mutate(
        gql,
        CREATE_ENGAGEMENT,
        token,
        input={
            "employeeId": person_id,
            "kind": "project",
            "name": "Bad",
            "startedOn": "2024-03-01",
            "endedOn": "2024-02-01",
            "outcomes": {"nope": 1, "customer_rating": 7, "defects_test": 1.5},
        },
    )
    assert (bad["__typename"], bad["code"]) == ("EngagementError", "INVALID")
    assert sorted(d["field"] for d in bad["details"]) == [
        "endedOn",
        "outcomes.customer_rating",
        "outcomes.defects_test",
        "outcomes.nope",
    ]
    not_an_object = await _mutate(
        gql,
        CREATE_ENGAGEMENT,
        token,
        input={
            "employeeId": person_id,
            "kind": "project",
            "name": "List",
            "startedOn": "2024-03-01",
            "outcomes": [1, 2],
        },
    )
    assert (not_an_object["code"], not_an_object["field"]) == ("INVALID", "outcomes")
    # the school's kinds are not this tenant's
    school_kind = await _mutate(
        gql,
        CREATE_ENGAGEMENT,
        token,
        input={
            "employeeId": person_id,
            "kind": "class",
            "name": "Class 3",
            "startedOn": "2024-03-01",
        },
    )
    assert (school_kind["code"], school_kind["field"]) == ("INVALID", "kind")
    # nor its people and skills
    for wrong, field in (
        ({"employeeId": global_id("Employee", teacher.id)}, "employeeId"),
        ({"skillIds": [global_id("Skill", their_skill.id)]}, "skillIds"),
    ):
        foreign = await _mutate(
            gql,
            CREATE_ENGAGEMENT,
            token,
            input={
                "employeeId": person_id,
                "kind": "project",
                "name": "X",
                "startedOn": "2024-03-01",
                **wrong,
            },
        )
        assert (foreign["code"], foreign["field"]) == ("NOT_FOUND", field)

    # an update changes what it names; the figures are checked again
    updated = await _mutate(
        gql,
        UPDATE_ENGAGEMENT,
        token,
        input={
            "id": engagement["id"],
            "name": "Billing v2",
            "outcomes": {"customer_rating": 4.5},
            "skillIds": [],
        },
    )
    changed = updated["engagement"]
    assert (changed["name"], changed["role"], changed["outcomes"], changed["skills"]) == (
        "Billing v2",
        "Lead",
        {"customer_rating": 4.5},
        [],
    )
    assert changed["figures"] == [
        {
            "code": "customer_rating",
            "name": {"zh": "客户评分", "en": "Customer rating"},
            "unit": None,
            "value": 4.5,
        }
    ]
    too_high = await _mutate(
        gql,
        UPDATE_ENGAGEMENT,
        token,
        input={"id": engagement["id"], "outcomes": {"customer_rating": 5.5}},
    )
    assert (too_high["code"], too_high["field"]) == ("INVALID", "outcomes.customer_rating")
    assert too_high["message"] == "must be at most 5"

    # archiving takes it out of the profile; another tenant's engagement is not found
    their_engagement = await create_engagement(school, teacher, name="Class 3")
    missing = await _mutate(
        gql, ARCHIVE_ENGAGEMENT, token, id=global_id("Engagement", their_engagement.id)
    )
    assert missing == {"__typename": "EngagementError", "code": "NOT_FOUND", "field": "id"}
    foreign_update = await _mutate(
        gql,
        UPDATE_ENGAGEMENT,
        token,
        input={"id": global_id("Engagement", their_engagement.id), "name": "Mine"},
    )
    assert (foreign_update["code"], foreign_update["field"]) == ("NOT_FOUND", "id")
    foreign_node = await gql(
        NODE, {"id": global_id("Engagement", their_engagement.id)}, token=token
    )
    assert foreign_node.ok()["node"] is None

    history = await _history(gql, token, person)
    assert history is not None
    assert [e["node"]["name"] for e in history["engagements"]["edges"]] == ["Billing v2"]
    archived = await _mutate(gql, ARCHIVE_ENGAGEMENT, token, id=engagement["id"])
    assert archived["engagement"]["name"] == "Billing v2"
    assert archived["engagement"]["archivedAt"] is not None
    history = await _history(gql, token, person)
    assert history is not None
    assert history["engagements"]["edges"] == []


async def test_a_persons_engagements_page_latest_first(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, name="Ada")
    someone = await create_employee(tenant, name="Bo")
    for month in (1, 5, 3):
        await create_engagement(tenant, person, name=f"P{month}", started_on=date(2024, month, 1))
    await create_engagement(tenant, someone, name="Not hers")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))

    first = await _history(gql, token, person, first=2)
    assert first is not None
    page = first["engagements"]
    assert [(e["node"]["name"], e["node"]["startedOn"]) for e in page["edges"]] == [
        ("P5", "2024-05-01"),
        ("P3", "2024-03-01"),
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await _history(gql, token, person, first=2, after=page["pageInfo"]["endCursor"])
    assert rest is not None
    assert [e["node"]["name"] for e in rest["engagements"]["edges"]] == ["P1"]
    assert rest["engagements"]["pageInfo"]["hasNextPage"] is False


# --- appraisals ------------------------------------------------------------------------------


async def test_appraisals_through_graphql(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant, name="Ada")
    foreigner = await create_employee(other, name="Elsewhere")
    theirs = await create_appraisal(other, foreigner, period="2024", score=99)
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    person_id = global_id("Employee", person.id)

    async def create(**fields: Any) -> dict[str, Any]:
        return await _mutate(
            gql, CREATE_APPRAISAL, token, input={"employeeId": person_id, **fields}
        )

    h1 = await create(
        period="2024H1",
        periodStart="2024-01-01",
        periodEnd="2024-06-30",
        score="88.5",
        grade="A",
        reviewer="Chen",
    )
    assert {k: v for k, v in h1["appraisal"].items() if k != "id"} == {
        "period": "2024H1",
        "periodStart": "2024-01-01",
        "periodEnd": "2024-06-30",
        "score": "88.50",
        "grade": "A",
        "reviewer": "Chen",
        "comments": None,
        "source": "ENTERED",
    }
    h2 = await create(
        period="2024H2", periodStart="2024-07-01", periodEnd="2024-12-31", score=91, grade="A+"
    )
    assert h2["appraisal"]["score"] == "91.00"

    # every problem at once
    bad = await create(period=" ", periodStart="2024-07-01", periodEnd="2024-01-01", score=101)
    assert (bad["__typename"], bad["code"]) == ("AppraisalError", "INVALID")
    assert sorted(d["field"] for d in bad["details"]) == ["period", "periodEnd", "score"]
    precise = await create(
        period="2023", periodStart="2023-01-01", periodEnd="2023-12-31", score="70.125"
    )
    assert (precise["field"], precise["message"]) == ("score", "at most 2 decimal places")
    foreign = await _mutate(
        gql,
        CREATE_APPRAISAL,
        token,
        input={
            "employeeId": global_id("Employee", foreigner.id),
            "period": "2024",
            "periodStart": "2024-01-01",
            "periodEnd": "2024-12-31",
        },
    )
    assert (foreign["code"], foreign["field"]) == ("NOT_FOUND", "employeeId")

    # the latest period first, and the latest on its own
    history = await _history(gql, token, person)
    assert history is not None
    assert [e["node"] for e in history["appraisals"]["edges"]] == [
        {"period": "2024H2", "score": "91.00"},
        {"period": "2024H1", "score": "88.50"},
    ]
    assert history["latestAppraisal"] == {"period": "2024H2", "score": "91.00", "grade": "A+"}

    # updates keep what they do not name; archiving leaves the earlier one latest
    updated = await _mutate(
        gql,
        UPDATE_APPRAISAL,
        token,
        input={"id": h2["appraisal"]["id"], "score": None, "comments": "Strong year"},
    )
    assert (updated["appraisal"]["grade"], updated["appraisal"]["score"]) == ("A+", None)
    assert updated["appraisal"]["comments"] == "Strong year"
    archived = await _mutate(gql, ARCHIVE_APPRAISAL, token, id=h2["appraisal"]["id"])
    assert archived["appraisal"]["archivedAt"] is not None
    history = await _history(gql, token, person)
    assert history is not None
    assert history["latestAppraisal"] == {"period": "2024H1", "score": "88.50", "grade": "A"}
    assert [e["node"]["period"] for e in history["appraisals"]["edges"]] == ["2024H1"]

    # another tenant's appraisal answers as missing
    for document, variables in (
        (UPDATE_APPRAISAL, {"input": {"id": global_id("Appraisal", theirs.id), "grade": "C"}}),
        (ARCHIVE_APPRAISAL, {"id": global_id("Appraisal", theirs.id)}),
    ):
        missing = await _mutate(gql, document, token, **variables)
        assert (missing["code"], missing["field"]) == ("NOT_FOUND", "id")
    node = await gql(NODE, {"id": global_id("Appraisal", theirs.id)}, token=token)
    assert node.ok()["node"] is None


async def test_who_reads_appraisals(gql: GraphQLClient, runtime: AppRuntime) -> None:
    # given a person in a team under a managed department, with two appraisals
    tenant, other = await create_tenant(), await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, dept, "Boss")
    side_boss_user, _ = await _manager_of(tenant, side, "Side boss")
    subject_user = await create_user(tenant, roles=("employee",))
    subject = await create_employee(tenant, name="Subject", org_unit=team, user=subject_user)
    peer_user = await create_user(tenant, roles=("employee",))
    await create_employee(tenant, name="Peer", org_unit=team, user=peer_user)
    await create_appraisal(
        tenant,
        subject,
        period="2023",
        score=80,
        period_start=date(2023, 1, 1),
        period_end=date(2023, 12, 31),
    )
    latest = await create_appraisal(tenant, subject, period="2024", score=85, grade="B")
    await create_engagement(tenant, subject, name="Billing")
    foreigner = await create_employee(other, name="Foreigner")
    await create_appraisal(other, foreigner, period="2024", score=99)

    admin, hr, sales = [
        user_token(runtime.tokens, await create_user(tenant, roles=(role,)))
        for role in ("admin", "hr", "sales")
    ]
    everything = {
        "engagements": {
            "edges": [{"node": {"name": "Billing", "startedOn": "2024-01-01"}}],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        },
        "appraisals": {
            "edges": [
                {"node": {"period": "2024", "score": "85.00"}},
                {"node": {"period": "2023", "score": "80.00"}},
            ]
        },
        "latestAppraisal": {"period": "2024", "score": "85.00", "grade": "B"},
    }

    def without_cursor(found: dict[str, Any] | None) -> dict[str, Any] | None:
        if found is not None:
            found["engagements"]["pageInfo"]["endCursor"] = None
        return found

    # then administrators, HR, the subtree's manager and the person read them
    for reader in (
        admin,
        hr,
        user_token(runtime.tokens, boss_user),
        user_token(runtime.tokens, subject_user),
    ):
        assert without_cursor(await _history(gql, reader, subject)) == everything
        node = await gql(NODE, {"id": global_id("Appraisal", latest.id)}, token=reader)
        assert node.ok()["node"] == {"__typename": "Appraisal", "period": "2024"}

    # sales see the person and their work, not their evaluations
    assert without_cursor(await _history(gql, sales, subject)) == {
        **everything,
        "appraisals": {"edges": []},
        "latestAppraisal": None,
    }
    refused = await gql(NODE, {"id": global_id("Appraisal", latest.id)}, token=sales)
    assert refused.error_codes == ["FORBIDDEN"]

    # a peer, and a manager of another unit, do not reach the person at all
    for outsider in (peer_user, side_boss_user):
        reader = user_token(runtime.tokens, outsider)
        assert await _history(gql, reader, subject) is None
        node = await gql(NODE, {"id": global_id("Appraisal", latest.id)}, token=reader)
        assert node.ok()["node"] is None

    # nobody here reads another tenant's person
    assert await _history(gql, admin, foreigner) is None


async def test_a_manager_records_history_in_their_subtree_only(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    dept = await create_org_unit(tenant, name="Dept", kind="department")
    team = await create_org_unit(tenant, name="Team", kind="team", parent=dept)
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, dept, "Boss")
    member = await create_employee(tenant, name="Member", org_unit=team)
    outsider = await create_employee(tenant, name="Outsider", org_unit=side)
    theirs = await create_engagement(tenant, outsider, name="Theirs")
    their_appraisal = await create_appraisal(tenant, outsider, period="2024")
    boss = user_token(runtime.tokens, boss_user)

    def engagement_for(person: Employee) -> dict[str, Any]:
        return {
            "employeeId": global_id("Employee", person.id),
            "kind": "project",
            "name": "Migration",
            "startedOn": "2024-02-01",
        }

    created = await _mutate(gql, CREATE_ENGAGEMENT, boss, input=engagement_for(member))
    assert created["__typename"] == "EngagementPayload"
    assert created["engagement"]["employeeId"] == global_id("Employee", member.id)
    outside = await _mutate(gql, CREATE_ENGAGEMENT, boss, input=engagement_for(outsider))
    assert (outside["__typename"], outside["code"], outside["field"]) == (
        "EngagementError",
        "NOT_FOUND",
        "employeeId",
    )
    # neither moved out of the subtree, nor changed there
    moved = await _mutate(
        gql,
        UPDATE_ENGAGEMENT,
        boss,
        input={
            "id": created["engagement"]["id"],
            "employeeId": global_id("Employee", outsider.id),
        },
    )
    assert (moved["code"], moved["field"]) == ("NOT_FOUND", "employeeId")
    for document, variables in (
        (UPDATE_ENGAGEMENT, {"input": {"id": global_id("Engagement", theirs.id), "name": "X"}}),
        (ARCHIVE_ENGAGEMENT, {"id": global_id("Engagement", theirs.id)}),
        (ARCHIVE_APPRAISAL, {"id": global_id("Appraisal", their_appraisal.id)}),
    ):
        refused = await _mutate(gql, document, boss, **variables)
        assert (refused["code"], refused["field"]) == ("NOT_FOUND", "id")
    appraisal = await _mutate(
        gql,
        CREATE_APPRAISAL,
        boss,
        input={
            "employeeId": global_id("Employee", member.id),
            "period": "2024",
            "periodStart": "2024-01-01",
            "periodEnd": "2024-12-31",
            "score": 77,
        },
    )
    assert appraisal["appraisal"]["score"] == "77.00"

    # what the outsider has is untouched
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))
    history = await _history(gql, hr, outsider)
    assert history is not None
    assert [e["node"]["name"] for e in history["engagements"]["edges"]] == ["Theirs"]
    assert [e["node"]["period"] for e in history["appraisals"]["edges"]] == ["2024"]

    # employees do not record history, not even their own
    worker_user = await create_user(tenant, roles=("employee",))
    worker = await create_employee(tenant, name="Worker", org_unit=team, user=worker_user)
    response = await gql(
        CREATE_ENGAGEMENT,
        {"input": engagement_for(worker)},
        token=user_token(runtime.tokens, worker_user),
    )
    assert response.error_codes == ["FORBIDDEN"]


# --- ERP syncs -------------------------------------------------------------------------------


async def test_erp_syncs_name_people_by_number_and_skills_by_name(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant, name="Ada", employee_number="E-1")
    foreigner = await create_employee(other, name="Elsewhere", employee_number="X-1")
    await create_skill(tenant, "Python", aliases=("py",))
    await create_skill(tenant, "Kubernetes", aliases=("k8s",))
    await create_skill(other, "Rust")
    erp = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("records:write",))).client
    )
    ada = global_id("Employee", person.id)
    engagements: list[dict[str, Any]] = [
        {
            "externalKey": "P-1",
            "employeeNumber": "E-1",
            "kind": "project",
            "name": "Billing",
            "startedOn": "2024-01-01",
            "outcomes": {"defects_production": 2},
            "skills": ["PY", "k8s", "python"],
        },
        {
            "externalKey": "P-2",
            "employeeNumber": "NOBODY",
            "kind": "project",
            "name": "Ghost",
            "startedOn": "2024-01-01",
        },
        {
            "externalKey": "P-3",
            "employeeNumber": "E-1",
            "kind": "project",
            "name": "Unknown skill",
            "startedOn": "2024-01-01",
            "skills": ["Python", "Rust"],  # Rust is another tenant's
        },
        {
            "externalKey": "P-4",
            "employeeNumber": "X-1",  # another tenant's person
            "kind": "project",
            "name": "Foreign",
            "startedOn": "2024-01-01",
        },
    ]

    async def sync(document: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = await _mutate(gql, document, erp, items=items)
        results: list[dict[str, Any]] = result["results"]
        return results

    unknown_person = {"code": "NOT_FOUND", "field": "employeeNumber"}
    expected_failures = [
        ("P-2", "FAILED", unknown_person),
        ("P-3", "FAILED", {"code": "INVALID", "field": "skills"}),
        ("P-4", "FAILED", unknown_person),
    ]
    first = await sync(UPSERT_ENGAGEMENTS, engagements)
    assert [(r["key"], r["outcome"], r["error"]) for r in first] == [
        ("P-1", "CREATED", None),
        *expected_failures,
    ]
    assert first[0]["engagement"] == {
        "name": "Billing",
        "employeeId": ada,
        "skills": [{"name": "Kubernetes"}, {"name": "Python"}],
        "outcomes": {"defects_production": 2},
    }
    again = await sync(UPSERT_ENGAGEMENTS, engagements)
    assert [(r["key"], r["outcome"], r["error"]) for r in again] == [
        ("P-1", "UNCHANGED", None),
        *expected_failures,
    ]
    engagements[0]["skills"] = ["python"]
    changed = await sync(UPSERT_ENGAGEMENTS, engagements[:1])
    assert (changed[0]["outcome"], changed[0]["engagement"]["skills"]) == (
        "UPDATED",
        [{"name": "Python"}],
    )

    appraisals: list[dict[str, Any]] = [
        {
            "externalKey": "A-1",
            "employeeNumber": "E-1",
            "period": "2024",
            "periodStart": "2024-01-01",
            "periodEnd": "2024-12-31",
            "score": "82.5",
        },
        {
            "externalKey": "A-2",
            "employeeNumber": "X-1",
            "period": "2024",
            "periodStart": "2024-01-01",
            "periodEnd": "2024-12-31",
        },
    ]
    for outcome in ("CREATED", "UNCHANGED"):
        results = await sync(UPSERT_APPRAISALS, appraisals)
        assert [(r["key"], r["outcome"], r["error"]) for r in results] == [
            ("A-1", outcome, None),
            ("A-2", "FAILED", unknown_person),
        ]
        assert results[0]["appraisal"] == {
            "period": "2024",
            "score": "82.50",
            "source": "IMPORTED",
            "employeeId": ada,
        }

    too_many = [{**appraisals[0], "externalKey": f"A-{i}"} for i in range(501)]
    refused = await _mutate(gql, UPSERT_APPRAISALS, erp, items=too_many)
    assert refused == {"__typename": "AppraisalError", "code": "INVALID", "field": "items"}

    # the other tenant's person got nothing
    other_erp = client_token(
        runtime.tokens, (await create_api_client(other, scopes=("records:read",))).client
    )
    nothing = await _history(gql, other_erp, foreigner)
    assert nothing is not None
    assert nothing["engagements"]["edges"] == []
    assert nothing["appraisals"]["edges"] == []


PROFILE_HISTORY = """
query($id: ID!, $first: Int) { node(id: $id) { ... on Employee {
  engagements(first: $first) { edges { node { name figures { code value } skills { name } } } }
  appraisals(first: $first) { edges { node { period score } } }
} } }
"""


async def test_a_persons_history_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a person with 25 projects of 2 skills each and 25 yearly appraisals
    tenant, other = await create_tenant(), await create_tenant()
    skills = [await create_skill(tenant, name) for name in ("Go", "Python", "Rust")]
    person = await create_employee(tenant, name="Ada")
    for i in range(25):
        await create_engagement(
            tenant,
            person,
            name=f"P{i:02d}",
            started_on=date(2000 + i, 1, 1),
            outcomes={"cycle_days": i, "defects_test": 2},
            skills=skills[i % 2 : i % 2 + 2],
        )
        await create_appraisal(
            tenant,
            person,
            period=str(2000 + i),
            period_start=date(2000 + i, 1, 1),
            period_end=date(2000 + i, 12, 31),
            score=60 + i,
        )
    # and a colleague's and another tenant's person's history
    colleague = await create_employee(tenant, name="Bo")
    await create_engagement(tenant, colleague, name="Bo's", started_on=date(2030, 1, 1))
    await create_appraisal(tenant, colleague, period="2030")
    foreigner = await create_employee(other, name="Foreigner")
    await create_engagement(other, foreigner, name="Theirs", started_on=date(2030, 1, 1))
    await create_appraisal(other, foreigner, period="2030")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    costs = set()
    for first in (3, 10, 25):
        response = await gql(
            PROFILE_HISTORY, {"id": global_id("Employee", person.id), "first": first}, token=token
        )
        node = response.ok()["node"]
        engagements = [edge["node"] for edge in node["engagements"]["edges"]]
        appraisals = [edge["node"] for edge in node["appraisals"]["edges"]]
        assert [e["name"] for e in engagements] == [f"P{24 - i:02d}" for i in range(first)]
        assert [a["period"] for a in appraisals] == [str(2024 - i) for i in range(first)]
        assert engagements[0]["figures"] == [
            {"code": "cycle_days", "value": 24.0},
            {"code": "defects_test", "value": 2.0},
        ]
        assert engagements[0]["skills"] == [{"name": "Go"}, {"name": "Python"}]
        assert engagements[1]["skills"] == [{"name": "Python"}, {"name": "Rust"}]
        costs.add(response.statements)
    # the scope, the caller, the person, the engagements page, one statement for all their
    # skills, the appraisals page
    assert costs == {6}, costs
    foreign = {"id": global_id("Employee", foreigner.id), "first": 25}
    assert (await gql(PROFILE_HISTORY, foreign, token=token)).ok()["node"] is None
