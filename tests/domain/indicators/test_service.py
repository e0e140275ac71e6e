"""Indicator sets (versioned, weights total 100), append-only facts with superseding
corrections, and periods (calendar checks, pinned versions, close and audited reopen)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from asyncpg.exceptions import InsufficientPrivilegeError

from domain.audit.models import AuditEntry
from domain.indicators.models import Fact, PeriodStatus, Scorecard
from domain.indicators.service import (
    MAX_FACTS_PER_CALL,
    RECOMPUTE_JOB,
    FactCorrection,
    FactInput,
    FactOutcome,
    fact_service,
    indicator_sets,
    period_service,
    recompute_requests,
    summarised_before,
)
from domain.jobs.models import Job, JobStatus
from domain.people.service import custom_field_service
from domain.templates.onboarding import provision_pack
from domain.templates.registry import pack_for
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_employee
from tests.support.jobs import wait_for_job

AT = datetime(2026, 8, 3, 10, tzinfo=UTC)


def _definition(**changes: Any) -> dict[str, Any]:
    definition = pack_for("enterprise_rd").defaults().model_dump(mode="json")
    definition.update(changes)
    return definition


# --- indicator sets ------------------------------------------------------------------------


async def test_a_tenant_starts_with_its_pack_and_edits_make_new_versions() -> None:
    tenant = await create_tenant(template="school_teaching")
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        first = await indicator_sets.current(tid)
        assert first.version == 1
        assert [i.code for i in first.definition.indicators][:2] == [
            "score_gain",
            "growth_percentile",
        ]
        edited = first.definition.model_dump(mode="json")
        edited["indicators"][0]["target"]["target"] = 1.1
        saved = await indicator_sets.save(tid, base_version=1, definition=edited, note="higher bar")
        assert saved.version == 2
        current = await indicator_sets.current(tid)
        assert current.definition.indicators[0].target.target == 1.1
        assert (await indicator_sets.version(tid, 1)).definition.indicators[0].target.target == 1.0
        entries = await AuditEntry.filter(entity_type="indicator_set", entity_id=saved.id)
        assert [e.action for e in entries] == ["create"]


async def test_weights_that_do_not_total_100_are_refused_with_every_problem() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    definition = _definition()
    definition["indicators"][0]["weight"] = 25  # cycle_time 20 -> 25
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as caught:
            await indicator_sets.save(tid, base_version=1, definition=definition, note=None)
        assert (await indicator_sets.current(tid)).version == 1
    error = caught.value
    assert error.code == ErrorCode.INVALID
    assert "indicator weights total 105, they must total 100" in error.message
    assert "group delivery: its indicators weigh 40, the group 35" in error.message


async def test_unknown_fact_kinds_and_stale_versions_are_refused() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    definition = _definition()
    definition["indicators"][1]["fact_kind"] = "commits"
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as unknown:
            await indicator_sets.save(tid, base_version=1, definition=definition, note=None)
        await indicator_sets.save(tid, base_version=1, definition=_definition(), note=None)
        with pytest.raises(ServiceError) as stale:
            await indicator_sets.save(tid, base_version=1, definition=_definition(), note=None)
    assert "unknown fact kind 'commits'" in unknown.value.message
    assert (stale.value.code, stale.value.field) == (ErrorCode.CONFLICT, "baseVersion")


async def test_an_edit_applies_from_the_next_period() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        before = await period_service.create(
            tid,
            code="2026-Q2",
            kind="quarter",
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 6, 30),
        )
        await indicator_sets.save(tid, base_version=1, definition=_definition(), note="v2")
        after = await period_service.create(
            tid,
            code="2026-Q3",
            kind="quarter",
            starts_on=date(2026, 7, 1),
            ends_on=date(2026, 9, 30),
        )
    assert (before.indicator_set_version, after.indicator_set_version) == (1, 2)


async def test_a_new_tenant_is_seeded_from_its_pack() -> None:
    tenant = await create_tenant(template="school_teaching")
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await provision_pack(tid)
        fields = await custom_field_service.definitions(tid)
        assert (await indicator_sets.current(tid)).version == 1
    assert [(f.key, f.type.value) for f in fields] == [
        ("teaching_style", "enum"),
        ("homeroom", "boolean"),
    ]
    assert [o["value"] for o in fields[0].options] == ["interactive", "lecture", "mixed"]


# --- facts ---------------------------------------------------------------------------------


async def _record(tenant: Tenant, *items: FactInput) -> list[Any]:
    async with tenant_transaction(tenant_id(tenant)):
        return await fact_service.record_many(tenant_id(tenant), list(items))


async def test_a_fact_under_a_known_key_is_unchanged_or_supersedes_never_overwrites() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid", employee_number="E-7")
    fact = FactInput(
        kind="feasibility_answer",
        employee_number="E-7",
        occurred_at=AT,
        value=30.0,
        source="jira",
        external_key="REQ-1",
    )
    (first,) = await _record(tenant, fact)
    (again,) = await _record(tenant, fact)
    corrected = FactInput(**{**fact.__dict__, "value": 20.0})
    (replaced,) = await _record(tenant, corrected)
    assert [first.outcome, again.outcome, replaced.outcome] == [
        FactOutcome.RECORDED,
        FactOutcome.UNCHANGED,
        FactOutcome.SUPERSEDED,
    ]
    assert replaced.superseded == first.fact.id
    async with tenant_transaction(tenant_id(tenant)):
        rows = await Fact.filter(employee_id=person.id).order_by("recorded_at")
    assert [(r.value, r.superseded_at is not None) for r in rows] == [(30.0, True), (20.0, False)]
    assert rows[0].superseded_by == rows[1].id
    assert rows[1].correction_of == rows[0].id


async def test_correcting_a_fact_keeps_the_original_and_refuses_a_second_correction() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid")
    (recorded,) = await _record(
        tenant,
        FactInput(
            kind="requirement_delivered",
            employee_id=person.id,
            occurred_at=AT,
            value=12,
            denominator=3,
        ),
    )
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        fixed = await fact_service.correct(tid, recorded.fact.id, FactCorrection(value=9.0))
        assert (fixed.value, fixed.denominator, fixed.correction_of) == (9.0, 3.0, recorded.fact.id)
        with pytest.raises(ServiceError) as caught:
            await fact_service.correct(tid, recorded.fact.id, FactCorrection(value=8.0))
    assert caught.value.code == ErrorCode.CONFLICT


async def test_invalid_facts_get_precise_errors_and_valid_ones_in_the_same_call_land() -> None:
    tenant = await create_tenant(template="school_teaching")
    person = await create_employee(tenant, level="senior")
    good = FactInput(
        kind="class_test",
        employee_id=person.id,
        occurred_at=AT,
        value=72.0,
        attributes={"pre": 60},
    )
    bad = [
        FactInput(kind="commits", employee_id=person.id, occurred_at=AT, value=1),
        FactInput(kind="class_test", employee_id=person.id, occurred_at=AT, value=70),
        FactInput(kind="lesson", employee_id=person.id, occurred_at=AT, value=1),
        FactInput(
            kind="homework_graded",
            employee_id=person.id,
            occurred_at=datetime.now(UTC) + timedelta(days=3),
            value=2,
        ),
        FactInput(kind="homework_graded", employee_number="nobody", occurred_at=AT, value=2),
        FactInput(
            kind="homework_graded", employee_id=person.id, occurred_at=AT, value=float("nan")
        ),
        FactInput(
            kind="class_test",
            employee_id=person.id,
            occurred_at=AT,
            value=1,
            attributes={"pre": 100},
        ),
    ]
    results = await _record(tenant, good, *bad)
    assert results[0].outcome == FactOutcome.RECORDED
    assert [(r.outcome, r.error.field) for r in results[1:]] == [
        (FactOutcome.FAILED, "kind"),
        (FactOutcome.FAILED, "attributes.pre"),
        (FactOutcome.FAILED, "denominator"),
        (FactOutcome.FAILED, "occurredAt"),
        (FactOutcome.FAILED, "employee"),
        (FactOutcome.FAILED, "value"),
        (FactOutcome.FAILED, "attributes.pre"),
    ]


async def test_repeated_keys_in_one_call_and_oversized_calls_are_refused() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid")
    item = FactInput(
        kind="sales_request", employee_id=person.id, occurred_at=AT, value=1, external_key="K"
    )
    results = await _record(tenant, item, item)
    assert [r.outcome for r in results] == [FactOutcome.RECORDED, FactOutcome.FAILED]
    assert results[1].error.field == "externalKey"
    with pytest.raises(ServiceError) as caught:
        await _record(tenant, *[item] * (MAX_FACTS_PER_CALL + 1))
    assert caught.value.field == "items"


async def test_the_database_refuses_to_rewrite_or_delete_a_fact() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid")
    (recorded,) = await _record(
        tenant, FactInput(kind="sales_request", employee_id=person.id, occurred_at=AT, value=1)
    )
    tid = tenant_id(tenant)
    for statement in (
        "UPDATE facts SET value = 2 WHERE id = $1",
        "DELETE FROM facts WHERE id = $1",
    ):
        with pytest.raises(InsufficientPrivilegeError, match="append-only"):
            async with tenant_transaction(tid) as tx:
                await tx.execute(statement, recorded.fact.id)


async def test_facts_of_another_tenant_are_out_of_reach() -> None:
    a, b = await create_tenant(), await create_tenant()
    person_b = await create_employee(b, level="mid", employee_number="E-1")
    await create_employee(a, level="mid", employee_number="E-2")
    (by_number,) = await _record(
        a, FactInput(kind="sales_request", employee_number="E-1", occurred_at=AT, value=1)
    )
    (by_id,) = await _record(
        a, FactInput(kind="sales_request", employee_id=person_b.id, occurred_at=AT, value=1)
    )
    assert by_number.error.field == by_id.error.field == "employee"
    (mine,) = await _record(
        b, FactInput(kind="sales_request", employee_id=person_b.id, occurred_at=AT, value=1)
    )
    async with tenant_transaction(tenant_id(a)):
        with pytest.raises(ServiceError) as caught:
            await fact_service.get(tenant_id(a), mine.fact.id)
    assert caught.value.code == ErrorCode.NOT_FOUND


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "starts_on", "ends_on", "field"),
    [
        ("quarter", date(2026, 2, 1), date(2026, 4, 30), "startsOn"),
        ("month", date(2026, 2, 1), date(2026, 2, 27), "startsOn"),
        ("term", date(2026, 9, 1), date(2026, 8, 1), "endsOn"),
        ("term", date(2026, 1, 1), date(2026, 12, 31), "endsOn"),
        ("year", date(2026, 1, 1), date(2026, 12, 31), "kind"),
    ],
)
async def test_periods_must_be_well_formed(
    kind: str, starts_on: date, ends_on: date, field: str
) -> None:
    tenant = await create_tenant()
    async with tenant_transaction(tenant_id(tenant)):
        with pytest.raises(ServiceError) as caught:
            await period_service.create(
                tenant_id(tenant), code="P", kind=kind, starts_on=starts_on, ends_on=ends_on
            )
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID, field)


async def test_periods_do_not_overlap_close_once_and_reopen_with_a_reason_on_record() -> None:
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        period = await period_service.create(
            tid, code="2026-08", kind="month", starts_on=date(2026, 8, 1), ends_on=date(2026, 8, 31)
        )
        with pytest.raises(ServiceError) as overlap:
            await period_service.create(
                tid, code="x", kind="month", starts_on=date(2026, 8, 1), ends_on=date(2026, 8, 31)
            )
        closed = await period_service.close(tid, period.id)
        with pytest.raises(ServiceError) as twice:
            await period_service.close(tid, period.id)
        with pytest.raises(ServiceError) as no_reason:
            await period_service.reopen(tid, period.id, " ")
        reopened = await period_service.reopen(tid, period.id, "late ERP import of August")
        entries = await AuditEntry.filter(entity_type="period", entity_id=period.id).order_by("at")
    assert overlap.value.field == "startsOn"
    assert closed.status == PeriodStatus.CLOSED
    assert twice.value.code == ErrorCode.CONFLICT
    assert no_reason.value.field == "reason"
    assert reopened.status == PeriodStatus.OPEN
    assert [e.action for e in entries] == ["create", "close", "reopen"]
    assert entries[-1].changes["reason"]["after"] == "late ERP import of August"


async def test_fact_changes_queue_one_recomputation_per_open_period_they_touch() -> None:
    # given: an open quarter, a closed month inside it is irrelevant, a later quarter whose
    # baseline window the facts fall in
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    person = await create_employee(tenant, level="mid")
    async with tenant_transaction(tid):
        quarter = await period_service.create(
            tid,
            code="2026-Q3",
            kind="quarter",
            starts_on=date(2026, 7, 1),
            ends_on=date(2026, 9, 30),
        )
        later = await period_service.create(
            tid,
            code="2026-Q4",
            kind="quarter",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 12, 31),
        )
        closed = await period_service.create(
            tid,
            code="2026-Q1",
            kind="quarter",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 3, 31),
        )
        await period_service.close(tid, closed.id)
    # when: two calls in one transaction
    async with tenant_transaction(tid):
        for value in (1.0, 2.0):
            await fact_service.record_many(
                tid,
                [
                    FactInput(
                        kind="sales_request", employee_id=person.id, occurred_at=AT, value=value
                    )
                ],
            )
        jobs = await Job.filter(kind=RECOMPUTE_JOB).order_by("created_at")
    # then: one job for each open period the facts change, none for the closed one
    assert sorted(job.payload["period_id"] for job in jobs) == sorted(
        [str(quarter.id), str(later.id)]
    )
    for job in jobs:
        finished = await wait_for_job(tid, job.id)
        assert finished.status == JobStatus.SUCCEEDED
    async with tenant_transaction(tid):
        assert await Scorecard.filter(period_id=quarter.id, employee_id=person.id).exists()


async def test_fact_changes_in_quick_succession_are_scored_by_one_delayed_recomputation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: an open quarter, fact changes waiting a second before they are scored
    monkeypatch.setattr(recompute_requests, "delay_s", 1.0)
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    person = await create_employee(tenant, level="mid")
    async with tenant_transaction(tid):
        quarter = await period_service.create(
            tid,
            code="2026-Q3",
            kind="quarter",
            starts_on=date(2026, 7, 1),
            ends_on=date(2026, 9, 30),
        )
    # when: three writes, each in its own transaction, within that second
    for value in (1.0, 2.0, 3.0):
        async with tenant_transaction(tid):
            await fact_service.record_many(
                tid,
                [
                    FactInput(
                        kind="sales_request", employee_id=person.id, occurred_at=AT, value=value
                    )
                ],
            )
    # then: one job, which the broker held for the second before a worker started it
    async with tenant_transaction(tid):
        jobs = await Job.filter(kind=RECOMPUTE_JOB)
    assert [job.payload["period_id"] for job in jobs] == [str(quarter.id)]
    finished = await wait_for_job(tid, jobs[0].id)
    assert finished.status == JobStatus.SUCCEEDED
    assert finished.started_at is not None
    assert finished.started_at - finished.created_at >= timedelta(seconds=1)


def test_summaries_hold_facts_dated_before_the_day_current_ten_minutes_ahead() -> None:
    day = datetime(2026, 11, 27, tzinfo=UTC)
    assert summarised_before(day + timedelta(hours=12)) == day
    assert summarised_before(day + timedelta(hours=23, minutes=49)) == day
    # within the margin of midnight: the whole day may be summarised before a commit
    assert summarised_before(day + timedelta(hours=23, minutes=51)) == day + timedelta(days=1)
    # any time zone, the UTC day
    shanghai = timezone(timedelta(hours=8))
    assert summarised_before(datetime(2026, 11, 28, 7, 0, tzinfo=shanghai)) == day
