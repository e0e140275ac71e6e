"""Work items and matching through GraphQL: a request's lifecycle as the roles live it, who
sees which items (sales their requests, engineers their work, another tenant nothing),
statement counts of a page, ticket-system upserts, the sales view and capability matching."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from api.runtime import AppRuntime
from domain.people.models import Employee
from domain.work.models import FoundIn, WorkItem
from domain.work.service import work_items
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    client_token,
    create_api_client,
    create_tenant,
    create_user,
    global_id,
    node_uuid,
    tenant_id,
    user_token,
)
from tests.factories_indicators import record_facts
from tests.factories_records import create_employee, create_skill, set_skill
from tests.factories_work import create_item, derived_facts
from tests.support.graphql import GraphQLClient

# --- documents -------------------------------------------------------------------------------

ITEM = """
id kind kindName { en zh } title customer status requesterId requester { name } requesterName
size requestedAt answeredAt verdict estimateDays answerNote answeredById answeredBy { name }
promisedOn promisedAt feasibleOn overpromised startedAt deliveredAt closedAt cancelledAt late
delayCause cause causeComment foundIn linkedItemId linkedItem { id } defects { id }
assignees { share employeeId employee { name } } skills { skillId minLevel skill { name } }
source externalKey
"""

ERROR = "... on Error { code field message messageZh }"


def _input_mutation(name: str, input_type: str, payload: str) -> str:
    return f"""
    mutation($input: {input_type}!) {{ {name}(input: $input) {{
      __typename
      ... on {payload} {{ workItem {{ {ITEM} }} }}
      {ERROR}
    }} }}
    """


CREATE = _input_mutation("createWorkItem", "WorkItemCreateInput", "WorkItemCreatePayload")
ANSWER = _input_mutation("answerFeasibility", "FeasibilityAnswerInput", "FeasibilityAnswerPayload")
PROMISE = _input_mutation("promiseWorkItem", "WorkItemPromiseInput", "WorkItemPromisePayload")
ASSIGN = _input_mutation("assignWorkItem", "WorkItemAssignInput", "WorkItemAssignPayload")
CLOSE = _input_mutation("closeWorkItem", "WorkItemCloseInput", "WorkItemClosePayload")
SET_CAUSE = _input_mutation("setWorkItemCause", "WorkItemCauseSetInput", "WorkItemCauseSetPayload")
LINK = _input_mutation("linkDefect", "DefectLinkInput", "DefectLinkPayload")
CORRECT = _input_mutation(
    "correctWorkItemTimes", "WorkItemTimesCorrectInput", "WorkItemTimesCorrectPayload"
)


def _id_mutation(name: str, payload: str) -> str:
    return f"""
    mutation($id: ID!, $at: DateTime) {{ {name}(id: $id, at: $at) {{
      __typename
      ... on {payload} {{ workItem {{ {ITEM} }} }}
      {ERROR}
    }} }}
    """


START = _id_mutation("startWorkItem", "WorkItemStartPayload")
DELIVER = _id_mutation("deliverWorkItem", "WorkItemDeliverPayload")
CANCEL = f"""
mutation($id: ID!, $reason: String!) {{ cancelWorkItem(id: $id, reason: $reason) {{
  __typename
  ... on WorkItemCancelPayload {{ workItem {{ id status }} }}
  {ERROR}
}} }}
"""

ITEMS = """
query($first: Int, $after: String, $kinds: [String!], $statuses: [WorkStatus!],
      $requesterId: ID, $assigneeId: ID, $overpromised: Boolean) {
  workItems(first: $first, after: $after, kinds: $kinds, statuses: $statuses,
            requesterId: $requesterId, assigneeId: $assigneeId, overpromised: $overpromised) {
    edges { node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ONE = f"query($id: ID!) {{ workItem(id: $id) {{ {ITEM} }} }}"
NODE = "query($id: ID!) { node(id: $id) { id ... on WorkItem { title } } }"

SALES_VIEW = """
query($requesterId: ID, $from: DateTime, $before: DateTime) {
  salesView(requesterId: $requesterId, from: $from, before: $before) {
    kinds requesterId requester { name } total byStatus { status count }
    answered answeredWithin24h answeredWithin24hShare promised overpromised overpromisedShare
    deliveredLate lateByCause { cause label { en zh } count share }
    requests(first: 50) { edges { node { id title promisedOn feasibleOn overpromised late } } }
  }
}
"""

UPSERT = """
mutation($items: [WorkItemUpsertInput!]!) { upsertWorkItems(items: $items) {
  __typename
  ... on WorkItemsUpsertPayload { results {
    key outcome error { code field message messageZh }
    workItem { id status requester { name } assignees { share employeeId } linkedItemId
               skills { minLevel skill { name } } late delayCause }
  } }
  ... on WorkItemsUpsertError { code field message }
} }
"""

MATCH = """
query($input: MatchInput!) { matchCandidates(input: $input) {
  earliestFeasibleDate confidence
  candidates {
    employeeId employee { name } level skillLevels { skillId level }
    pace { value n baseline baselineN } predictedCycleDays finishProbability
    predictedDefectRate { value n baseline baselineN } openLoad feasible
    proposedCycleDays proposedDefectRate reasons { en zh }
  }
} }
"""

KINDS = """
{ workItemKinds { code name { en zh } requester feasibility promise defect caused
  facts { factKind measure about causes } } }
"""


# --- the people ------------------------------------------------------------------------------


@dataclass
class Person:
    user: User
    employee: Employee
    token: str

    @property
    def id(self) -> str:
        return global_id("Employee", self.employee.id)


@dataclass
class Office:
    """Two salespeople, two engineers, a manager (each with a record); admin and HR
    accounts and an employee account without a record."""

    tenant: Tenant
    sales: Person
    sales2: Person
    engineer: Person
    engineer2: Person
    manager: Person
    admin: str
    hr: str
    unlinked: str


async def _person(
    tenant: Tenant, runtime: AppRuntime, role: str, name: str, level: str | None = None
) -> Person:
    user = await create_user(tenant, roles=(role,))
    employee = await create_employee(tenant, name=name, user=user, level=level)
    return Person(user, employee, user_token(runtime.tokens, user))


async def _office(runtime: AppRuntime) -> Office:
    tenant = await create_tenant()

    async def token(role: str) -> str:
        return user_token(runtime.tokens, await create_user(tenant, roles=(role,)))

    return Office(
        tenant=tenant,
        sales=await _person(tenant, runtime, "sales", "Sally"),
        sales2=await _person(tenant, runtime, "sales", "Sam"),
        engineer=await _person(tenant, runtime, "employee", "Ada", "senior"),
        engineer2=await _person(tenant, runtime, "employee", "Bo", "senior"),
        manager=await _person(tenant, runtime, "manager", "Max", "senior"),
        admin=await token("admin"),
        hr=await token("hr"),
        unlinked=await token("employee"),
    )


async def _mutate(gql: GraphQLClient, document: str, token: str, **variables: Any) -> Any:
    data = (await gql(document, variables, token=token)).ok()
    return next(iter(data.values()))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _iid(item: WorkItem) -> str:
    return global_id("WorkItem", item.id)


async def _titles(gql: GraphQLClient, token: str, **variables: Any) -> list[str]:
    data = (await gql(ITEMS, {"first": 100, **variables}, token=token)).ok()
    return sorted(edge["node"]["title"] for edge in data["workItems"]["edges"])


async def _item(tenant: Tenant, item_id: str) -> WorkItem:
    async with tenant_transaction(tenant_id(tenant)):
        return await work_items.get(tenant_id(tenant), node_uuid(item_id))


# --- the pack --------------------------------------------------------------------------------


async def test_the_pack_lists_its_work_item_kinds(gql: GraphQLClient, runtime: AppRuntime) -> None:
    office = await _office(runtime)
    kinds = {
        k["code"]: k for k in (await gql(KINDS, token=office.engineer.token)).ok()["workItemKinds"]
    }
    assert list(kinds) == ["requirement", "bug", "incident", "complaint"]
    requirement = kinds["requirement"]
    assert requirement["name"] == {"en": "Requirement", "zh": "需求"}
    assert (requirement["requester"], requirement["feasibility"], requirement["promise"]) == (
        "sales",
        True,
        True,
    )
    assert {"factKind": "due_item", "measure": "on_time", "about": "assignees", "causes": []} in (
        requirement["facts"]
    )
    assert kinds["complaint"]["facts"][0]["causes"] == ["RD"]
    assert kinds["bug"]["defect"]
    assert kinds["complaint"]["caused"]


# --- the lifecycle ---------------------------------------------------------------------------


async def test_a_request_goes_from_sales_to_closed_as_the_roles_do_it(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    sales, engineer, manager = office.sales, office.engineer, office.manager
    requested = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)

    # sales records a request: the requester is the salesperson
    created = await _mutate(
        gql,
        CREATE,
        sales.token,
        input={
            "kind": "requirement",
            "title": "Export invoices as PDF",
            "customer": "ACME",
            "size": 5,
            "requestedAt": _iso(requested),
        },
    )
    assert created["__typename"] == "WorkItemCreatePayload", created
    item = created["workItem"]
    assert (item["status"], item["requesterId"], item["requester"]) == (
        "NEW",
        sales.id,
        {"name": "Sally"},
    )
    assert item["kindName"] == {"en": "Requirement", "zh": "需求"}
    assert (item["late"], item["assignees"], item["defects"]) == (False, [], [])
    item_id = item["id"]

    # an engineer answers (recorded as theirs), and cannot answer twice
    answer = {
        "id": item_id,
        "verdict": "FEASIBLE",
        "estimateDays": 5,
        "note": "Reuse the report renderer",
        "answeredAt": _iso(requested + timedelta(hours=2)),
    }
    answered = await _mutate(gql, ANSWER, engineer.token, input=answer)
    assert answered["__typename"] == "FeasibilityAnswerPayload", answered
    assert answered["workItem"]["status"] == "ANSWERED"
    assert answered["workItem"]["answeredById"] == engineer.id
    again = await _mutate(gql, ANSWER, engineer.token, input=answer)
    assert (again["__typename"], again["code"], again["field"]) == (
        "FeasibilityAnswerError",
        "CONFLICT",
        "status",
    )
    assert "cannot answer an item that is answered" in again["message"]
    assert again["messageZh"]

    # sales promises a date two days out
    promised_on = (requested + timedelta(days=2)).date()
    promised = await _mutate(
        gql,
        PROMISE,
        sales.token,
        input={
            "id": item_id,
            "promisedOn": promised_on.isoformat(),
            "promisedAt": _iso(requested + timedelta(hours=3)),
        },
    )
    assert promised["workItem"]["status"] == "PLANNED", promised
    assert promised["workItem"]["promisedOn"] == promised_on.isoformat()

    # delivering what has not started is a conflict that says what may follow
    early = await _mutate(gql, DELIVER, manager.token, id=item_id)
    assert (early["__typename"], early["code"]) == ("WorkItemDeliverError", "CONFLICT")
    assert "cannot deliver an item that is planned: only from in_progress" in early["message"]

    # a manager assigns the engineer; another engineer may not start it
    assigned = await _mutate(
        gql,
        ASSIGN,
        manager.token,
        input={"id": item_id, "assignees": [{"employeeId": engineer.id}]},
    )
    # (Ada is in no unit he manages: he assigns her by id, her record stays hers)
    assert assigned["workItem"]["assignees"] == [
        {"share": 1.0, "employeeId": engineer.id, "employee": None}
    ]
    started_at = requested + timedelta(days=1)
    stranger = await _mutate(gql, START, office.engineer2.token, id=item_id, at=_iso(started_at))
    missing = await _mutate(
        gql, START, office.engineer2.token, id=global_id("WorkItem", uuid4()), at=None
    )
    assert stranger == missing
    assert (stranger["code"], stranger["field"]) == ("NOT_FOUND", "id")

    # the engineer starts and delivers, after the promised day
    started = await _mutate(gql, START, engineer.token, id=item_id, at=_iso(started_at))
    assert started["workItem"]["status"] == "IN_PROGRESS", started
    assert started["workItem"]["assignees"][0]["employee"] == {"name": "Ada"}
    delivered = await _mutate(
        gql, DELIVER, engineer.token, id=item_id, at=_iso(datetime.now(UTC) - timedelta(hours=1))
    )
    assert delivered["workItem"]["status"] == "DELIVERED"
    assert (delivered["workItem"]["late"], delivered["workItem"]["delayCause"]) == (True, None)

    # closing a late item asks why; the manager says R&D
    unexplained = await _mutate(gql, CLOSE, manager.token, input={"id": item_id})
    assert (unexplained["__typename"], unexplained["code"], unexplained["field"]) == (
        "WorkItemCloseError",
        "INVALID",
        "delayCause",
    )
    closed = await _mutate(gql, CLOSE, manager.token, input={"id": item_id, "delayCause": "RD"})
    done = closed["workItem"]
    assert (done["status"], done["delayCause"], done["late"]) == ("CLOSED", "RD", True)
    facts = {
        (f.kind, f.employee_id): f
        for f in await derived_facts(office.tenant, await _item(office.tenant, item_id))
    }
    assert facts[("due_item", engineer.employee.id)].value == 0.0  # late, for R&D's reasons
    assert facts[("feasibility_answer", engineer.employee.id)].value == 2.0
    assert facts[("requirement_delivered", engineer.employee.id)].denominator == 5.0

    # the customer had changed the request: the manager says so, and R&D is not held to it
    moved = await _mutate(
        gql,
        SET_CAUSE,
        manager.token,
        input={"id": item_id, "cause": "CUSTOMER_CHANGE", "comment": "Scope doubled in week 2"},
    )
    assert (moved["workItem"]["delayCause"], moved["workItem"]["causeComment"]) == (
        "CUSTOMER_CHANGE",
        "Scope doubled in week 2",
    )
    after = await derived_facts(office.tenant, await _item(office.tenant, item_id))
    assert ("due_item", engineer.employee.id) not in {(f.kind, f.employee_id) for f in after}

    # and a cancelled item is final
    cancelled = await _mutate(gql, CANCEL, manager.token, id=item_id, reason="Withdrawn")
    assert (cancelled["code"], cancelled["field"]) == ("CONFLICT", "status")


async def test_who_may_request_answer_and_link(gql: GraphQLClient, runtime: AppRuntime) -> None:
    office = await _office(runtime)
    sales, engineer, manager = office.sales, office.engineer, office.manager
    base = {"kind": "requirement", "title": "Dark mode"}

    # sales request as themselves only; a salesperson without a record cannot request
    for_colleague = await _mutate(
        gql, CREATE, sales.token, input={**base, "requesterId": office.sales2.id}
    )
    assert (for_colleague["code"], for_colleague["field"]) == ("NOT_FOUND", "requesterId")
    recordless = user_token(runtime.tokens, await create_user(office.tenant, roles=("sales",)))
    refused = await _mutate(gql, CREATE, recordless, input=base)
    assert (refused["code"], refused["field"]) == ("INVALID", "requesterId")
    # HR or a manager record a request for a salesperson, or from someone not on the records
    for_sales = await _mutate(gql, CREATE, office.hr, input={**base, "requesterId": sales.id})
    assert for_sales["workItem"]["requester"] == {"name": "Sally"}
    by_phone = await _mutate(
        gql, CREATE, manager.token, input={**base, "requesterName": "ACME purchasing"}
    )
    assert (by_phone["workItem"]["requesterId"], by_phone["workItem"]["requesterName"]) == (
        None,
        "ACME purchasing",
    )
    # an unknown kind, skill or unit is refused as data
    for extra, expected in (
        ({"kind": "nope"}, ("INVALID", "kind")),
        (
            {"skills": [{"skillId": global_id("Skill", uuid4()), "minLevel": 3}]},
            ("NOT_FOUND", "skills"),
        ),
        ({"orgUnitId": global_id("OrgUnit", uuid4())}, ("NOT_FOUND", "orgUnitId")),
    ):
        wrong = await _mutate(gql, CREATE, manager.token, input={**base, **extra})
        assert (wrong["__typename"], wrong["code"], wrong["field"]) == (
            "WorkItemCreateError",
            *expected,
        )

    # answers are the caller's own; only an administrator names someone else
    item_id = for_sales["workItem"]["id"]
    on_behalf = {"id": item_id, "verdict": "NEEDS_CHANGE", "answeredById": engineer.id}
    manager_try = await _mutate(gql, ANSWER, manager.token, input=on_behalf)
    assert (manager_try["code"], manager_try["field"]) == ("INVALID", "answeredById")
    no_record = await _mutate(
        gql, ANSWER, office.admin, input={"id": item_id, "verdict": "FEASIBLE"}
    )
    assert (no_record["code"], no_record["field"]) == ("INVALID", "answeredById")
    by_admin = await _mutate(gql, ANSWER, office.admin, input=on_behalf)
    assert by_admin["workItem"]["answeredBy"] == {"name": "Ada"}
    assert by_admin["workItem"]["verdict"] == "NEEDS_CHANGE"
    assert (await gql(ANSWER, {"input": on_behalf}, token=sales.token)).error_codes == ["FORBIDDEN"]

    # an engineer links a bug they reported to the work it was found in
    assigned = await _mutate(
        gql,
        ASSIGN,
        manager.token,
        input={"id": item_id, "assignees": [{"employeeId": engineer.id}]},
    )
    assert assigned["__typename"] == "WorkItemAssignPayload"
    # engineers report as themselves, never in a colleague's name
    bug_report = {"kind": "bug", "title": "PDF cut off"}
    as_colleague = await _mutate(
        gql, CREATE, engineer.token, input={**bug_report, "requesterId": office.engineer2.id}
    )
    assert (as_colleague["code"], as_colleague["field"]) == ("NOT_FOUND", "requesterId")
    bug = await _mutate(gql, CREATE, engineer.token, input=bug_report)
    assert bug["workItem"]["requesterId"] == engineer.id
    bug_id = bug["workItem"]["id"]
    link = {"id": bug_id, "linkedItemId": item_id, "foundIn": "PRODUCTION"}
    not_theirs = await _mutate(gql, LINK, office.engineer2.token, input=link)
    assert (not_theirs["code"], not_theirs["field"]) == ("NOT_FOUND", "id")
    linked = await _mutate(gql, LINK, engineer.token, input=link)
    assert (linked["workItem"]["linkedItem"], linked["workItem"]["foundIn"]) == (
        {"id": item_id},
        "PRODUCTION",
    )
    seen = (await gql(ONE, {"id": item_id}, token=engineer.token)).ok()["workItem"]
    assert seen["defects"] == [{"id": bug_id}]
    # a bug's cause is no complaint's: the cause is refused for it
    cause = await _mutate(
        gql,
        SET_CAUSE,
        manager.token,
        input={"id": bug_id, "cause": "RD", "comment": "Ours", "delay": False},
    )
    assert (cause["code"], cause["field"]) == ("INVALID", "cause")
    # times are corrected by managers; what was not recorded yet is not corrected
    corrected = await _mutate(
        gql,
        CORRECT,
        manager.token,
        input={"id": item_id, "startedAt": _iso(datetime.now(UTC))},
    )
    assert (corrected["code"], corrected["field"]) == ("INVALID", "startedAt")


# --- who sees what ---------------------------------------------------------------------------


async def test_sales_see_their_requests_and_engineers_their_work(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    sales, sales2, engineer = office.sales, office.sales2, office.engineer
    tenant = office.tenant
    await create_item(tenant, title="R1", requester_id=sales.employee.id)
    r2 = await create_item(
        tenant, title="R2", requester_id=sales2.employee.id, assignees=[(engineer.employee, 1.0)]
    )
    await create_item(tenant, "bug", title="B1", requester_id=engineer.employee.id)
    await create_item(tenant, title="Unowned")
    everything = ["B1", "R1", "R2", "Unowned"]

    assert await _titles(gql, sales.token) == ["R1"]
    assert await _titles(gql, sales2.token) == ["R2"]
    assert await _titles(gql, engineer.token) == ["B1", "R2"]
    assert await _titles(gql, engineer.token, assigneeId=engineer.id) == ["R2"]
    assert await _titles(gql, office.engineer2.token) == []
    assert await _titles(gql, office.unlinked) == []
    assert await _titles(gql, office.manager.token) == everything
    assert await _titles(gql, office.hr, kinds=["requirement"]) == ["R1", "R2", "Unowned"]
    assert await _titles(gql, office.hr, requesterId=sales2.id) == ["R2"]
    assert await _titles(gql, office.hr, statuses=["NEW"]) == everything
    assert await _titles(gql, office.hr, requesterId=global_id("Skill", uuid4())) == []
    reader = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("work:read",))).client
    )
    assert await _titles(gql, reader) == everything

    # one item, by workItem and node: out of reach reads as missing
    r2_id = _iid(r2)
    for token, visible in ((sales.token, False), (sales2.token, True), (engineer.token, True)):
        one = (await gql(ONE, {"id": r2_id}, token=token)).ok()["workItem"]
        node = (await gql(NODE, {"id": r2_id}, token=token)).ok()["node"]
        assert (one is not None, node is not None) == (visible, visible)
    # the engineer reads the item, but not the salesperson's record
    seen = (await gql(ONE, {"id": r2_id}, token=engineer.token)).ok()["workItem"]
    assert (seen["requesterId"], seen["requester"]) == (sales2.id, None)
    assert seen["assignees"][0]["employee"] == {"name": "Ada"}

    # the sales view: their own requests, and nobody else's
    mine = (await gql(SALES_VIEW, token=sales.token)).ok()["salesView"]
    assert (mine["requesterId"], mine["total"], mine["kinds"]) == (sales.id, 1, ["requirement"])
    assert [e["node"]["title"] for e in mine["requests"]["edges"]] == ["R1"]
    theirs = (await gql(SALES_VIEW, {"requesterId": sales2.id}, token=sales.token)).ok()
    assert (theirs["salesView"]["total"], theirs["salesView"]["requests"]["edges"]) == (0, [])
    by_manager = (
        await gql(SALES_VIEW, {"requesterId": sales2.id}, token=office.manager.token)
    ).ok()["salesView"]
    assert (by_manager["total"], by_manager["requester"]) == (1, None)  # Sam is not his report
    everyone = (await gql(SALES_VIEW, token=office.hr)).ok()["salesView"]
    assert (everyone["requesterId"], everyone["total"]) == (None, 3)
    assert {s["status"]: s["count"] for s in everyone["byStatus"]}["NEW"] == 3
    for token in (engineer.token, office.unlinked):
        assert (await gql(SALES_VIEW, token=token)).error_codes == ["FORBIDDEN"]


async def test_another_tenants_items_answer_as_missing_ones(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    other = await create_tenant()
    foreign = await create_item(other, title="Theirs")
    admin = office.admin
    theirs, nobody = _iid(foreign), global_id("WorkItem", uuid4())

    assert (await gql(ONE, {"id": theirs}, token=admin)).ok() == {"workItem": None}
    assert (
        (await gql(NODE, {"id": theirs}, token=admin)).body
        == (await gql(NODE, {"id": nobody}, token=admin)).body
        == {"data": {"node": None}}
    )
    assert await _titles(gql, admin) == []
    for document, variables in (
        (START, {"at": None}),
        (DELIVER, {"at": None}),
        (CANCEL, {"reason": "Not ours"}),
    ):
        foreign_answer = await _mutate(gql, document, admin, id=theirs, **variables)
        missing_answer = await _mutate(gql, document, admin, id=nobody, **variables)
        assert foreign_answer == missing_answer
        assert foreign_answer["code"] == "NOT_FOUND"
    close = await _mutate(gql, CLOSE, admin, input={"id": theirs})
    assert close["code"] == "NOT_FOUND"
    linked = await _mutate(
        gql, CREATE, admin, input={"kind": "bug", "title": "B", "linkedItemId": theirs}
    )
    assert (linked["code"], linked["field"]) == ("NOT_FOUND", "linkedItemId")
    async with tenant_transaction(tenant_id(other)):
        unchanged = await work_items.get(tenant_id(other), foreign.id)
    assert (unchanged.status, unchanged.cancelled_at) == ("new", None)


# --- costs -----------------------------------------------------------------------------------

PAGE = """
query($first: Int) { workItems(first: $first) { edges { node {
  id title kindName { en } status late requester { name } answeredBy { name }
  assignees { share employee { name } } linkedItem { id title } defects { id }
  skills { minLevel }
} } } }
"""


async def test_a_page_of_items_costs_the_same_statements_for_any_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given ten requirements, each with a bug found in it: twenty items the engineer is on
    office = await _office(runtime)
    tenant, engineer = office.tenant, office.engineer
    requested = datetime(2026, 9, 1, 9, tzinfo=UTC)
    for index in range(10):
        at = requested + timedelta(days=index)
        work = await create_item(
            tenant,
            title=f"R{index}",
            requested_at=at,
            requester_id=office.sales.employee.id,
            assignees=[(engineer.employee, 0.5), (office.engineer2.employee, 0.5)],
        )
        await create_item(
            tenant,
            "bug",
            title=f"B{index}",
            requested_at=at + timedelta(hours=1),
            requester_id=engineer.employee.id,
            linked_item_id=work.id,
            found_in=FoundIn.TEST,
        )
    await create_item(await create_tenant(), title="Elsewhere")

    for token, expected in ((office.hr, 7), (engineer.token, 8)):
        costs = set()
        for first in (2, 20):
            response = await gql(PAGE, {"first": first}, token=token)
            edges = response.ok()["workItems"]["edges"]
            assert len(edges) == first
            assert edges[0]["node"]["linkedItem"]["id"] == edges[1]["node"]["id"]
            costs.add(response.statements)
        # the scope, the caller, [the engineer's own record,] the page, its assignees, its
        # defects, the requesters' and then the assignees' records (linked items are on
        # the page already)
        assert costs == {expected}, (token == office.hr, costs)


# --- ticket systems --------------------------------------------------------------------------


async def test_a_ticket_system_upserts_items_by_key(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    tenant = office.tenant
    await create_skill(tenant, "Go")
    writer = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("work:write",))).client
    )
    requested = datetime(2026, 9, 1, 9, tzinfo=UTC)
    number = office.engineer.employee.employee_number
    done = {
        "externalKey": "JIRA-1",
        "source": "jira",
        "kind": "requirement",
        "title": "Payments retry",
        "requesterNumber": office.sales.employee.employee_number,
        "skills": [{"name": "go", "minLevel": 3}],
        "size": 3,
        "assignees": [{"employeeNumber": number}],
        "requestedAt": _iso(requested),
        "answeredAt": _iso(requested + timedelta(hours=5)),
        "answeredByNumber": number,
        "verdict": "FEASIBLE",
        "promisedOn": "2026-09-10",
        "startedAt": _iso(requested + timedelta(days=1)),
        "deliveredAt": _iso(requested + timedelta(days=12)),
        "delayCause": "EXTERNAL",
    }
    fresh = {"externalKey": "JIRA-2", "source": "jira", "kind": "requirement", "title": "Refunds"}
    broken = {**fresh, "externalKey": "JIRA-3", "requesterNumber": "nobody"}
    batch = [done, fresh, broken]

    first = await _mutate(gql, UPSERT, writer, items=batch)
    results = first["results"]
    assert [(r["key"], r["outcome"]) for r in results] == [
        ("JIRA-1", "CREATED"),
        ("JIRA-2", "CREATED"),
        ("JIRA-3", "FAILED"),
    ]
    item = results[0]["workItem"]
    assert (item["status"], item["late"], item["delayCause"]) == ("DELIVERED", True, "EXTERNAL")
    assert item["requester"] is None  # an integrator reads no people's records
    assert item["assignees"] == [{"share": 1.0, "employeeId": office.engineer.id}]
    assert item["skills"] == [{"minLevel": 3, "skill": {"name": "Go"}}]
    assert (results[2]["error"]["code"], results[2]["error"]["field"]) == (
        "NOT_FOUND",
        "requesterNumber",
    )

    # sending the same again changes nothing; a change updates; a bug links by key
    again = await _mutate(gql, UPSERT, writer, items=batch)
    assert [r["outcome"] for r in again["results"]] == ["UNCHANGED", "UNCHANGED", "FAILED"]
    assert again["results"][0]["workItem"]["id"] == item["id"]
    bug = {
        "externalKey": "JIRA-4",
        "source": "jira",
        "kind": "bug",
        "title": "Retry loops",
        "linkedItemKey": "JIRA-1",
        "foundIn": "PRODUCTION",
        "requestedAt": _iso(requested + timedelta(days=13)),
    }
    changed = await _mutate(
        gql,
        UPSERT,
        writer,
        items=[
            {**fresh, "title": "Refunds v2"},
            bug,
            {**bug, "externalKey": "JIRA-5", "linkedItemKey": "JIRA-404"},
        ],
    )
    assert [r["outcome"] for r in changed["results"]] == ["UPDATED", "CREATED", "FAILED"]
    assert changed["results"][1]["workItem"]["linkedItemId"] == item["id"]
    assert changed["results"][2]["error"]["field"] == "linkedItemKey"

    # the defect counts on the work it was found in, for whoever did it
    async with tenant_transaction(tenant_id(tenant)):
        work = await work_items.get(tenant_id(tenant), node_uuid(item["id"]))
    facts = {f.kind: f for f in await derived_facts(tenant, work)}
    assert facts["item_defects"].value == 1.0

    # reading needs work:read or work:write; writing needs work:write
    reader = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("work:read",))).client
    )
    assert (await gql(UPSERT, {"items": [fresh]}, token=reader)).error_codes == ["FORBIDDEN"]
    assert (await gql(UPSERT, {"items": [fresh]}, token=office.manager.token)).error_codes == [
        "FORBIDDEN"
    ]
    too_many = [{**fresh, "externalKey": f"K{i}"} for i in range(501)]
    refused = await _mutate(gql, UPSERT, office.admin, items=too_many)
    assert (refused["__typename"], refused["field"]) == ("WorkItemsUpsertError", "items")


