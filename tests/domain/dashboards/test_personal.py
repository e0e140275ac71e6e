"""The personal dashboard: a person's scorecards, oldest first, against the spread of the
same period's totals at the same level (others only), suppressed when few; the person only
within reach; a second tenant never counted."""

from __future__ import annotations

from datetime import date

import pytest

from domain.dashboards.personal import PersonalPoint, person_in_reach, personal_points
from domain.dashboards.scope import Audience
from domain.indicators.models import Period, PeriodStatus
from domain.people.models import Employee
from domain.people.service import EVERYONE, Visibility
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import tenant_id
from tests.factories_dashboards_school import create_school, create_scorecard, create_teacher
from tests.factories_indicators import create_period

ADMIN = Audience(EVERYONE, sees_small_groups=True, min_group_size=3)
STAFF = Audience(EVERYONE, sees_small_groups=False, min_group_size=3)


async def _history(tenant: Tenant) -> tuple[Employee, list[Period]]:
    """A teacher, junior in the autumn term and senior since, with colleagues' cards."""
    person = await create_teacher(tenant, level="senior", name="Me")
    autumn = await create_period(
        tenant, code="2025-T1", kind="term", starts_on=date(2025, 9, 1),
        ends_on=date(2026, 1, 31),
    )  # fmt: skip
    spring = await create_period(
        tenant, code="2026-T2", kind="term", starts_on=date(2026, 2, 1),
        ends_on=date(2026, 7, 15),
    )  # fmt: skip
    later = await create_period(
        tenant, code="2026-T1", kind="term", starts_on=date(2026, 9, 1),
        ends_on=date(2027, 1, 31),
    )  # fmt: skip
    async with tenant_transaction(tenant_id(tenant)):
        await Period.filter(id=autumn.id).update(status=PeriodStatus.CLOSED)
    # autumn: scored as a junior, against the juniors 40, 60, 80 (and not the seniors)
    await create_scorecard(tenant, autumn, person, 55.0, level="junior")
    for total in (40.0, 60.0, 80.0):
        await create_scorecard(tenant, autumn, await create_teacher(tenant, level="junior"), total)
    await create_scorecard(tenant, autumn, await create_teacher(tenant), 99.0)
    # spring: senior, against 60, 70, 80, 90, 100; someone with too little data has no total
    await create_scorecard(tenant, spring, person, 85.0)
    spread: tuple[float | None, ...] = (60.0, 70.0, 80.0, 90.0, 100.0, None)
    for maybe in spread:
        await create_scorecard(tenant, spring, await create_teacher(tenant), maybe)
    # later: too little data to score, and only two other seniors scored
    await create_scorecard(tenant, later, person, None)
    for total in (50.0, 60.0):
        await create_scorecard(tenant, later, await create_teacher(tenant), total)
    return person, [autumn, spring, later]


async def _points(
    tenant: Tenant, person: Employee, audience: Audience, **period: date
) -> list[PersonalPoint]:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid) as tx:
        before = tx.statements
        points = await personal_points(tid, person.id, audience, **period)
        assert tx.statements - before == 1
    return points


async def test_scorecards_oldest_first_against_their_levels_spread() -> None:
    tenant, other = await create_school(), await create_school()
    person, (autumn, spring, later) = await _history(tenant)
    await _history(other)  # the same history in a second tenant: never counted

    points = await _points(tenant, person, ADMIN)

    assert [(p.period_id, p.period_code, p.status, p.level) for p in points] == [
        (autumn.id, "2025-T1", "closed", "junior"),
        (spring.id, "2026-T2", "open", "senior"),
        (later.id, "2026-T1", "open", "senior"),
    ]
    first, second, third = points
    assert (first.starts_on, first.ends_on) == (date(2025, 9, 1), date(2026, 1, 31))
    assert (first.total_points, first.level_n) == (55.0, 3)
    assert (first.level_p25, first.level_median, first.level_p75) == pytest.approx((50, 60, 70))
    # percentile_cont over 60, 70, 80, 90, 100: positions 1, 2 and 3 of 0-4
    assert (second.total_points, second.level_n, second.insufficient_data) == (85.0, 5, False)
    assert (second.level_p25, second.level_median, second.level_p75) == pytest.approx((70, 80, 90))
    assert (third.total_points, third.insufficient_data) == (None, True)
    assert (third.level_p25, third.level_median, third.level_p75) == pytest.approx((52.5, 55, 57.5))
    assert third.level_n == 2


async def test_a_levels_spread_over_fewer_than_the_minimum_is_withheld_but_from_admins() -> None:
    tenant = await create_school()
    person, _ = await _history(tenant)

    shown = await _points(tenant, person, STAFF)

    assert [(p.level_median, p.level_suppressed) for p in shown[:2]] == [(60, False), (80, False)]
    later = shown[2]
    assert (later.level_p25, later.level_median, later.level_p75) == (None, None, None)
    assert (later.level_n, later.level_suppressed) == (2, True)
    assert (await _points(tenant, person, ADMIN))[2].level_median == pytest.approx(55)


async def test_the_periods_overlapping_the_range() -> None:
    tenant = await create_school()
    person, _ = await _history(tenant)

    spring_on = await _points(tenant, person, ADMIN, starts_on=date(2026, 1, 31))
    until_spring = await _points(tenant, person, ADMIN, ends_on=date(2026, 2, 1))
    inside = await _points(
        tenant, person, ADMIN, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31)
    )

    assert [p.period_code for p in spring_on] == ["2025-T1", "2026-T2", "2026-T1"]
    assert [p.period_code for p in until_spring] == ["2025-T1", "2026-T2"]
    assert [p.period_code for p in inside] == ["2026-T2"]


async def test_the_person_only_within_reach_and_tenant() -> None:
    tenant, other = await create_school(), await create_school()
    person = await create_teacher(tenant, level="senior", name="Me")
    colleague = await create_teacher(tenant)
    stranger = await create_teacher(other)
    myself = Visibility(unit_ids=frozenset(), employee_ids=frozenset({person.id}))
    tid = tenant_id(tenant)

    async with tenant_transaction(tid):
        found = await person_in_reach(tid, person.id, myself)
        assert await person_in_reach(tid, colleague.id, myself) is None
        assert await person_in_reach(tid, stranger.id, EVERYONE) is None
        assert await person_in_reach(tid, colleague.id, EVERYONE) is not None

    assert found is not None
    assert (found.id, found.name, found.level) == (person.id, "Me", "senior")
