"""Capability matching against hand-computed predictions: skills and open load decide who
fits, the deadline and the quality bar decide who is feasible, small samples are shrunk
toward the level, the earliest feasible date, the unit subtree, a second tenant, input
checks and a statement count that does not grow with the candidates."""

from __future__ import annotations

import dataclasses
import math
import statistics
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Any
from uuid import uuid4

import pytest

from domain.people.models import Employee, EmployeeStatus
from domain.skills.models import Skill
from domain.work.matching import (
    CONFIDENCE,
    DEFECT_KIND,
    PACE_KIND,
    Candidate,
    MatchRequest,
    MatchResult,
    SkillNeed,
    check_request,
    earliest_feasible_date,
    match_candidates,
)
from domain.work.models import WorkItem, WorkItemAssignee, WorkStatus
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_indicators import record_facts
from tests.factories_records import create_employee, create_org_unit, create_skill, set_skill

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
TODAY = NOW.date()
DELIVERED = datetime(2026, 9, 15, 9, tzinfo=UTC)  # within the twelve months before NOW
STEADY = (0.8, 1.0, 1.25, 1.0, 1.0)  # days per point around 1, ln-symmetric


async def _engineer(
    tenant: Tenant,
    skill: Skill | None,
    *,
    skill_level: int = 4,
    level: str = "senior",
    org_unit: Any = None,
    paces: tuple[float, ...] = (),
    defects: tuple[int, ...] = (),
    status: EmployeeStatus = EmployeeStatus.ACTIVE,
) -> Employee:
    """A person with one skill, delivered items at ``paces`` (days per point, 4 points
    each) and defect counts of delivered items."""
    person = await create_employee(tenant, level=level, org_unit=org_unit, status=status)
    if skill is not None:
        await set_skill(tenant, person, skill, skill_level)
    if paces:
        rows = [{"value": pace * 4, "denominator": 4.0, "at": DELIVERED} for pace in paces]
        await record_facts(tenant, person, PACE_KIND, rows)
    if defects:
        rows = [{"value": float(count), "at": DELIVERED} for count in defects]
        await record_facts(tenant, person, DEFECT_KIND, rows)
    return person


