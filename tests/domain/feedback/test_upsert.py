"""Feedback upserts (imports, ERP syncs): keyed by external key, idempotent, anonymity kept."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from domain.audit.models import AuditEntry
from domain.changes import Outcome
from domain.feedback.models import Feedback, FeedbackSource
from domain.feedback.service import FeedbackItem, feedback_service
from domain.people.service import EmployeeChanges, employee_service
from tenants.errors import ErrorCode
from tenants.scope import TenantID, tenant_transaction
from tests.factories import create_tenant, tenant_id

GIVEN_AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


async def _employee(tenant: TenantID) -> UUID:
    async with tenant_transaction(tenant):
        employee = await employee_service.create(
            tenant, EmployeeChanges(employee_number=f"E-{secrets.token_hex(4)}", name="Subject")
        )
    return employee.id


def _item(subject: UUID, key: str = "survey-1", **values: object) -> FeedbackItem:
    fields: dict[str, object] = {
        "external_key": key,
        "subject_id": subject,
        "source": FeedbackSource.PEER,
        "ratings": {"delivery": 4, "quality": 5},
        "comment": "Ships on time",
        "author_label": "Survey tool",
        "given_at": GIVEN_AT,
        **values,
    }
    return FeedbackItem(**fields)  # type: ignore[arg-type]


async def _upsert(tenant: TenantID, items: list[FeedbackItem]) -> list[tuple[Outcome, str | None]]:
    async with tenant_transaction(tenant):
        results = await feedback_service.upsert(tenant, items)
    return [(r.outcome, r.error.field if r.error is not None else None) for r in results]


async def _stored(tenant: TenantID) -> list[Feedback]:
    async with tenant_transaction(tenant):
        return await Feedback.all().order_by("external_key")


async def _audit_actions(tenant: TenantID) -> list[str]:
    async with tenant_transaction(tenant):
        entries = await AuditEntry.filter(entity_type="feedback").order_by("at", "id")
    return [e.action for e in entries]


async def test_the_same_batch_twice_creates_once_and_then_changes_nothing() -> None:
    # given
    tenant = tenant_id(await create_tenant())
    subject = await _employee(tenant)
    batch = [_item(subject, "survey-1"), _item(subject, "survey-2", source=FeedbackSource.MANAGER)]
    # when
    first = await _upsert(tenant, batch)
    second = await _upsert(tenant, batch)
    # then
    assert first == [(Outcome.CREATED, None)] * 2
    assert second == [(Outcome.UNCHANGED, None)] * 2
    stored = await _stored(tenant)
    assert [(f.external_key, f.source, f.ratings) for f in stored] == [
        ("survey-1", FeedbackSource.PEER, {"delivery": 4, "quality": 5}),
        ("survey-2", FeedbackSource.MANAGER, {"delivery": 4, "quality": 5}),
    ]
    assert stored[0].given_at == GIVEN_AT
    assert await _audit_actions(tenant) == ["create", "create"]


async def test_a_changed_item_updates_its_feedback_and_is_audited() -> None:
    tenant = tenant_id(await create_tenant())
    subject, other = await _employee(tenant), await _employee(tenant)
    await _upsert(tenant, [_item(subject)])
    # when the ratings, the comment and the subject change, and the time is left out
    changed = _item(other, ratings={"delivery": 2}, comment=None, given_at=None)
    assert await _upsert(tenant, [changed]) == [(Outcome.UPDATED, None)]
    # then
    (stored,) = await _stored(tenant)
    assert (stored.subject_id, stored.ratings) == (other, {"delivery": 2})
    assert stored.comment is None
    assert stored.given_at == GIVEN_AT  # no time given: the stored one stays
    assert await _audit_actions(tenant) == ["create", "update"]
    async with tenant_transaction(tenant):
        update = await AuditEntry.get(entity_type="feedback", action="update")
    assert set(update.changes) == {"subject_id", "ratings", "comment"}
    # and the same again is no change
    assert await _upsert(tenant, [changed]) == [(Outcome.UNCHANGED, None)]


async def test_anonymity_cannot_change_and_anonymous_feedback_keeps_no_author() -> None:
    tenant = tenant_id(await create_tenant())
    subject = await _employee(tenant)
    anonymous = _item(subject, "anon-1", anonymous=True, author_label="Ms. Wang")
    named = _item(subject, "named-1")
    assert await _upsert(tenant, [anonymous, named]) == [(Outcome.CREATED, None)] * 2
    # when each would flip
    flipped = [replace(anonymous, anonymous=False), replace(named, anonymous=True)]
    assert await _upsert(tenant, flipped) == [(Outcome.FAILED, "anonymous")] * 2
    # then neither changed, and the anonymous one never held its author
    stored = {f.external_key: f for f in await _stored(tenant)}
    assert (stored["anon-1"].anonymous, stored["anon-1"].author_label) == (True, None)
    assert (stored["named-1"].anonymous, stored["named-1"].author_label) == (False, "Survey tool")
    # and an update of the anonymous feedback records neither its ratings nor its comment
    again = replace(anonymous, ratings={"delivery": 1}, comment="Late, always")
    assert await _upsert(tenant, [again]) == [(Outcome.UPDATED, None)]
    async with tenant_transaction(tenant):
        entries = await AuditEntry.filter(entity_id=stored["anon-1"].id)
    written = json.dumps([e.changes for e in entries])
    assert "Late" not in written
    assert "ratings" not in written
    assert "Ms. Wang" not in written
    assert "anon-1" not in written  # a response id may lead back to the respondent


async def test_refused_items_fail_alone_with_the_field_at_fault() -> None:
    tenant = tenant_id(await create_tenant())
    other_tenant = tenant_id(await create_tenant())
    subject, foreign = await _employee(tenant), await _employee(other_tenant)
    batch = [
        _item(subject, "ok"),
        _item(subject, "twice"),
        _item(subject, "twice"),
        _item(subject, "  "),
        _item(foreign, "foreign"),
        _item(subject, "bad-rating", ratings={"delivery": 9}),
        _item(subject, "self-anon", source=FeedbackSource.SELF, anonymous=True),
        _item(subject, "student", source="student"),
    ]
    results = await _upsert(tenant, batch)
    assert results == [
        (Outcome.CREATED, None),
        (Outcome.FAILED, "externalKey"),
        (Outcome.FAILED, "externalKey"),
        (Outcome.FAILED, "externalKey"),
        (Outcome.FAILED, "subjectId"),
        (Outcome.FAILED, "ratings.delivery"),
        (Outcome.FAILED, "anonymous"),
        (Outcome.FAILED, "source"),  # not a source of the enterprise pack
    ]
    async with tenant_transaction(tenant):
        refused = await feedback_service.upsert(tenant, [_item(foreign, "foreign")])
    assert refused[0].error is not None
    assert refused[0].error.code == ErrorCode.NOT_FOUND
    assert [f.external_key for f in await _stored(tenant)] == ["ok"]


async def test_external_keys_belong_to_their_tenant() -> None:
    a, b = tenant_id(await create_tenant()), tenant_id(await create_tenant())
    subject_a, subject_b = await _employee(a), await _employee(b)
    await _upsert(a, [_item(subject_a, "shared-key")])
    # when the other tenant uses the same key
    result = await _upsert(b, [_item(subject_b, "shared-key", ratings={"delivery": 1})])
    # then it creates its own feedback, and the first tenant's is untouched
    assert result == [(Outcome.CREATED, None)]
    (theirs,) = await _stored(a)
    assert (theirs.subject_id, theirs.ratings) == (subject_a, {"delivery": 4, "quality": 5})
    (ours,) = await _stored(b)
    assert (ours.subject_id, ours.ratings) == (subject_b, {"delivery": 1})
