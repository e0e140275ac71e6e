"""Feedback: checks against the tenant's pack, anonymity, summaries in one statement, isolation."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.audit.models import AuditEntry
from domain.audit.service import AuditActor, acting_as
from domain.feedback.models import Feedback, FeedbackSource
from domain.feedback.service import (
    MIN_ANONYMOUS_RESPONSES,
    Aggregate,
    FeedbackSummary,
    feedback_service,
)
from domain.people.service import EmployeeChanges, employee_service
from tenants.errors import ErrorCode, ServiceError
from tenants.scope import TenantID, tenant_transaction
from tests.factories import create_tenant, tenant_id

PEER, SELF, CUSTOMER = FeedbackSource.PEER, FeedbackSource.SELF, FeedbackSource.CUSTOMER


async def _employees(tenant: TenantID, count: int = 1) -> list[UUID]:
    async with tenant_transaction(tenant):
        created = [
            await employee_service.create(
                tenant,
                EmployeeChanges(
                    employee_number=f"E-{secrets.token_hex(4)}", name=f"Subject {index}"
                ),
            )
            for index in range(count)
        ]
    return [employee.id for employee in created]


async def _give(
    tenant: TenantID,
    subject_id: UUID,
    *,
    source: FeedbackSource = PEER,
    ratings: Mapping[str, Any] | None = None,
    anonymous: bool = False,
    **extra: Any,
) -> Feedback:
    async with tenant_transaction(tenant):
        return await feedback_service.give(
            tenant,
            subject_id=subject_id,
            source=source,
            ratings={"delivery": 4} if ratings is None else ratings,
            comment=extra.pop("comment", None),
            anonymous=anonymous,
            author_user_id=extra.pop("author_user_id", None if anonymous else uuid4()),
            **extra,
        )


async def _refused(tenant: TenantID, subject_id: UUID, **kwargs: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await _give(tenant, subject_id, **kwargs)
    return caught.value


async def _feedback_count(tenant: TenantID) -> int:
    async with tenant_transaction(tenant):
        return await Feedback.all().count()


async def _summary(tenant: TenantID, subject_id: UUID) -> FeedbackSummary:
    async with tenant_transaction(tenant):
        return (await feedback_service.summary(tenant, [subject_id]))[subject_id]


def _rounded(aggregate: Aggregate | None) -> Aggregate | None:
    """Means to two decimals, as a person reads them."""
    if aggregate is None:
        return None
    return Aggregate(aggregate.count, {c: round(m, 2) for c, m in aggregate.means.items()})


@pytest.fixture
async def tenant() -> TenantID:
    return tenant_id(await create_tenant())


@pytest.fixture
async def subject(tenant: TenantID) -> UUID:
    return (await _employees(tenant))[0]


# --- validation --------------------------------------------------------------------------------


async def test_a_source_outside_the_pack_is_invalid(tenant: TenantID, subject: UUID) -> None:
    error = await _refused(tenant, subject, source=FeedbackSource.STUDENT)
    assert (error.code, error.field) == (ErrorCode.INVALID, "source")


@pytest.mark.parametrize(
    ("ratings", "field"),
    [
        ({}, "ratings"),
        ({"charisma": 3}, "ratings.charisma"),
        ({"delivery": 0}, "ratings.delivery"),
        ({"delivery": 6}, "ratings.delivery"),
        ({"delivery": 2.5}, "ratings.delivery"),
        ({"delivery": True}, "ratings.delivery"),
    ],
)
async def test_ratings_must_be_whole_numbers_on_the_packs_criteria(
    tenant: TenantID, subject: UUID, ratings: dict[str, Any], field: str
) -> None:
    error = await _refused(tenant, subject, ratings=ratings)
    assert (error.code, error.field) == (ErrorCode.INVALID, field)


async def test_every_problem_is_reported_at_once_and_nothing_is_written(
    tenant: TenantID, subject: UUID
) -> None:
    error = await _refused(
        tenant,
        subject,
        source=SELF,
        anonymous=True,
        ratings={"delivery": 6, "charisma": 3, "quality": 4},
        comment="x" * 4001,
        given_at=datetime.now(UTC) + timedelta(days=1),
    )
    assert error.code == ErrorCode.INVALID
    assert sorted(d.field or "" for d in error.details) == [
        "anonymous",
        "comment",
        "givenAt",
        "ratings.charisma",
        "ratings.delivery",
    ]
    assert await _feedback_count(tenant) == 0


async def test_the_subject_must_be_a_current_employee(tenant: TenantID, subject: UUID) -> None:
    error = await _refused(tenant, uuid4())
    assert (error.code, error.field) == (ErrorCode.NOT_FOUND, "subjectId")
    async with tenant_transaction(tenant):
        await employee_service.archive(tenant, subject)
    error = await _refused(tenant, subject)
    assert (error.code, error.field) == (ErrorCode.NOT_FOUND, "subjectId")


async def test_comment_and_label_are_trimmed(tenant: TenantID, subject: UUID) -> None:
    author = uuid4()
    given = await _give(
        tenant,
        subject,
        source=CUSTOMER,
        ratings={"communication": 5},
        comment="  answered within the hour \n",
        author_user_id=author,
        author_label="  Customer   contact ",
    )
    async with tenant_transaction(tenant):
        stored = await Feedback.get(id=given.id)
    assert (stored.comment, stored.author_label) == ("answered within the hour", "Customer contact")
    assert stored.author_user_id == author
    assert (stored.ratings, stored.anonymous) == ({"communication": 5}, False)


# --- anonymity ---------------------------------------------------------------------------------


async def test_anonymous_feedback_keeps_no_author_even_when_one_is_passed(
    tenant: TenantID, subject: UUID
) -> None:
    given = await _give(
        tenant, subject, anonymous=True, author_user_id=uuid4(), author_label="Someone"
    )
    assert (given.author_user_id, given.author_label) == (None, None)
    async with tenant_transaction(tenant):
        stored = await Feedback.get(id=given.id)
    assert (stored.anonymous, stored.author_user_id, stored.author_label) == (True, None, None)


async def test_a_self_assessment_cannot_be_anonymous(tenant: TenantID, subject: UUID) -> None:
    error = await _refused(tenant, subject, source=SELF, anonymous=True)
    assert (error.code, error.field) == (ErrorCode.INVALID, "anonymous")
    assert (await _give(tenant, subject, source=SELF)).source == SELF


async def test_audit_entries_of_anonymous_feedback_name_no_author(
    tenant: TenantID, subject: UUID
) -> None:
    # given an author acting through a request
    author = uuid4()
    actor = AuditActor(kind="user", id=author, label="author@example.com", request_id="req-1")
    with acting_as(actor):
        anonymous = await _give(
            tenant, subject, anonymous=True, author_user_id=author, comment="private words"
        )
        named = await _give(tenant, subject, author_user_id=author)
    async with tenant_transaction(tenant):
        await feedback_service.archive(tenant, anonymous.id)
        entries = await AuditEntry.filter(entity_type="feedback").order_by("at")
    # then the anonymous entries hold neither the author nor the individual content
    anonymous_entries = [e for e in entries if e.entity_id == anonymous.id]
    assert [e.action for e in anonymous_entries] == ["create", "archive"]
    for entry in anonymous_entries:
        written = json.dumps(entry.changes)
        for leaked in (str(author), "author", "ratings", "comment", "private words"):
            assert leaked not in written
    created = anonymous_entries[0]
    assert (created.actor_id, created.actor_label, created.request_id) == (None, None, None)
    assert created.actor_kind == "user"
    assert anonymous_entries[0].changes["anonymous"] == {"before": None, "after": True}
    # while named feedback is audited as usual
    (named_entry,) = [e for e in entries if e.entity_id == named.id]
    assert named_entry.actor_id == author
    assert named_entry.changes["author_user_id"]["after"] == str(author)


# --- summaries ---------------------------------------------------------------------------------


async def test_two_anonymous_responses_are_withheld_and_three_are_shown(
    tenant: TenantID, subject: UUID
) -> None:
    for rating in (2, 4):
        await _give(tenant, subject, anonymous=True, ratings={"delivery": rating})
    summary = await _summary(tenant, subject)
    peers = summary.sources[PEER]
    assert (peers.named, peers.anonymous, peers.anonymous_withheld) == (None, None, True)
    assert (summary.anonymous, summary.anonymous_withheld) == (None, True)

    await _give(tenant, subject, anonymous=True, ratings={"delivery": 5, "quality": 3})
    summary = await _summary(tenant, subject)
    peers = summary.sources[PEER]
    assert _rounded(peers.anonymous) == Aggregate(MIN_ANONYMOUS_RESPONSES, {"delivery": 3.67})
    assert peers.anonymous_withheld is False
    # "quality" was rated once: its mean would be that one rating
    assert _rounded(summary.anonymous) == Aggregate(3, {"delivery": 3.67})
    assert summary.anonymous_withheld is False


async def test_named_and_anonymous_aggregates_stay_separate(
    tenant: TenantID, subject: UUID
) -> None:
    for rating in (1, 1, 1):
        await _give(tenant, subject, anonymous=True, ratings={"quality": rating})
    await _give(tenant, subject, ratings={"quality": 5})
    await _give(tenant, subject, ratings={"quality": 4, "delivery": 2})
    await _give(tenant, subject, source=CUSTOMER, ratings={"communication": 3})

    summary = await _summary(tenant, subject)

    assert summary.sources[PEER].named == Aggregate(2, {"quality": 4.5, "delivery": 2.0})
    assert summary.sources[PEER].anonymous == Aggregate(3, {"quality": 1.0})
    assert summary.sources[CUSTOMER].named == Aggregate(1, {"communication": 3.0})
    assert (summary.sources[CUSTOMER].anonymous, summary.sources[CUSTOMER].anonymous_withheld) == (
        None,
        False,
    )
    assert summary.anonymous == Aggregate(3, {"quality": 1.0})


async def test_the_overall_anonymous_aggregate_never_gives_away_a_withheld_source(
    tenant: TenantID, subject: UUID
) -> None:
    # given three anonymous peers (shown) and one anonymous customer (withheld)
    for rating in (3, 3, 3):
        await _give(tenant, subject, anonymous=True, ratings={"delivery": rating})
    await _give(tenant, subject, source=CUSTOMER, anonymous=True, ratings={"delivery": 1})
    summary = await _summary(tenant, subject)
    # then the overall mean, which with the peers' would reveal the customer's 1, is withheld
    assert summary.sources[PEER].anonymous == Aggregate(3, {"delivery": 3.0})
    assert summary.sources[CUSTOMER].anonymous_withheld is True
    assert summary.anonymous == Aggregate(4, {})

    # when the withheld responses reach three, they show overall though not per source
    for source in (FeedbackSource.SALES, FeedbackSource.SUBORDINATE):
        await _give(tenant, subject, source=source, anonymous=True, ratings={"delivery": 5})
    summary = await _summary(tenant, subject)
    assert _rounded(summary.anonymous) == Aggregate(6, {"delivery": 3.33})
    assert all(
        summary.sources[s].anonymous is None
        for s in (CUSTOMER, FeedbackSource.SALES, FeedbackSource.SUBORDINATE)
    )


async def test_summary_of_forty_people_is_one_statement(tenant: TenantID) -> None:
    subjects = await _employees(tenant, 40)
    for subject in subjects[:5]:
        await _give(tenant, subject)
        for _ in range(MIN_ANONYMOUS_RESPONSES):
            await _give(tenant, subject, anonymous=True, ratings={"quality": 2})
    async with tenant_transaction(tenant) as tx:
        before = tx.statements
        summaries = await feedback_service.summary(tenant, subjects)
        assert tx.statements - before == 1
    assert set(summaries) == set(subjects)
    assert all(summaries[s].anonymous == Aggregate(3, {"quality": 2.0}) for s in subjects[:5])
    assert all(summaries[s] == FeedbackSummary(subject_id=s) for s in subjects[5:])


async def test_archived_feedback_leaves_summaries_and_pages(
    tenant: TenantID, subject: UUID
) -> None:
    given = [await _give(tenant, subject, anonymous=True) for _ in range(3)]
    named = await _give(tenant, subject)
    async with tenant_transaction(tenant):
        await feedback_service.archive(tenant, given[0].id)
        await feedback_service.archive(tenant, named.id)
        again = await feedback_service.archive(tenant, named.id)  # a no-op
        page = await feedback_service.named_page(tenant, subject_id=subject, first=10, after=None)
        archives = await AuditEntry.filter(entity_id=named.id, action="archive").count()
    assert again.archived_at is not None
    assert archives == 1
    assert page.items == []
    summary = await _summary(tenant, subject)
    assert summary.sources[PEER].named is None
    assert summary.sources[PEER].anonymous_withheld is True
    with pytest.raises(ServiceError) as caught:
        async with tenant_transaction(tenant):
            await feedback_service.archive(tenant, uuid4())
    assert caught.value.code == ErrorCode.NOT_FOUND


async def test_the_named_page_lists_named_feedback_newest_first(
    tenant: TenantID, subject: UUID
) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    named = [await _give(tenant, subject, given_at=start + timedelta(days=d)) for d in range(3)]
    await _give(tenant, subject, anonymous=True, given_at=start + timedelta(days=5))
    other = (await _employees(tenant))[0]
    await _give(tenant, other)

    async with tenant_transaction(tenant):
        first = await feedback_service.named_page(tenant, subject_id=subject, first=2, after=None)
        rest = await feedback_service.named_page(
            tenant, subject_id=subject, first=2, after=first.cursors[-1]
        )

    assert [f.id for f in first.items] == [named[2].id, named[1].id]
    assert first.has_next_page is True
    assert [f.id for f in rest.items] == [named[0].id]
    assert rest.has_next_page is False


# --- tenants and packs -------------------------------------------------------------------------


async def test_another_tenants_employee_cannot_be_given_feedback(
    tenant: TenantID, subject: UUID
) -> None:
    other = tenant_id(await create_tenant())
    error = await _refused(other, subject)
    assert (error.code, error.field) == (ErrorCode.NOT_FOUND, "subjectId")
    assert await _feedback_count(other) == 0
    assert await _feedback_count(tenant) == 0


async def test_another_tenants_feedback_never_appears_in_summaries(
    tenant: TenantID, subject: UUID
) -> None:
    other = tenant_id(await create_tenant())
    theirs = (await _employees(other))[0]
    for _ in range(3):
        await _give(other, theirs, anonymous=True)
    await _give(other, theirs)
    await _give(tenant, subject)

    async with tenant_transaction(tenant):
        summaries = await feedback_service.summary(tenant, [subject, theirs])
        page = await feedback_service.named_page(tenant, subject_id=theirs, first=10, after=None)

    assert summaries[theirs] == FeedbackSummary(subject_id=theirs)
    assert summaries[subject].sources[PEER].named == Aggregate(1, {"delivery": 4.0})
    assert page.items == []


async def test_a_school_accepts_feedback_from_parents_and_students() -> None:
    school = tenant_id(await create_tenant(template="school_teaching"))
    (teacher,) = await _employees(school)
    parent = await _give(
        school,
        teacher,
        source=FeedbackSource.PARENT,
        ratings={"communication": 5, "care": 4},
        author_label="Parent of a pupil",
    )
    for rating in (4, 5, 5):
        await _give(
            school,
            teacher,
            source=FeedbackSource.STUDENT,
            anonymous=True,
            ratings={"teaching_quality": rating},
        )
    # the school's criteria, not the enterprise ones
    error = await _refused(school, teacher, source=FeedbackSource.STUDENT, ratings={"delivery": 3})
    assert error.field == "ratings.delivery"
    error = await _refused(school, teacher, source=CUSTOMER, ratings={"care": 3})
    assert error.field == "source"

    summary = await _summary(school, teacher)
    assert parent.author_label == "Parent of a pupil"
    assert summary.sources[FeedbackSource.PARENT].named == Aggregate(
        1, {"communication": 5.0, "care": 4.0}
    )
    students = summary.sources[FeedbackSource.STUDENT].anonymous
    assert _rounded(students) == Aggregate(3, {"teaching_quality": 4.67})
