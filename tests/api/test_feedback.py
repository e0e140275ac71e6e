"""Feedback through GraphQL: who may give which source, anonymity, summaries, the audit trail."""

from __future__ import annotations

from typing import Any

from api.runtime import AppRuntime
from domain.feedback.models import FeedbackSource
from domain.org.models import OrgUnit
from domain.org.service import org_service
from domain.people.models import Employee
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import (
    create_tenant,
    create_user,
    global_id,
    tenant_id,
    user_token,
)
from tests.factories_records import create_employee, create_org_unit, give_feedback
from tests.support.graphql import GraphQLClient

GIVE = """
mutation($input: FeedbackInput!) { giveFeedback(input: $input) {
  __typename
  ... on FeedbackPayload { feedbackId anonymous }
  ... on FeedbackError { code field message details { code field } }
} }
"""

ARCHIVE = """
mutation($id: ID!) { archiveFeedback(id: $id) {
  __typename
  ... on FeedbackArchivePayload { feedbackId }
  ... on FeedbackError { code field }
} }
"""

FEEDBACK_FIELDS = """
  id source author comment subjectId ratings { criterion name { en } rating }
"""

PROFILE = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Employee {{
  feedback {{ edges {{ node {{ {FEEDBACK_FIELDS} }} }} }}
  feedbackSummary {{
    sources {{
      source
      named {{ responses means {{ criterion mean }} }} namedWithheld
      anonymous {{ responses means {{ criterion mean }} }} anonymousWithheld
    }}
    anonymous {{ responses means {{ criterion mean }} }}
    anonymousWithheld
    minimumAnonymousResponses
  }}
}} }} }}
"""

FEEDBACK_NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Feedback {{ {FEEDBACK_FIELDS} }} }} }}"

LOG = """
query($filter: AuditFilter) { auditLog(filter: $filter) { edges { node {
  actorKind actorLabel entityType action changes requestId } } } }
"""


async def _manager_of(tenant: Tenant, unit: OrgUnit, name: str) -> tuple[User, Employee]:
    """A manager's user account, linked to an employee in ``unit`` who manages it."""
    user = await create_user(tenant, roles=("manager",))
    person = await create_employee(tenant, name=name, org_unit=unit, user=user)
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.add_manager(tenant_id(tenant), unit.id, person.id)
    return user, person


async def _person(
    tenant: Tenant, name: str, unit: OrgUnit | None = None, role: str = "employee"
) -> tuple[str, Employee, User]:
    """A person with a user account: their global id, record and user."""
    user = await create_user(tenant, roles=(role,), email=f"{name.lower()}@example.com")
    person = await create_employee(tenant, name=name, org_unit=unit, user=user)
    return global_id("Employee", person.id), person, user


async def _give(gql: GraphQLClient, token: str, subject: Employee, **fields: Any) -> dict[str, Any]:
    given = {
        "subjectId": global_id("Employee", subject.id),
        "source": "PEER",
        "ratings": [{"criterion": "delivery", "rating": 4}],
        **fields,
    }
    result: dict[str, Any] = (await gql(GIVE, {"input": given}, token=token)).ok()["giveFeedback"]
    return result


async def _profile(gql: GraphQLClient, token: str, person: Employee) -> dict[str, Any] | None:
    data = (await gql(PROFILE, {"id": global_id("Employee", person.id)}, token=token)).ok()
    node: dict[str, Any] | None = data["node"]
    return node


def _refused(field: str, code: str = "INVALID") -> tuple[str, str, str]:
    return ("FeedbackError", code, field)


def _outcome(result: dict[str, Any]) -> tuple[str, str, str]:
    return (result["__typename"], result["code"], result["field"])


# --- giving ----------------------------------------------------------------------------------


