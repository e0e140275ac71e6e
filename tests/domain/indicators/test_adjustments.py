"""A manager's adjustment: bounded by the pack, explained, audited, kept by recomputations,
refused on closed periods, on cards without a total and on one's own scorecard."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.audit.models import AuditEntry
from domain.indicators.models import Period, Scorecard
from domain.people.models import Employee
from domain.templates.registry import pack_for
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, create_user, tenant_id
from tests.factories_indicators import (
    adjust,
    close_period,
    create_period,
    on_time,
    recompute,
    record_facts,
    scorecard_of,
)
from tests.factories_records import create_employee

COMMENT = "Carried the migration on-call for two months"
TERM = (date(2026, 9, 1), date(2026, 11, 20))
IN_TERM = datetime(2026, 10, 12, 9, tzinfo=UTC)


async def _scored(tenant: Tenant, *people: tuple[Employee, int, int]) -> list[Scorecard]:
    for person, good, late in people:
        await record_facts(tenant, person, "due_item", on_time(good, late))
    period = await create_period(tenant)
    await recompute(tenant, period)
    return [await scorecard_of(tenant, period, person) for person, _, _ in people]


async def _manager(tenant: Tenant) -> User:
    return await create_user(tenant, roles=("manager",))


async def test_an_adjustment_moves_the_total_and_is_audited() -> None:
    # given a scored person
    tenant = await create_tenant()
    person = await create_employee(tenant, level="senior")
    (card,) = await _scored(tenant, (person, 9, 1))
    manager = await _manager(tenant)
    assert card.blended_total is not None
    assert pack_for("enterprise_rd").scorecard.manager_adjustment_max == 10

    # when the manager adds 4.5 points with a reason
    adjusted = await adjust(tenant, card, 4.5, f"  {COMMENT}  ", by=manager)

    # then the total moves, who and when are kept, and the audit log says what changed
    assert adjusted.adjustment == 4.5
    assert adjusted.adjustment_comment == COMMENT
    assert adjusted.total == pytest.approx(card.blended_total + 4.5)
    assert adjusted.adjusted_by == manager.id
    assert adjusted.adjusted_at is not None
    stored = await scorecard_of(tenant, *(await _period_and_person(tenant, card)))
    assert (stored.adjustment, stored.total) == (4.5, adjusted.total)
    async with tenant_transaction(tenant_id(tenant)):
        (entry,) = await AuditEntry.filter(entity_type="scorecard", entity_id=card.id)
    assert entry.action == "adjust"
    assert entry.actor_id == manager.id
    assert entry.changes == {
        "adjustment": {"before": 0.0, "after": 4.5},
        "adjustment_comment": {"before": None, "after": COMMENT},
        "total": {"before": card.total, "after": adjusted.total},
    }

    # and a recomputation keeps it (the percentile is refreshed then)
    period, _ = await _period_and_person(tenant, card)
    await recompute(tenant, period)
    again = await scorecard_of(tenant, period, person)
    assert (again.adjustment, again.adjustment_comment) == (4.5, COMMENT)
    assert again.total == pytest.approx(card.blended_total + 4.5)
    # the adjusted card was no longer what the last recomputation wrote: this one rewrote it
    assert adjusted.digest is None
    assert again.digest is not None
    assert again.computed_at > card.computed_at


async def _period_and_person(tenant: Tenant, card: Scorecard) -> tuple[Period, Employee]:
    async with tenant_transaction(tenant_id(tenant)):
        return await Period.get(id=card.period_id), await Employee.get(id=card.employee_id)


async def test_the_total_stays_between_0_and_120() -> None:
    tenant = await create_tenant()
    best, worst = [await create_employee(tenant, level="mid") for _ in range(2)]
    # every counted indicator at its stretch: two contributions, two well-rated trainings
    await record_facts(tenant, best, "tech_contribution", [{"value": 1.0}] * 2)
    await record_facts(tenant, best, "training_given", [{"value": 4.5}] * 2)
    high, low = await _scored(tenant, (best, 10, 0), (worst, 0, 10))
    manager = await _manager(tenant)
    assert high.blended_total is not None
    assert high.blended_total > 110
    assert low.blended_total == 0.0

    assert (await adjust(tenant, high, 10, COMMENT, by=manager)).total == 120.0
    assert (await adjust(tenant, low, -10, COMMENT, by=manager)).total == 0.0
    # a later adjustment replaces the earlier one, it does not add to it
    replaced = await adjust(tenant, high, -2, COMMENT, by=manager)
    assert replaced.total == pytest.approx(high.blended_total - 2)


@pytest.mark.parametrize(
    ("points", "comment", "field"),
    [
        (10.5, COMMENT, "points"),
        (-11, COMMENT, "points"),
        (float("nan"), COMMENT, "points"),
        (3, "  too short  ", "comment"),
        (3, "x" * 2001, "comment"),
    ],
)
async def test_out_of_bounds_adjustments_and_thin_comments_are_refused(
    points: float, comment: str, field: str
) -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid")
    (card,) = await _scored(tenant, (person, 8, 2))
    with pytest.raises(ServiceError) as refused:
        await adjust(tenant, card, points, comment, by=await _manager(tenant))
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, field)
    assert refused.value.message_zh
    assert (await scorecard_of(tenant, *(await _period_and_person(tenant, card)))).adjustment == 0


async def test_closed_periods_cards_without_a_total_and_ones_own_card_are_refused() -> None:
    # given a school (no counted indicators, so no facts means no total) and its term
    tenant = await create_tenant(template="school_teaching")
    manager = await _manager(tenant)
    scored = await create_employee(tenant, level="senior")
    thin = await create_employee(tenant, level="senior")  # no facts at all
    own = await create_employee(tenant, level="senior", user=manager)
    graded = [{"value": 12.0, "at": IN_TERM}] * 6
    await record_facts(tenant, scored, "homework_graded", graded)
    await record_facts(tenant, own, "homework_graded", graded)
    period = await create_period(
        tenant, code="2026 秋季", kind="term", starts_on=TERM[0], ends_on=TERM[1]
    )
    await recompute(tenant, period)
    assert pack_for("school_teaching").scorecard.manager_adjustment_max == 5

    # the school's bound is 5 points
    card = await scorecard_of(tenant, period, scored)
    with pytest.raises(ServiceError) as too_much:
        await adjust(tenant, card, 6, COMMENT, by=manager)
    assert (too_much.value.code, too_much.value.field) == (ErrorCode.INVALID, "points")

    # nobody adjusts their own scorecard
    with pytest.raises(ServiceError) as mine:
        await adjust(tenant, await scorecard_of(tenant, period, own), 5, COMMENT, by=manager)
    assert (mine.value.code, mine.value.field) == (ErrorCode.INVALID, "scorecardId")

    # a card with too little data has no total to move
    empty = await scorecard_of(tenant, period, thin)
    assert empty.total is None
    with pytest.raises(ServiceError) as nothing:
        await adjust(tenant, empty, 5, COMMENT, by=manager)
    assert nothing.value.code == ErrorCode.CONFLICT

    # a closed period is frozen
    await close_period(tenant, period)
    with pytest.raises(ServiceError) as closed:
        await adjust(tenant, card, 5, COMMENT, by=manager)
    assert (closed.value.code, closed.value.field) == (ErrorCode.CONFLICT, "period")
    assert (await scorecard_of(tenant, period, scored)).total == card.total


async def test_another_tenants_scorecard_is_not_found() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(other, level="mid")
    (theirs,) = await _scored(other, (person, 9, 1))
    with pytest.raises(ServiceError) as missing:
        await adjust(tenant, theirs.id, 5, COMMENT, by=await _manager(tenant))
    assert (missing.value.code, missing.value.field) == (ErrorCode.NOT_FOUND, "scorecardId")
    assert (await scorecard_of(other, *(await _period_and_person(other, theirs)))).adjustment == 0
