"""Work items through their lifecycle: legal and illegal transitions, facts derived once and
superseded by corrections, delay causes and their defaults, defects and complaints, bulk
upserts from a ticket system, and a second tenant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.audit.models import AuditEntry
from domain.people.models import Employee
from domain.skills.models import Skill
from domain.work.matching import SkillNeed
from domain.work.models import FoundIn, Verdict, WorkItem, WorkStatus
from domain.work.service import (
    TRANSITIONS,
    Assignment,
    TimesCorrection,
    WorkItemInput,
    work_items,
)
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_indicators import record_facts
from tests.factories_records import create_employee, create_skill, set_skill
from tests.factories_work import REQUESTED, act, create_item, delivered_requirement, derived_facts

H = timedelta(hours=1)
D = timedelta(days=1)


async def test_a_request_goes_from_question_to_closed_and_derives_its_facts() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant, level="mid"), await create_employee(tenant)
    # when: requested, answered after 6 h, promised for 20 Aug, started, delivered 15 Aug
    item = await delivered_requirement(tenant, [(dev, 1.0)], lead, size=5.0)
    assert item.status == WorkStatus.DELIVERED
    closed = await act(tenant, "close", item, at=REQUESTED + 13 * D)
    assert closed.status == WorkStatus.CLOSED
    # then: one fact per derivation, about the right person
    facts = {(f.kind, f.employee_id): f for f in await derived_facts(tenant, item)}
    assert set(facts) == {
        ("sales_request", lead.id),
        ("feasibility_answer", lead.id),
        ("requirement_delivered", dev.id),
        ("due_item", dev.id),
        ("item_defects", dev.id),
    }
    assert facts[("feasibility_answer", lead.id)].value == 6.0
    cycle = facts[("requirement_delivered", dev.id)]
    assert (cycle.value, cycle.denominator) == (10.0, 5.0)  # 10 days for 5 points
    on_time = facts[("due_item", dev.id)]
    assert (on_time.value, on_time.denominator) == (1.0, 1.0)
    # delivered early (15 Aug for 20 Aug): counted when delivered, a fact is never ahead
    assert on_time.occurred_at.date() == date(2026, 8, 15)
    assert facts[("item_defects", dev.id)].value == 0.0


@pytest.mark.parametrize(
    ("action", "arguments", "status"),
    [
        ("deliver", {}, "new"),
        ("close", {}, "new"),
        ("start", {}, "new"),  # a request is answered first
    ],
)
async def test_illegal_transitions_say_what_may_follow(
    action: str, arguments: dict[str, object], status: str
) -> None:
    tenant = await create_tenant()
    dev = await create_employee(tenant)
    item = await create_item(tenant, assignees=[(dev, 1.0)])
    with pytest.raises(ServiceError) as caught:
        await act(tenant, action, item, **arguments)
    assert caught.value.code == ErrorCode.CONFLICT
    assert status in caught.value.message
    async with tenant_transaction(tenant_id(tenant)):
        assert (await work_items.get(tenant_id(tenant), item.id)).status == WorkStatus.NEW


async def test_answering_twice_and_cancelling_a_closed_item_are_refused() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant), await create_employee(tenant)
    item = await delivered_requirement(tenant, [(dev, 1.0)], lead)
    with pytest.raises(ServiceError, match="cannot answer an item that is delivered"):
        await act(tenant, "answer", item, verdict=Verdict.FEASIBLE, by=lead.id)
    await act(tenant, "close", item)
    with pytest.raises(ServiceError, match="cannot cancel an item that is closed"):
        await act(tenant, "cancel", item, reason="no longer needed")
    # a cancellation needs a reason, and a not-feasible request is not promised
    other = await create_item(tenant)
    with pytest.raises(ServiceError, match="say why"):
        await act(tenant, "cancel", other, reason="  ")
    await act(tenant, "answer", other, verdict=Verdict.NOT_FEASIBLE, by=lead.id)
    with pytest.raises(ServiceError, match="not feasible"):
        await act(tenant, "promise", other, promised_on=date.today() + 30 * D)


async def test_deriving_again_records_nothing_new() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant), await create_employee(tenant)
    item = await delivered_requirement(tenant, [(dev, 1.0)], lead)
    first = await derived_facts(tenant, item, include_superseded=True)
    # when: derived again
    await act(tenant, "rederive", item)
    again = await derived_facts(tenant, item, include_superseded=True)
    assert [f.id for f in again] == [f.id for f in first]


async def test_a_corrected_delivery_supersedes_the_facts_it_moves() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant), await create_employee(tenant)
    item = await delivered_requirement(tenant, [(dev, 1.0)], lead)
    before = {f.kind: f for f in await derived_facts(tenant, item)}
    # when: delivery was in fact three days later, after the promised date
    await act(
        tenant,
        "correct_times",
        item,
        changes=TimesCorrection(delivered_at=REQUESTED + 18 * D),
    )
    after = {f.kind: f for f in await derived_facts(tenant, item)}
    # then: cycle time and on-time moved, superseding; the answer's facts did not
    assert after["requirement_delivered"].value == 16.0
    assert after["requirement_delivered"].correction_of == before["requirement_delivered"].id
    assert after["due_item"].value == 0.0
    assert after["feasibility_answer"].id == before["feasibility_answer"].id
    everything = await derived_facts(tenant, item, include_superseded=True)
    old = next(f for f in everything if f.id == before["requirement_delivered"].id)
    assert old.superseded_at is not None
    # and a time not recorded yet is not corrected, nor one out of order
    with pytest.raises(ServiceError, match="before startedAt"):
        await act(tenant, "correct_times", item, changes=TimesCorrection(delivered_at=REQUESTED))
    with pytest.raises(ServiceError, match="not recorded yet"):
        await act(tenant, "correct_times", item, changes=TimesCorrection(closed_at=REQUESTED))


async def test_a_late_item_is_closed_with_a_cause_and_rd_is_scored_only_for_its_own() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant), await create_employee(tenant)
    item = await delivered_requirement(
        tenant, [(dev, 1.0)], lead, promised_on=date(2026, 8, 10)
    )  # delivered 15 Aug: late
    with pytest.raises(ServiceError) as caught:
        await act(tenant, "close", item)
    assert caught.value.field == "delayCause"
    assert "2026-08-10" in caught.value.message
    late = {f.kind: f for f in await derived_facts(tenant, item)}
    assert late["due_item"].value == 0.0  # late, no cause yet: R&D's until said otherwise
    # when: closed as the customer's change
    await act(tenant, "close", item, delay_cause="customer_change")
    kinds = {f.kind for f in await derived_facts(tenant, item)}
    assert "due_item" not in kinds  # R&D is not scored on a delay it did not cause
    # and changing the cause needs a comment, and is audited
    with pytest.raises(ServiceError, match="say why"):
        await act(tenant, "set_cause", item, cause="rd", comment=" ", delay=True)
    await act(tenant, "set_cause", item, cause="rd", comment="our estimate was off", delay=True)
    assert {f.kind: f.value for f in await derived_facts(tenant, item)}["due_item"] == 0.0
    async with tenant_transaction(tenant_id(tenant)):
        entry = await AuditEntry.get(entity_id=item.id, action="set_cause")
    assert entry.changes["delay_cause"] == {"before": "customer_change", "after": "rd"}


async def test_complaints_caused_by_rd_yield_fix_times_and_others_none() -> None:
    tenant = await create_tenant()
    dev = await create_employee(tenant)
    complaint = await create_item(
        tenant, "complaint", title="Report export crashes", cause="rd", assignees=[(dev, 1.0)]
    )
    await act(tenant, "start", complaint, at=REQUESTED + 2 * H)
    await act(tenant, "deliver", complaint, at=REQUESTED + 30 * H)
    (fix,) = await derived_facts(tenant, complaint)
    assert (fix.kind, fix.value, fix.employee_id) == ("complaint_fix", 30.0, dev.id)
    # when: it turns out the customer misconfigured it, the fix time is retracted
    await act(
        tenant, "set_cause", complaint, cause="external", comment="customer's proxy", delay=False
    )
    assert await derived_facts(tenant, complaint) == []
    (retracted,) = await derived_facts(tenant, complaint, include_superseded=True)
    assert retracted.superseded_at is not None
    assert retracted.superseded_by is None


async def test_a_defect_found_in_production_counts_against_the_work_it_was_found_in() -> None:
    tenant = await create_tenant()
    dev, other, lead = [await create_employee(tenant) for _ in range(3)]
    item = await delivered_requirement(tenant, [(dev, 0.6), (other, 0.4)], lead)
    # when: a bug is found in production and linked to it
    bug = await create_item(
        tenant,
        "bug",
        title="PDF totals off by one cent",
        requested_at=REQUESTED + 20 * D,
        found_in=FoundIn.PRODUCTION,
        linked_item_id=item.id,
    )
    # then: the defect is about the requirement's people, and its defect count follows
    defects = await derived_facts(tenant, bug)
    assert {(f.kind, f.employee_id, f.value) for f in defects} == {
        ("defect", dev.id, 1.0),
        ("defect", other.id, 1.0),
    }
    counts = {f.employee_id: f.value for f in await derived_facts(tenant, item)
              if f.kind == "item_defects"}  # fmt: skip
    assert counts == {dev.id: 1.0, other.id: 1.0}
    # and found in test after all: 0, and unlinked: the count drops back
    await act(tenant, "link_defect", bug, item_id=item.id, found_in=FoundIn.TEST)
    assert {f.value for f in await derived_facts(tenant, bug)} == {0.0}
    await act(tenant, "link_defect", bug, item_id=None, found_in=FoundIn.TEST)
    assert await derived_facts(tenant, bug) == []
    counts = {f.employee_id: f.value for f in await derived_facts(tenant, item)
              if f.kind == "item_defects"}  # fmt: skip
    assert counts == {dev.id: 0.0, other.id: 0.0}
    # a defect links to work, not to another defect
    with pytest.raises(ServiceError, match="found in"):
        await create_item(tenant, "bug", title="dup", found_in=FoundIn.TEST, linked_item_id=bug.id)


async def test_homework_graded_in_hours_for_a_school() -> None:
    tenant = await create_tenant(template="school_teaching")
    teacher = await create_employee(tenant, level="junior")
    batch = await create_item(
        tenant, "homework", title="Algebra worksheet 3", customer="Class 8-2",
        requester_name="Class 8-2", assignees=[(teacher, 1.0)],
    )  # fmt: skip
    await act(tenant, "start", batch, at=REQUESTED + 1 * H)
    await act(tenant, "deliver", batch, at=REQUESTED + 20 * H)
    (graded,) = await derived_facts(tenant, batch)
    assert (graded.kind, graded.value) == ("homework_graded", 20.0)
    # a school has no requirements
    with pytest.raises(ServiceError) as caught:
        await create_item(tenant, "requirement")
    assert caught.value.field == "kind"
    assert "homework" in caught.value.message


async def test_input_problems_are_reported_together_and_nothing_is_written() -> None:
    tenant = await create_tenant()
    dev = await create_employee(tenant)
    with pytest.raises(ServiceError) as caught:
        await create_item(
            tenant, title=" ", size=-1.0, assignees=[(dev, 0.5)], found_in=FoundIn.TEST
        )
    fields = {detail.field for detail in caught.value.details}
    assert {"title", "size", "assignees", "foundIn"} <= fields
    with pytest.raises(ServiceError, match="offset"):
        await create_item(tenant, requested_at=datetime(2026, 8, 3, 9))


async def test_bulk_upsert_is_keyed_by_external_key_and_idempotent() -> None:
    tenant = await create_tenant()
    dev, lead = await create_employee(tenant), await create_employee(tenant)
    tid = tenant_id(tenant)
    synced = [
        WorkItemInput(
            kind="requirement", title="SSO with the customer's IdP", source="jira",
            external_key="CRM-1", requested_at=REQUESTED, answered_at=REQUESTED + 3 * H,
            answered_by=lead.id, verdict=Verdict.FEASIBLE, promised_on=date(2026, 8, 30),
            started_at=REQUESTED + 2 * D, delivered_at=REQUESTED + 9 * D, size=3.0,
            assignees=(_share(dev, 1.0),),
        ),
        WorkItemInput(kind="bug", title="Login loops", source="jira", external_key="CRM-2"),
        WorkItemInput(kind="requirement", title=" ", source="jira", external_key="CRM-3"),
        WorkItemInput(kind="bug", title="Again", source="jira", external_key="CRM-2"),
    ]  # fmt: skip
    async with tenant_transaction(tid):
        first = await work_items.upsert_many(tid, synced)
    assert [r.outcome for r in first] == ["created", "created", "failed", "failed"]
    assert first[2].error is not None
    assert first[2].error.field == "title"
    assert first[3].error is not None
    assert "repeated" in first[3].error.message
    assert first[0].item is not None
    assert first[0].item.status == WorkStatus.DELIVERED
    facts = await derived_facts(tenant, first[0].item)
    # when: the same batch again, then one item moved on
    async with tenant_transaction(tid):
        again = await work_items.upsert_many(tid, synced[:2])
        moved = await work_items.upsert_many(
            tid, [replace(synced[0], closed_at=REQUESTED + 10 * D)]
        )
    assert [r.outcome for r in again] == ["unchanged", "unchanged"]
    assert await derived_facts(tenant, first[0].item) == facts
    assert moved[0].outcome == "updated"
    assert moved[0].item is not None
    assert moved[0].item.status == WorkStatus.CLOSED
    with pytest.raises(ServiceError, match="at most 500"):
        async with tenant_transaction(tid):
            await work_items.upsert_many(tid, [synced[1]] * 501)


async def test_another_tenants_items_do_not_exist_here() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    lead = await create_employee(other)
    theirs = await create_item(other)
    with pytest.raises(ServiceError) as caught:
        await act(tenant, "answer", theirs, verdict=Verdict.FEASIBLE, by=lead.id)
    assert caught.value.code == ErrorCode.NOT_FOUND
    # nor their people
    with pytest.raises(ServiceError) as caught:
        await create_item(tenant, assignees=[(lead, 1.0)])
    assert caught.value.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID)


def _share(person: Employee, share: float) -> Assignment:
    return Assignment(person.id, share)


async def _capable_engineer(tenant: Tenant) -> tuple[Employee, Skill]:
    """A senior who delivers at exactly 2 days a point (three 5-point items in 10 days)."""
    dev = await create_employee(tenant, level="senior")
    skill = await create_skill(tenant, "Payments")
    await set_skill(tenant, dev, skill, 4)
    history = [
        {"value": 10.0, "denominator": 5.0, "at": datetime(2026, m, 10, tzinfo=UTC)}
        for m in (5, 6, 7)
    ]
    await record_facts(tenant, dev, "requirement_delivered", history)
    return dev, skill


async def test_a_promise_earlier_than_feasible_is_flagged_and_its_delay_is_sales() -> None:
    tenant = await create_tenant()
    dev, skill = await _capable_engineer(tenant)
    lead = await create_employee(tenant)
    item = await create_item(
        tenant, assignees=[(dev, 1.0)], size=5.0, skills=(SkillNeed(skill.id, 3),)
    )
    await act(tenant, "answer", item, verdict=Verdict.FEASIBLE, by=lead.id, at=REQUESTED + 6 * H)
    # when: sales promise 8 Aug; 5 points at 2 days a point need 10 days: 13 Aug at best
    promised = await act(
        tenant, "promise", item, promised_on=date(2026, 8, 8), at=REQUESTED + 7 * H
    )
    assert (promised.overpromised, promised.feasible_on) == (True, date(2026, 8, 13))
    await act(tenant, "start", item, at=REQUESTED + 1 * D)
    delivered = await act(tenant, "deliver", item, at=REQUESTED + 9 * D)  # 12 Aug: late
    # then: the delay is the over-promise's by default, and R&D is not scored on it
    assert delivered.delay_cause == "sales_overpromise"
    assert "due_item" not in {f.kind for f in await derived_facts(tenant, item)}
    closed = await act(tenant, "close", item)
    assert closed.delay_cause == "sales_overpromise"
    # and when R&D owns it after all (with a comment), the on-time fact is theirs
    await act(
        tenant, "set_cause", item, cause="rd", comment="we lost two days to a bad merge",
        delay=True,
    )  # fmt: skip
    assert {f.kind: f.value for f in await derived_facts(tenant, item)}["due_item"] == 0.0


async def test_a_promise_the_team_can_keep_is_not_flagged() -> None:
    tenant = await create_tenant()
    dev, skill = await _capable_engineer(tenant)
    item = await create_item(
        tenant, assignees=[(dev, 1.0)], size=5.0, skills=(SkillNeed(skill.id, 3),)
    )
    promised = await act(
        tenant, "promise", item, promised_on=date(2026, 8, 20), at=REQUESTED + 1 * H
    )
    # its own 5 points are not counted twice as open work
    assert (promised.overpromised, promised.feasible_on) == (False, date(2026, 8, 13))


async def test_skills_and_units_of_another_tenant_are_unknown() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    theirs = await create_skill(other, "Payments")
    with pytest.raises(ServiceError) as caught:
        await create_item(tenant, skills=(SkillNeed(theirs.id, 2),), org_unit_id=theirs.id)
    assert {d.field for d in caught.value.details} >= {"skills", "orgUnitId"}


_STEPS: dict[WorkStatus, dict[str, object]] = {
    WorkStatus.NEW: {},
    WorkStatus.ANSWERED: {"answered_at": REQUESTED + H, "verdict": Verdict.FEASIBLE},
    WorkStatus.PLANNED: {"promised_on": date(2026, 12, 31)},
    WorkStatus.IN_PROGRESS: {"started_at": REQUESTED + 2 * H},
    WorkStatus.DELIVERED: {"delivered_at": REQUESTED + 3 * H},
    WorkStatus.CLOSED: {"closed_at": REQUESTED + 4 * H},
}
_ORDER = list(_STEPS)


async def _item_in(tenant: Tenant, status: WorkStatus, dev: Employee) -> WorkItem:
    """A requirement brought to ``status`` with the times that status implies."""
    item = await create_item(tenant, assignees=[(dev, 1.0)])
    fields: dict[str, object] = {"status": status, "answered_by": dev.id}
    if status == WorkStatus.CANCELLED:
        fields["cancelled_at"] = REQUESTED + H
    else:
        for step in _ORDER[: _ORDER.index(status) + 1]:
            fields.update(_STEPS[step])
    async with tenant_transaction(tenant_id(tenant)):
        await WorkItem.filter(id=item.id).update(**fields)
    return item


@pytest.mark.parametrize("status", list(WorkStatus))
@pytest.mark.parametrize("action", list(TRANSITIONS))
async def test_every_transition_from_every_status(action: str, status: WorkStatus) -> None:
    tenant = await create_tenant()
    dev = await create_employee(tenant)
    item = await _item_in(tenant, status, dev)
    by_action: dict[str, dict[str, object]] = {
        "answer": {"verdict": Verdict.FEASIBLE, "by": dev.id},
        "promise": {"promised_on": date.today() + 60 * D},
        "cancel": {"reason": "the customer withdrew it"},
    }
    arguments = by_action.get(action, {})
    allowed = TRANSITIONS[action].get(status)
    # a request is answered before work starts, whatever the table allows from `new`
    if action == "start" and status == WorkStatus.NEW:
        allowed = None
    if allowed is None:
        with pytest.raises(ServiceError) as caught:
            await act(tenant, action, item, **arguments)
        assert caught.value.code == ErrorCode.CONFLICT
        assert status.value in caught.value.message
    else:
        moved = await act(tenant, action, item, **arguments)
        assert moved.status == allowed[0]