# --- matching --------------------------------------------------------------------------------


async def test_matching_shows_who_could_deliver_and_when(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given three seniors with Go at 4 who delivered at about a day per point
    office = await _office(runtime)
    tenant = office.tenant
    go = await create_skill(tenant, "Go")
    now = datetime.now(UTC)
    people = []
    for name in ("Cy", "Di", "Ed"):
        person = await create_employee(tenant, name=name, level="senior")
        await set_skill(tenant, person, go, 4)
        rows = [
            {"value": pace * 4, "denominator": 4.0, "at": now - timedelta(days=30 + day)}
            for day, pace in enumerate((0.8, 1.0, 1.25, 1.0, 1.0))
        ]
        await record_facts(tenant, person, "requirement_delivered", rows)
        people.append(person)
    skill_id = global_id("Skill", go.id)
    today = now.date()

    def request(days: int, **more: Any) -> dict[str, Any]:
        return {
            "input": {
                "skills": [{"skillId": skill_id, "minLevel": 3}],
                "size": 5,
                "deadline": (today + timedelta(days=days)).isoformat(),
                **more,
            }
        }

    # when sales ask for 5 points in 60 days: everyone fits, with the evidence
    roomy = (await gql(MATCH, request(60), token=office.sales.token)).ok()["matchCandidates"]
    assert roomy["earliestFeasibleDate"] is None
    assert roomy["confidence"] == 0.8
    candidates = roomy["candidates"]
    assert sorted(c["employee"]["name"] for c in candidates) == ["Cy", "Di", "Ed"]
    first = candidates[0]
    assert first["feasible"]
    assert (first["pace"]["n"], first["pace"]["baselineN"]) == (5, 3)
    assert abs(first["pace"]["value"] - 1.0) < 1e-6
    assert first["finishProbability"] > 0.99
    assert first["skillLevels"] == [{"skillId": skill_id, "level": 4}]
    assert first["proposedCycleDays"] == first["predictedCycleDays"]
    assert first["predictedDefectRate"] == {"value": None, "n": 0, "baseline": None, "baselineN": 0}
    assert all(r["en"] and r["zh"] for c in candidates for r in c["reasons"])

    # in one day nobody fits: the answer says when someone would
    tight = (await gql(MATCH, request(1), token=office.sales.token)).ok()["matchCandidates"]
    assert not any(c["feasible"] for c in tight["candidates"])
    earliest = tight["earliestFeasibleDate"]
    assert earliest is not None
    assert earliest > (today + timedelta(days=1)).isoformat()
    assert all(c["reasons"] for c in tight["candidates"])

    # a manager sees the candidates, their records only within his subtree
    managed = (await gql(MATCH, request(60), token=office.manager.token)).ok()["matchCandidates"]
    assert {c["employee"] for c in managed["candidates"]} == {None}
    assert {node_uuid(c["employeeId"]) for c in managed["candidates"]} == {p.id for p in people}
    # employees do not shop for colleagues; bad input is a coded error naming the field
    assert (await gql(MATCH, request(60), token=office.engineer.token)).error_codes == ["FORBIDDEN"]
    bad = await gql(MATCH, request(60, size=0), token=office.sales.token)
    assert bad.error_codes == ["BAD_USER_INPUT"]
    assert (
        bad.errors[0]["extensions"]["field"],
        bool(bad.errors[0]["extensions"]["messageZh"]),
    ) == ("size", True)

    # sales promise tomorrow anyway: the item says it was over-promised, and so does the view
    created = await _mutate(
        gql,
        CREATE,
        office.sales.token,
        input={
            "kind": "requirement",
            "title": "Ledger export",
            "size": 5,
            "skills": [{"skillId": skill_id, "minLevel": 3}],
        },
    )
    item = created["workItem"]
    assert item["skills"] == [{"skillId": skill_id, "minLevel": 3, "skill": {"name": "Go"}}]
    promised = await _mutate(
        gql,
        PROMISE,
        office.sales.token,
        input={"id": item["id"], "promisedOn": (today + timedelta(days=1)).isoformat()},
    )
    assert promised["workItem"]["overpromised"] is True
    assert promised["workItem"]["feasibleOn"] == earliest
    view = (await gql(SALES_VIEW, token=office.sales.token)).ok()["salesView"]
    assert (view["promised"], view["overpromised"], view["overpromisedShare"]) == (1, 1, 1.0)
    request_seen = view["requests"]["edges"][0]["node"]
    assert (request_seen["feasibleOn"], request_seen["overpromised"]) == (earliest, True)
    assert (await _titles(gql, office.hr, overpromised=True)) == ["Ledger export"]


async def test_the_sales_view_counts_answers_promises_and_causes(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    office = await _office(runtime)
    tenant, sales, dev = office.tenant, office.sales, office.engineer
    writer = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("work:write",))).client
    )
    requested = datetime(2026, 9, 1, 9, tzinfo=UTC)

    def item(
        key: str, answered_hours: float, delivered_days: int, cause: str | None
    ) -> dict[str, Any]:
        return {
            "externalKey": key,
            "kind": "requirement",
            "title": key,
            "requesterNumber": sales.employee.employee_number,
            "assignees": [{"employeeNumber": dev.employee.employee_number}],
            "requestedAt": _iso(requested),
            "answeredAt": _iso(requested + timedelta(hours=answered_hours)),
            "answeredByNumber": dev.employee.employee_number,
            "verdict": "FEASIBLE",
            "promisedOn": "2026-09-10",
            "startedAt": _iso(requested + timedelta(days=1)),
            "deliveredAt": _iso(requested + timedelta(days=delivered_days)),
            "delayCause": cause,
        }

    items = [
        item("A", 3, 5, None),  # answered in time, on time
        item("B", 30, 12, "RD"),  # answered late, late for R&D
        item("C", 5, 14, "CUSTOMER_CHANGE"),
        item("D", 2, 20, None),  # late, no cause yet
    ]
    results = (await _mutate(gql, UPSERT, writer, items=items))["results"]
    assert {r["outcome"] for r in results} == {"CREATED"}, results
    await create_item(tenant, title="Not hers", requester_id=office.sales2.employee.id)

    view = (await gql(SALES_VIEW, token=sales.token)).ok()["salesView"]
    assert view["total"] == 4
    assert {s["status"]: s["count"] for s in view["byStatus"]}["DELIVERED"] == 4
    assert (view["answered"], view["answeredWithin24h"], view["answeredWithin24hShare"]) == (
        4,
        3,
        0.75,
    )
    assert (view["promised"], view["deliveredLate"]) == (4, 3)
    causes = {c["cause"]: (c["count"], c["share"]) for c in view["lateByCause"]}
    assert causes == {
        "RD": (1, 1 / 3),
        "SALES_OVERPROMISE": (0, 0.0),
        "CUSTOMER_CHANGE": (1, 1 / 3),
        "EXTERNAL": (0, 0.0),
        None: (1, 1 / 3),
    }
    labels = {c["cause"]: c["label"] for c in view["lateByCause"]}
    assert labels["SALES_OVERPROMISE"] == {"en": "Sales over-promise", "zh": "销售过度承诺"}
    late = {e["node"]["title"]: e["node"]["late"] for e in view["requests"]["edges"]}
    assert late == {"A": False, "B": True, "C": True, "D": True}
    # a window of requests: none before September
    earlier = (await gql(SALES_VIEW, {"before": "2026-09-01T00:00:00Z"}, token=sales.token)).ok()[
        "salesView"
    ]
    assert (earlier["total"], earlier["answeredWithin24hShare"]) == (0, None)
    # an integrator reads everyone's
    reader = client_token(
        runtime.tokens, (await create_api_client(tenant, scopes=("work:read",))).client
    )
    assert (await gql(SALES_VIEW, token=reader)).ok()["salesView"]["total"] == 5