async def _assign(
    tenant: Tenant,
    person: Employee,
    size: float | None,
    *,
    share: float = 1.0,
    status: WorkStatus = WorkStatus.IN_PROGRESS,
) -> None:
    """Work on ``person``'s plate, written directly: the work item service is not ours."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        item = await WorkItem.create(
            tenant_id=tid,
            kind="requirement",
            title="Earlier work",
            size=size,
            status=status,
            requested_at=NOW - timedelta(days=30),
        )
        await WorkItemAssignee.create(
            tenant_id=tid, work_item_id=item.id, employee_id=person.id, share=share
        )


def _request(skill: Skill, *, min_level: int = 3, days: int = 10, **more: Any) -> MatchRequest:
    values: dict[str, Any] = {"size": 5.0, "now": NOW, **more}
    return MatchRequest(
        skills=(SkillNeed(skill.id, min_level),), deadline=TODAY + timedelta(days=days), **values
    )


async def _match(tenant: Tenant, request: MatchRequest) -> MatchResult:
    async with tenant_transaction(tenant_id(tenant)):
        return await match_candidates(tenant_id(tenant), request)


def _by_person(result: MatchResult) -> dict[Any, Candidate]:
    return {candidate.employee_id: candidate for candidate in result.candidates}


async def test_only_the_senior_with_room_before_the_deadline_is_feasible() -> None:
    # given: two seniors with the skill at 4 and the same history; one carries 40 points
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Rust")
    free = await _engineer(tenant, skill, paces=STEADY)
    loaded = await _engineer(tenant, skill, paces=STEADY)
    await _assign(tenant, loaded, 60.0, share=0.5)  # 30
    await _assign(tenant, loaded, 9.5, status=WorkStatus.NEW)  # 9.5
    await _assign(tenant, loaded, None, share=0.5, status=WorkStatus.PLANNED)  # unsized: 1 x 0.5
    await _assign(tenant, loaded, 50.0, status=WorkStatus.DELIVERED)  # done: not load
    await _assign(tenant, free, 20.0, status=WorkStatus.CANCELLED)  # dropped: not load
    # a junior below the level asked for, a senior without the skill (whose history still
    # counts for the level), and a senior who left
    junior = await _engineer(tenant, skill, skill_level=2, level="junior", paces=STEADY)
    unskilled = await _engineer(tenant, None, paces=STEADY)
    gone = await _engineer(tenant, skill, paces=(9.0,) * 5, status=EmployeeStatus.LEFT)
    # when: 5 points due in 10 days
    result = await _match(tenant, _request(skill))
    # then
    assert [c.employee_id for c in result.candidates] == [free.id, loaded.id]
    assert {junior.id, unskilled.id, gone.id}.isdisjoint(_by_person(result))
    first, second = result.candidates
    assert first.feasible
    assert first.finish_probability is not None
    assert first.finish_probability > 0.99
    assert first.open_load == 0.0
    assert first.skill_levels == {skill.id: 4}
    # three seniors with the same history: the level figure is theirs, about 1 day a point
    assert (first.pace.n, first.pace.baseline_n) == (5, 3)
    assert first.pace.value == pytest.approx(1.0)
    assert first.pace.baseline == pytest.approx(1.0)
    assert first.predicted_cycle_days == pytest.approx(5.0)
    assert first.proposed_cycle_days == pytest.approx(5.0)
    assert not second.feasible
    assert second.open_load == pytest.approx(40.0)
    assert second.predicted_cycle_days == pytest.approx(45.0)
    assert second.finish_probability is not None
    assert second.finish_probability < 0.01
    assert second.proposed_cycle_days == 10.0  # no later than the deadline
    assert any("likely to finish by the deadline" in r for r in second.reasons_en)
    assert any("按期完成概率" in r for r in second.reasons_zh)
    assert len(second.reasons_en) == len(second.reasons_zh)
    assert result.earliest_feasible_date is None  # someone is feasible
    assert result.confidence == CONFIDENCE


async def test_when_nobody_fits_the_earliest_feasible_date_is_given() -> None:
    # given: two seniors who each delivered at 1, 2 and 4 days per point; one carries 5
    # points. ln-paces 0, ln 2, 2 ln 2: mean ln 2, sample variance (ln 2)^2 for both, so the
    # level's center is ln 2, sigma is ln 2, and with equal means t^2 = 0: both read ln 2.
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Go")
    free = await _engineer(tenant, skill, paces=(1.0, 2.0, 4.0))
    loaded = await _engineer(tenant, skill, paces=(1.0, 2.0, 4.0))
    await _assign(tenant, loaded, 5.0)
    # when: 5 points due in 5 days
    request = _request(skill, days=5)
    result = await _match(tenant, request)
    # then: P(free done in 5 days) = Phi((ln(5 / 5) - ln 2) / ln 2) = Phi(-1)
    assert not any(c.feasible for c in result.candidates)
    by_person = _by_person(result)
    assert by_person[free.id].finish_probability == pytest.approx(NormalDist().cdf(-1.0))
    assert by_person[free.id].pace.value == pytest.approx(2.0)
    # the free one needs exp(ln 2 + z0.8 ln 2) x 5 = 2^(1 + 0.8416) x 5 = 17.92 days, so
    # day 18; the loaded one twice that
    needed = math.ceil(2 ** (1 + NormalDist().inv_cdf(CONFIDENCE)) * 5)
    assert needed == 18
    assert result.earliest_feasible_date == TODAY + timedelta(days=needed)
    # and on its own, whatever deadline was asked for (even a passed one)
    passed = dataclasses.replace(request, deadline=TODAY - timedelta(days=3))
    async with tenant_transaction(tenant_id(tenant)):
        alone = await earliest_feasible_date(tenant_id(tenant), passed)
    assert alone == TODAY + timedelta(days=18)


async def test_a_history_without_spread_finishes_exactly_on_the_day_its_pace_says() -> None:
    # given: a senior who always took exactly 1 day a point: sigma 0
    tenant = await create_tenant()
    skill = await create_skill(tenant, "SQL")
    person = await _engineer(tenant, skill, paces=(1.0, 1.0, 1.0))
    # when: 7 points due in 7 days, then in 6
    on_the_day = (await _match(tenant, _request(skill, days=7, size=7.0))).candidates[0]
    a_day_short = await _match(tenant, _request(skill, days=6, size=7.0))
    # then
    assert (on_the_day.feasible, on_the_day.finish_probability) == (True, 1.0)
    (short,) = a_day_short.candidates
    assert (short.employee_id, short.feasible, short.finish_probability) == (person.id, False, 0.0)
    assert a_day_short.earliest_feasible_date == TODAY + timedelta(days=7)


async def test_the_quality_bar_excludes_a_fast_person_with_many_defects() -> None:
    # given: a fast senior with 3 defects an item, a slower careful one, and a mid-level
    # person whose level has no defect history at all
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Kotlin")
    fast = await _engineer(tenant, skill, paces=(0.5,) * 5, defects=(2, 3, 4, 3, 3))
    careful = await _engineer(tenant, skill, paces=(1.0,) * 5, defects=(0, 0, 1, 0, 0))
    unknown = await _engineer(tenant, skill, level="mid", paces=(1.0,) * 5)
    # when: without a bar the fast one leads
    unbarred = await _match(tenant, _request(skill, days=20))
    barred = await _match(tenant, _request(skill, days=20, max_defect_rate=1.0))
    # then
    assert unbarred.candidates[0].employee_id == fast.id
    assert all(c.feasible for c in unbarred.candidates)
    assert [c.employee_id for c in barred.candidates][-1] == fast.id
    by_person = _by_person(barred)
    excluded = by_person[fast.id]
    assert not excluded.feasible
    # own mean 3.0, the level's median (3.0 + 0.2) / 2 = 1.6, pulled only slightly toward it
    rate = excluded.predicted_defect_rate
    assert (rate.n, rate.baseline_n) == (5, 2)
    assert rate.baseline == pytest.approx(1.6)
    assert rate.value is not None
    assert 1.6 < rate.value < 3.0
    assert excluded.proposed_defect_rate == rate.value
    assert any("defects per item" in r for r in excluded.reasons_en)
    assert any("缺陷" in r for r in excluded.reasons_zh)
    assert by_person[careful.id].feasible
    # an unknown defect rate passes the bar, and says so
    passed = by_person[unknown.id]
    assert passed.feasible
    assert passed.predicted_defect_rate.value is None
    assert "no defect history: quality bar not checked" in passed.reasons_en


async def test_the_unit_subtree_restricts_the_candidates() -> None:
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Java")
    company = await create_org_unit(tenant, name="R&D")
    platform = await create_org_unit(tenant, name="Platform", parent=company)
    payments = await create_org_unit(tenant, name="Payments", parent=platform)
    sales = await create_org_unit(tenant, name="Sales tools", parent=company)
    in_unit = await _engineer(tenant, skill, org_unit=platform)
    below = await _engineer(tenant, skill, org_unit=payments)
    await _engineer(tenant, skill, org_unit=sales)
    await _engineer(tenant, skill)  # in no unit
    # when
    result = await _match(tenant, _request(skill, org_unit_id=platform.id))
    # then: the unit and what lies below it, nobody else
    assert {c.employee_id: c.org_unit_id for c in result.candidates} == {
        in_unit.id: platform.id,
        below.id: payments.id,
    }
    # nobody has history: no pace, not feasible, and no date can be promised
    for candidate in result.candidates:
        assert candidate.pace.value is None
        assert not candidate.feasible
        assert "no delivery history" in candidate.reasons_en
        assert "无交付历史" in candidate.reasons_zh
    assert result.earliest_feasible_date is None


async def test_one_fact_is_pulled_toward_the_level_and_none_reads_the_level() -> None:
    # given: three seniors with 5 deliveries around 1, 2 and 4 days a point, one with a
    # single delivery at 8, and one with none
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Python")
    for factor in (1.0, 2.0, 4.0):
        await _engineer(tenant, skill, paces=tuple(factor * pace for pace in STEADY))
    single = await _engineer(tenant, skill, paces=(8.0,))
    newcomer = await _engineer(tenant, skill)
    # when
    by_person = _by_person(await _match(tenant, _request(skill, days=60)))
    # then: the level's center is the median of the four ln-means 0, ln 2, ln 4, ln 8
    within = statistics.variance([math.log(pace) for pace in STEADY])  # the same for all three
    means = [0.0, math.log(2), math.log(4), math.log(8)]
    center = statistics.median(means)
    between = statistics.variance(means) - statistics.fmean([within / 5] * 3 + [within])
    weight = within / (between + within)  # B = (s^2 / n) / (t^2 + s^2 / n), n = 1
    expected = math.exp(weight * center + (1 - weight) * math.log(8))
    shrunk = by_person[single.id].pace
    assert (shrunk.n, shrunk.baseline_n) == (1, 4)
    assert shrunk.baseline == pytest.approx(math.exp(center))  # sqrt(8), about 2.83
    assert shrunk.value is not None
    assert math.exp(center) < shrunk.value < 8.0
    assert shrunk.value == pytest.approx(expected)
    assert any("n = 1" in r for r in by_person[single.id].reasons_en)
    fresh = by_person[newcomer.id].pace
    assert fresh.n == 0
    assert fresh.value == pytest.approx(math.exp(center))
    assert "no own delivery history: level baseline used" in by_person[newcomer.id].reasons_en


async def test_another_tenants_people_and_facts_never_appear() -> None:
    # given: the same skill name, level and far slower history in another tenant
    tenant = await create_tenant()
    other = await create_tenant()
    skill = await create_skill(tenant, "C++")
    foreign_skill = await create_skill(other, "C++")
    seasoned = await _engineer(tenant, skill, paces=(1.0,) * 5)
    fresh = await _engineer(tenant, skill)
    foreign = await _engineer(other, foreign_skill, paces=(10.0,) * 5)
    # when
    ours = await _match(tenant, _request(skill))
    with_our_skill = await _match(other, _request(skill))
    theirs = await _match(other, _request(foreign_skill))
    # then: our level's figure is ours alone
    by_person = _by_person(ours)
    assert set(by_person) == {seasoned.id, fresh.id}
    assert by_person[fresh.id].pace.baseline == pytest.approx(1.0)
    assert by_person[fresh.id].pace.baseline_n == 1
    assert with_our_skill.candidates == ()
    assert [c.employee_id for c in theirs.candidates] == [foreign.id]
    assert theirs.candidates[0].pace.value == pytest.approx(10.0)


_VALID = MatchRequest(
    skills=(SkillNeed(uuid4(), 3),), size=5.0, deadline=TODAY + timedelta(days=10), now=NOW
)
_SKILL = _VALID.skills[0].skill_id


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"skills": ()}, "skills"),
        ({"skills": (SkillNeed(_SKILL, 3), SkillNeed(_SKILL, 4))}, "skills"),
        ({"skills": (SkillNeed(_SKILL, 0),)}, "minLevel"),
        ({"skills": (SkillNeed(_SKILL, 6),)}, "minLevel"),
        ({"size": 0.0}, "size"),
        ({"size": -2.0}, "size"),
        ({"size": math.nan}, "size"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"deadline": TODAY - timedelta(days=1)}, "deadline"),
        ({"max_defect_rate": -0.5}, "maxDefectRate"),
        ({"now": datetime(2026, 11, 20, 9)}, "now"),  # a naive time is refused
    ],
)
def test_check_request_names_the_field_at_fault(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ServiceError) as raised:
        check_request(dataclasses.replace(_VALID, **changes))
    assert (raised.value.code, raised.value.field) == (ErrorCode.INVALID, field)
    assert raised.value.message_zh


def test_check_request_accepts_a_sound_request_and_lists_every_problem() -> None:
    check_request(_VALID)
    check_request(dataclasses.replace(_VALID, deadline=TODAY, limit=100, max_defect_rate=0.0))
    with pytest.raises(ServiceError) as raised:
        check_request(dataclasses.replace(_VALID, size=0.0, limit=0))
    assert [problem.field for problem in raised.value.details] == ["size", "limit"]


async def test_matching_refuses_bad_input_before_reading() -> None:
    tenant = await create_tenant()
    async with tenant_transaction(tenant_id(tenant)) as tx:
        before = tx.statements
        with pytest.raises(ServiceError) as raised:
            await match_candidates(tenant_id(tenant), dataclasses.replace(_VALID, skills=()))
        assert tx.statements == before
    assert raised.value.field == "skills"


async def test_matching_costs_the_same_statements_for_2_and_10_candidates() -> None:
    tenant = await create_tenant()
    skill = await create_skill(tenant, "TypeScript")
    levels = ("junior", "mid", "senior", "principal")

    async def add(count: int) -> None:
        for i in range(count):
            person = await _engineer(
                tenant, skill, level=levels[i % 4], paces=STEADY, defects=(0, 1, 0, 0, 1)
            )
            await _assign(tenant, person, 3.0)

    async def cost() -> tuple[int, int]:
        request = _request(skill, limit=100)
        async with tenant_transaction(tenant_id(tenant)) as tx:
            before = tx.statements
            result = await match_candidates(tenant_id(tenant), request)
            await earliest_feasible_date(tenant_id(tenant), request)
            return tx.statements - before, len(result.candidates)

    await add(2)
    few = await cost()
    await add(8)
    many = await cost()
    # two statements each call: the qualified people with their load, then their facts
    assert few == (4, 2)
    assert many == (4, 10)