async def test_a_peer_gives_named_and_anonymous_feedback(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given two people of one team and their manager
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    boss_user, _ = await _manager_of(tenant, team, "Boss")
    subject_id, subject, _ = await _person(tenant, "Subject", team)
    _, _, peer_user = await _person(tenant, "Peer", team)
    peer = user_token(runtime.tokens, peer_user)

    # when the peer gives named feedback, then anonymous feedback
    named = await _give(
        gql,
        peer,
        subject,
        ratings=[{"criterion": "quality", "rating": 5}, {"criterion": "delivery", "rating": 4}],
        comment="  Ships on time. ",
    )
    anonymous = await _give(
        gql, peer, subject, anonymous=True, comment="Could review more", source="PEER"
    )
    assert named["__typename"] == anonymous["__typename"] == "FeedbackPayload"
    assert (named["anonymous"], anonymous["anonymous"]) == (False, True)

    # then the manager reads the named one, with its author, and only that one
    boss = user_token(runtime.tokens, boss_user)
    profile = await _profile(gql, boss, subject)
    assert profile is not None
    assert [edge["node"] for edge in profile["feedback"]["edges"]] == [
        {
            "id": named["feedbackId"],
            "source": "PEER",
            "author": "Peer",
            "comment": "Ships on time.",
            "subjectId": subject_id,
            "ratings": [
                {"criterion": "delivery", "name": {"en": "Delivers what was agreed"}, "rating": 4},
                {"criterion": "quality", "name": {"en": "Quality of work"}, "rating": 5},
            ],
        }
    ]
    # and the anonymous one is no node, not even for an administrator
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    for token in (boss, admin):
        shown = (await gql(FEEDBACK_NODE, {"id": named["feedbackId"]}, token=token)).ok()
        assert shown["node"]["author"] == "Peer"
        hidden = (await gql(FEEDBACK_NODE, {"id": anonymous["feedbackId"]}, token=token)).ok()
        assert hidden["node"] is None
    admin_view = await _profile(gql, admin, subject)
    assert admin_view is not None
    assert [e["node"]["id"] for e in admin_view["feedback"]["edges"]] == [named["feedbackId"]]


async def test_who_may_give_which_source(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    side = await create_org_unit(tenant, name="Side", kind="team")
    boss_user, _ = await _manager_of(tenant, team, "Boss")
    _, me, me_user = await _person(tenant, "Me", team)
    _, colleague, _ = await _person(tenant, "Colleague", team)
    _, outsider, _ = await _person(tenant, "Outsider", side)
    foreigner = await create_employee(other, name="Foreigner")
    employee = user_token(runtime.tokens, me_user)
    boss = user_token(runtime.tokens, boss_user)
    sales = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    async def give(token: str, subject: Employee, **fields: Any) -> tuple[str, ...]:
        result = await _give(gql, token, subject, **fields)
        if result["__typename"] == "FeedbackPayload":
            return ("FeedbackPayload",)
        return _outcome(result)

    ok = ("FeedbackPayload",)
    # on oneself: a self-assessment only, and never anonymous
    assert await give(employee, me, source="PEER") == _refused("source")
    assert await give(employee, me, source="SELF") == ok
    assert await give(employee, me, source="SELF", anonymous=True) == _refused("anonymous")
    # on others: not as SELF, not as their manager, not as sales, not for a customer
    assert await give(employee, colleague, source="SELF") == _refused("source")
    assert await give(employee, colleague, source="MANAGER") == _refused("source")
    assert await give(employee, colleague, source="SALES") == _refused("source")
    assert await give(employee, colleague, source="CUSTOMER") == _refused("source")
    assert await give(employee, outsider, source="OTHER_DEPARTMENT") == ok
    # nobody signs feedback with someone else's name but those who enter it on their behalf
    assert await give(employee, colleague, authorLabel="The CEO") == _refused("authorLabel")
    assert await give(sales, colleague, authorLabel="The CEO") == _refused("authorLabel")
    # a manager as MANAGER within their subtree only
    assert await give(boss, colleague, source="MANAGER") == ok
    assert await give(boss, outsider, source="MANAGER") == _refused("source")
    # sales as SALES on anyone
    assert await give(sales, outsider, source="SALES") == ok
    assert await give(sales, me, source="SALES") == ok
    # HR enters a customer's feedback, signed with the customer's name
    entered = await _give(
        gql, hr, colleague, source="CUSTOMER", authorLabel="Acme buyer", comment="Responsive"
    )
    assert entered["__typename"] == "FeedbackPayload"
    node = (await gql(FEEDBACK_NODE, {"id": entered["feedbackId"]}, token=hr)).ok()["node"]
    assert (node["source"], node["author"], node["comment"]) == (
        "CUSTOMER",
        "Acme buyer",
        "Responsive",
    )
    # nor does HR write someone's self-assessment for them
    assert await give(hr, colleague, source="SELF") == _refused("source")
    # a source the tenant's pack does not know, and another tenant's person
    assert await give(hr, colleague, source="STUDENT") == _refused("source")
    assert await give(hr, foreigner) == _refused("subjectId", "NOT_FOUND")
    assert await give(employee, foreigner) == _refused("subjectId", "NOT_FOUND")


async def test_rating_errors_come_back_with_details(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    subject = await create_employee(tenant, name="Subject")
    token = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    bad = await _give(
        gql,
        token,
        subject,
        ratings=[
            {"criterion": "charisma", "rating": 3},
            {"criterion": "delivery", "rating": 6},
            {"criterion": "quality", "rating": 0},
        ],
        comment="x" * 4001,
    )
    assert _outcome(bad) == _refused("ratings.charisma")
    assert [(d["code"], d["field"]) for d in bad["details"]] == [
        ("INVALID", "ratings.charisma"),
        ("INVALID", "ratings.delivery"),
        ("INVALID", "ratings.quality"),
        ("INVALID", "comment"),
    ]
    twice = await _give(
        gql,
        token,
        subject,
        ratings=[{"criterion": "delivery", "rating": 4}, {"criterion": "delivery", "rating": 5}],
    )
    assert _outcome(twice) == _refused("ratings.delivery")
    assert twice["message"] == "rated more than once"
    none = await _give(gql, token, subject, ratings=[])
    assert _outcome(none) == _refused("ratings")
    # nothing of it was kept
    profile = await _profile(gql, token, subject)
    assert profile is not None
    assert profile["feedback"]["edges"] == []
    assert profile["feedbackSummary"]["sources"] == []


# --- reading ---------------------------------------------------------------------------------


def _aggregate(responses: int, **means: float) -> dict[str, Any]:
    return {
        "responses": responses,
        "means": [{"criterion": code, "mean": mean} for code, mean in means.items()],
    }


async def test_anonymous_ratings_show_only_from_three_responses(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    boss_user, _ = await _manager_of(tenant, team, "Boss")
    subject = await create_employee(tenant, name="Subject", org_unit=team)
    foreigner = await create_employee(other, name="Foreigner")
    for rating in (2, 5, 5):
        await give_feedback(other, foreigner, ratings={"delivery": rating}, anonymous=True)
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    boss = user_token(runtime.tokens, boss_user)
    peers = [
        user_token(runtime.tokens, (await _person(tenant, f"Peer{i}", team))[2]) for i in range(3)
    ]

    # given two anonymous responses
    for token, rating in zip(peers[:2], (4, 5), strict=False):
        given = await _give(
            gql,
            token,
            subject,
            anonymous=True,
            ratings=[{"criterion": "delivery", "rating": rating}],
        )
        assert given["anonymous"] is True

    # then nobody reads them, and everyone is told so
    withheld = {
        "sources": [
            {
                "source": "PEER",
                "named": None,
                "namedWithheld": False,
                "anonymous": None,
                "anonymousWithheld": True,
            }
        ],
        "anonymous": None,
        "anonymousWithheld": True,
        "minimumAnonymousResponses": 3,
    }
    for token in (admin, boss):
        profile = await _profile(gql, token, subject)
        assert profile is not None
        assert profile["feedbackSummary"] == withheld
        assert profile["feedback"]["edges"] == []

    # when a third arrives, they show as an aggregate
    await _give(
        gql, peers[2], subject, anonymous=True, ratings=[{"criterion": "delivery", "rating": 5}]
    )
    shown = _aggregate(3, delivery=4.67)
    for token in (admin, boss):
        profile = await _profile(gql, token, subject)
        assert profile is not None
        assert profile["feedbackSummary"] == {
            "sources": [
                {
                    "source": "PEER",
                    "named": None,
                    "namedWithheld": False,
                    "anonymous": shown,
                    "anonymousWithheld": False,
                }
            ],
            "anonymous": shown,
            "anonymousWithheld": False,
            "minimumAnonymousResponses": 3,
        }
        assert profile["feedback"]["edges"] == []  # still never one by one

    # another tenant's person is not there, their feedback not counted here
    assert await _profile(gql, admin, foreigner) is None


async def test_the_subject_reads_their_summary_but_not_who_said_what(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    boss_user, _ = await _manager_of(tenant, team, "Boss")
    _, subject, subject_user = await _person(tenant, "Subject", team)
    peer = await create_user(tenant, roles=("employee",))
    for rating in (3, 4):
        await give_feedback(tenant, subject, ratings={"quality": rating}, author=peer)
    await give_feedback(
        tenant, subject, source=FeedbackSource.MANAGER, ratings={"quality": 5}, author=peer
    )
    mine = user_token(runtime.tokens, subject_user)
    boss = user_token(runtime.tokens, boss_user)

    def summary(peer_named: dict[str, Any] | None, manager_named: dict[str, Any] | None) -> Any:
        return [
            {
                "source": "MANAGER",
                "named": manager_named,
                "namedWithheld": manager_named is None,
                "anonymous": None,
                "anonymousWithheld": False,
            },
            {
                "source": "PEER",
                "named": peer_named,
                "namedWithheld": peer_named is None,
                "anonymous": None,
                "anonymousWithheld": False,
            },
        ]

    # the person sees their summary, small named groups withheld, and no item one by one
    own = await _profile(gql, mine, subject)
    assert own is not None
    assert own["feedback"]["edges"] == []
    assert own["feedbackSummary"]["sources"] == summary(None, None)
    # their manager sees every named group and every named item
    managed = await _profile(gql, boss, subject)
    assert managed is not None
    assert managed["feedbackSummary"]["sources"] == summary(
        _aggregate(2, quality=3.5), _aggregate(1, quality=5.0)
    )
    assert len(managed["feedback"]["edges"]) == 3

    # from three named responses on, the person sees that group too
    await give_feedback(tenant, subject, ratings={"quality": 5}, author=peer)
    own = await _profile(gql, mine, subject)
    assert own is not None
    assert own["feedbackSummary"]["sources"] == summary(_aggregate(3, quality=4.0), None)
    assert own["feedback"]["edges"] == []

    # sales read neither
    sales = user_token(runtime.tokens, await create_user(tenant, roles=("sales",)))
    seen = await _profile(gql, sales, subject)
    assert seen is not None
    assert (seen["feedbackSummary"], seen["feedback"]["edges"]) == (None, [])


async def test_a_manager_does_not_read_who_said_what_about_themselves(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a manager in the unit they manage, with named feedback from their team
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    boss_user, boss = await _manager_of(tenant, team, "Boss")
    author = await create_user(tenant, roles=("employee",))
    await create_employee(tenant, name="Author", org_unit=team, user=author)
    named = await give_feedback(
        tenant, boss, source=FeedbackSource.SUBORDINATE, ratings={"delivery": 2}, author=author
    )
    token = user_token(runtime.tokens, boss_user)

    # then, as for anyone, their own named feedback is not theirs to read one by one
    own = await _profile(gql, token, boss)
    assert own is not None
    assert own["feedback"]["edges"] == []
    assert own["feedbackSummary"]["sources"] == [
        {
            "source": "SUBORDINATE",
            "named": None,
            "namedWithheld": True,
            "anonymous": None,
            "anonymousWithheld": False,
        }
    ]
    node = await gql(FEEDBACK_NODE, {"id": global_id("Feedback", named.id)}, token=token)
    assert node.ok()["node"] is None
    # while HR reads it, but not what is said about themselves either
    hr_user = await create_user(tenant, roles=("hr",))
    hr_person = await create_employee(tenant, name="HR", user=hr_user)
    about_hr = await give_feedback(tenant, hr_person, ratings={"delivery": 3}, author=author)
    hr = user_token(runtime.tokens, hr_user)
    shown = (await gql(FEEDBACK_NODE, {"id": global_id("Feedback", named.id)}, token=hr)).ok()
    assert shown["node"]["author"] == "Author"
    hidden = await gql(FEEDBACK_NODE, {"id": global_id("Feedback", about_hr.id)}, token=hr)
    assert hidden.ok()["node"] is None
    hr_own = await _profile(gql, hr, hr_person)
    assert hr_own is not None
    assert hr_own["feedback"]["edges"] == []
    assert hr_own["feedbackSummary"]["sources"][0]["namedWithheld"] is True


# --- the audit trail and archiving -----------------------------------------------------------


async def test_anonymous_feedback_names_no_actor_in_the_audit_log(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    subject = await create_employee(tenant, name="Subject")
    _, _, peer_user = await _person(tenant, "Peer")
    peer = user_token(runtime.tokens, peer_user)
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))
    named = await _give(gql, peer, subject, comment="Named")
    anonymous = await _give(gql, peer, subject, anonymous=True, comment="Secret")

    async def entries(feedback_id: str) -> list[dict[str, Any]]:
        log = (await gql(LOG, {"filter": {"entityId": feedback_id}}, token=admin)).ok()
        return [edge["node"] for edge in log["auditLog"]["edges"]]

    (named_entry,) = await entries(named["feedbackId"])
    assert (named_entry["actorKind"], named_entry["actorLabel"]) == ("user", "peer@example.com")
    assert named_entry["requestId"] is not None
    assert named_entry["changes"]["comment"] == {"before": None, "after": "Named"}
    assert named_entry["changes"]["author_user_id"] == {"before": None, "after": str(peer_user.id)}

    (entry,) = await entries(anonymous["feedbackId"])
    assert entry == {
        "actorKind": "user",
        "actorLabel": None,
        "entityType": "feedback",
        "action": "create",
        "changes": entry["changes"],
        "requestId": None,  # the request would lead back to its caller
    }
    assert sorted(entry["changes"]) == ["anonymous", "given_at", "source", "subject_id"]
    assert entry["changes"]["anonymous"] == {"before": None, "after": True}
    assert "Secret" not in str(entry)
    assert str(peer_user.id) not in str(entry)


async def test_archived_feedback_leaves_summaries_and_lists(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    subject = await create_employee(tenant, name="Subject")
    author = await create_user(tenant, roles=("employee",))
    kept = await give_feedback(tenant, subject, ratings={"delivery": 2}, author=author)
    dropped = await give_feedback(tenant, subject, ratings={"delivery": 4}, author=author)
    anonymous = [
        await give_feedback(tenant, subject, ratings={"delivery": r}, anonymous=True)
        for r in (1, 2, 3)
    ]
    theirs = await give_feedback(other, await create_employee(other, name="Foreigner"))
    hr = user_token(runtime.tokens, await create_user(tenant, roles=("hr",)))

    before = await _profile(gql, hr, subject)
    assert before is not None
    (peer,) = before["feedbackSummary"]["sources"]
    assert (peer["named"], peer["anonymous"]) == (
        _aggregate(2, delivery=3.0),
        _aggregate(3, delivery=2.0),
    )

    for feedback in (dropped, anonymous[0]):
        archived = (await gql(ARCHIVE, {"id": global_id("Feedback", feedback.id)}, token=hr)).ok()
        assert archived["archiveFeedback"] == {
            "__typename": "FeedbackArchivePayload",
            "feedbackId": global_id("Feedback", feedback.id),
        }

    after = await _profile(gql, hr, subject)
    assert after is not None
    assert after["feedbackSummary"]["sources"] == [
        {
            "source": "PEER",
            "named": _aggregate(1, delivery=2.0),
            "namedWithheld": False,
            "anonymous": None,
            "anonymousWithheld": True,  # two anonymous responses left
        }
    ]
    assert [edge["node"]["id"] for edge in after["feedback"]["edges"]] == [
        global_id("Feedback", kept.id)
    ]

    # another tenant's feedback is not found; only administrators and HR archive
    foreign = (await gql(ARCHIVE, {"id": global_id("Feedback", theirs.id)}, token=hr)).ok()
    assert foreign["archiveFeedback"] == {
        "__typename": "FeedbackError",
        "code": "NOT_FOUND",
        "field": "id",
    }
    employee = user_token(runtime.tokens, author)
    response = await gql(ARCHIVE, {"id": global_id("Feedback", kept.id)}, token=employee)
    assert response.error_codes == ["FORBIDDEN"]


NAMED_PAGE = """
query($id: ID!, $first: Int) { node(id: $id) { ... on Employee {
  feedback(first: $first) { edges { node { source author ratings { criterion rating } } } }
} } }
"""


async def test_named_feedback_costs_the_same_statements_for_any_page_size(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    # given a person with named feedback from 25 colleagues, each with a user account
    tenant, other = await create_tenant(), await create_tenant()
    team = await create_org_unit(tenant, name="Team", kind="team")
    subject = await create_employee(tenant, name="Subject", org_unit=team)
    for i in range(25):
        _, _, author = await _person(tenant, f"Author{i:02d}", team)
        await give_feedback(
            tenant, subject, author=author, ratings={"delivery": 1 + i % 5, "quality": 3}
        )
    # and anonymous feedback on them, and another tenant's named feedback
    await give_feedback(tenant, subject, anonymous=True)
    _, foreigner, foreign_author = await _person(other, "Foreigner")
    await give_feedback(other, foreigner, author=foreign_author)
    admin = user_token(runtime.tokens, await create_user(tenant, roles=("admin",)))

    costs = set()
    for first in (3, 10, 25):
        response = await gql(
            NAMED_PAGE, {"id": global_id("Employee", subject.id), "first": first}, token=admin
        )
        items = [edge["node"] for edge in response.ok()["node"]["feedback"]["edges"]]
        # newest first
        assert [item["author"] for item in items] == [f"Author{24 - i:02d}" for i in range(first)]
        assert items[0] == {
            "source": "PEER",
            "author": "Author24",
            "ratings": [
                {"criterion": "delivery", "rating": 5},
                {"criterion": "quality", "rating": 3},
            ],
        }
        costs.add(response.statements)
    # the scope, the caller, the person, the caller's own record (nobody reads who said what
    # about themselves), the page, one statement for all its authors
    assert costs == {6}, costs
    foreign = {"id": global_id("Employee", foreigner.id), "first": 25}
    assert (await gql(NAMED_PAGE, foreign, token=admin)).ok()["node"] is None
