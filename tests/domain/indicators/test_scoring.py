"""The scoring engine against hand-computed scorecards: fixed and baseline-relative targets,
redistribution of missing weights, the demand-spike rule, watch runs, idempotence, closed
periods and a second tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.feedback.models import FeedbackSource
from domain.indicators import repository as indicator_repo
from domain.indicators.models import (
    LevelBaseline,
    LineStatus,
    Period,
    Scorecard,
    ScorecardLine,
    ScorecardStatus,
    TargetAdjustment,
)
from domain.indicators.scoring import scoring_service
from domain.indicators.service import indicator_sets, period_service
from domain.people.models import Employee
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_indicators import (
    create_period,
    lines_of,
    on_time,
    recompute,
    record_facts,
    scorecard_of,
)
from tests.factories_records import create_employee, create_org_unit, give_feedback

BEFORE = datetime(2026, 3, 10, 9, tzinfo=UTC)  # in the baseline window of the quarter


async def _lines(tenant: Tenant, period: Period, person: Employee) -> dict[str, ScorecardLine]:
    return await lines_of(tenant, await scorecard_of(tenant, period, person))


async def test_fixed_targets_score_on_the_piecewise_curve_and_missing_weight_is_redistributed() -> (
    None
):
    # given: 9 of 10 items on time, 4 of 5 answers within 24 h, nothing else
    tenant = await create_tenant()
    person = await create_employee(tenant, level="senior")
    await record_facts(tenant, person, "due_item", on_time(9, 1))
    await record_facts(
        tenant,
        person,
        "feasibility_answer",
        [{"value": 2.0}, {"value": 5.0}, {"value": 20.0}, {"value": 23.9}, {"value": 30.0}],
    )
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then
    lines = await _lines(tenant, period, person)
    delivery = lines["on_time_delivery"]
    assert (delivery.status, delivery.actual, delivery.n) == (LineStatus.SCORED, 0.9, 10)
    # 0.9 lies halfway from target 0.85 to stretch 0.95: 100 -> 120 gives 110
    assert delivery.points == pytest.approx(110.0)
    assert delivery.achievement == pytest.approx(0.9 / 0.85)
    response = lines["response_24h"]
    assert (response.actual, response.n, response.limit) == (0.8, 5, 24.0)
    assert response.points == pytest.approx(80 + 20 * (0.8 - 0.75) / (0.9 - 0.75))
    # counts with no facts are zero, and zero is below their threshold
    assert (lines["tech_accumulation"].status, lines["tech_accumulation"].points) == (
        LineStatus.SCORED,
        0.0,
    )
    # no facts at all: not scored as zero, its weight goes to the others
    assert lines["cycle_time"].status == LineStatus.NO_DATA
    assert lines["cycle_time"].points is None
    scored = {"on_time_delivery": 15, "response_24h": 10, "tech_accumulation": 5}
    scored["knowledge_sharing"] = 8
    weight = sum(scored.values())
    for code, raw in scored.items():
        assert lines[code].effective_weight == pytest.approx(raw * 100 / weight)
    card = await scorecard_of(tenant, period, person)
    expected = (110.0 * 15 + response.points * 10) / weight  # type: ignore[operator]
    assert card.total == pytest.approx(expected)
    assert card.scored_weight == weight
    missing = {entry["indicator"] for entry in card.details["redistributed"]}
    assert missing == {
        "cycle_time",
        "escaped_defect_rate",
        "defects_per_item",
        "complaint_fix_72h",
        "meeting_resolution",
    }


async def test_too_few_facts_read_insufficient_data_with_their_n() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="mid")
    await record_facts(tenant, person, "due_item", on_time(3, 1))
    period = await create_period(tenant)
    await recompute(tenant, period)
    line = (await _lines(tenant, period, person))["on_time_delivery"]
    assert (line.status, line.n, line.actual, line.points) == (
        LineStatus.INSUFFICIENT_DATA,
        4,
        None,
        None,
    )
    assert line.raw_actual == 0.75


async def test_baseline_relative_targets_use_the_level_median_without_the_person() -> None:
    # given: three seniors whose past cycles per point were 4, 6 and 10 days
    tenant = await create_tenant()
    people = [await create_employee(tenant, level="senior") for _ in range(3)]
    for person, days in zip(people, (4.0, 6.0, 10.0), strict=True):
        history = [{"value": days * 2, "denominator": 2.0, "at": BEFORE}] * 5
        await record_facts(tenant, person, "requirement_delivered", history)
    # and this quarter each delivered 5 items at 5 days per point
    for person in people:
        now = [{"value": 10.0, "denominator": 2.0}] * 5
        await record_facts(tenant, person, "requirement_delivered", now)
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: each person's baseline is the median of the two others
    expected = {people[0].id: 8.0, people[1].id: 7.0, people[2].id: 5.0}
    for person in people:
        line = (await _lines(tenant, period, person))["cycle_time"]
        assert line.baseline == pytest.approx(expected[person.id])
        assert (line.baseline_kind, line.baseline_n) == ("level", 2)
        # target = 1.0 x baseline, threshold 1.2 x, stretch 0.85 x
        assert line.target == pytest.approx(expected[person.id])
        assert line.threshold == pytest.approx(1.2 * expected[person.id])
        assert line.stretch == pytest.approx(0.85 * expected[person.id])
        assert line.raw_actual == pytest.approx(5.0)
    async with tenant_transaction(tenant_id(tenant)):
        level = await LevelBaseline.get(period_id=period.id, indicator="cycle_time", level="senior")
    assert (level.value, level.people, level.facts) == (6.0, 3, 15)
    assert level.window_start == date(2025, 7, 1)


async def test_a_demand_spike_stretches_the_answer_limit_for_the_unit_and_says_why() -> None:
    # given: a team that usually gets 4 requests a quarter gets 12 this quarter
    tenant = await create_tenant()
    team = await create_org_unit(tenant, name="Payments")
    other = await create_org_unit(tenant, name="Search")
    busy = await create_employee(tenant, level="mid", org_unit=team)
    calm = await create_employee(tenant, level="mid", org_unit=other)
    usual = [
        {"value": 1.0, "at": datetime(year, month, 5, tzinfo=UTC)}
        for year, month in ((2025, 8), (2025, 11), (2026, 2), (2026, 5))
    ] * 4
    await record_facts(tenant, busy, "sales_request", usual)
    await record_facts(tenant, busy, "sales_request", [{"value": 1.0}] * 12)
    await record_facts(tenant, calm, "sales_request", usual)
    await record_facts(tenant, calm, "sales_request", [{"value": 1.0}] * 4)
    answers = [{"value": 30.0}] * 3 + [{"value": 10.0}] * 2
    await record_facts(tenant, busy, "feasibility_answer", answers)
    await record_facts(tenant, calm, "feasibility_answer", answers)
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: answers within 48 h count for the busy team, within 24 h for the other
    stretched = (await _lines(tenant, period, busy))["response_24h"]
    normal = (await _lines(tenant, period, calm))["response_24h"]
    assert (stretched.limit, stretched.actual) == (48.0, 1.0)
    assert (normal.limit, normal.actual) == (24.0, 0.4)
    (reason,) = stretched.adjustments
    assert reason["rule"] == "demand_spike"
    assert reason["inputs"]["incoming"] == 12
    assert reason["effect"] == {"limit": {"from": 24.0, "to": 48.0}}
    assert reason["inputs"]["usual"] == round(16 * 92 / 330, 2)  # 16 from Aug 5 to Jul 1
    assert "from 24 to 48" in reason["reasonEn"]
    assert "由 24 放宽到 48" in reason["reasonZh"]
    assert normal.adjustments == []
    async with tenant_transaction(tenant_id(tenant)):
        stored = await TargetAdjustment.filter(period_id=period.id)
    assert [(a.rule, a.org_unit_id) for a in stored] == [("demand_spike", team.id)]


async def test_three_months_worse_than_baseline_is_only_a_watch() -> None:
    tenant = await create_tenant()
    peers = [await create_employee(tenant, level="junior") for _ in range(2)]
    person = await create_employee(tenant, level="junior")
    for peer in peers:
        await record_facts(
            tenant, peer, "due_item", [{**row, "at": BEFORE} for row in on_time(9, 1)]
        )
        await record_facts(tenant, peer, "due_item", on_time(9, 1))
    monthly = []
    for month in (7, 8, 9):
        at = datetime(2026, month, 12, tzinfo=UTC)
        monthly += [{**row, "at": at} for row in on_time(1, 1)]
    await record_facts(tenant, person, "due_item", monthly)
    period = await create_period(tenant)
    await recompute(tenant, period)
    line = (await _lines(tenant, period, person))["on_time_delivery"]
    assert line.watch is True
    assert line.points == 0.0  # 50 % is below the 70 % threshold, not because of the watch
    assert not (await _lines(tenant, period, peers[0]))["on_time_delivery"].watch


async def test_a_term_starting_within_a_month_splits_that_month_between_window_and_term() -> None:
    # given: a term from 20 Feb to 10 Jul; five escaped defects on 5 Feb (before the term),
    # five caught on 25 Feb (in it), and one escaped on 15 Jul (after it). The escape rate
    # keeps 12 months apart for its sustained-quality rule, February among them.
    tenant = await create_tenant()
    person = await create_employee(tenant, level="junior")
    escaped, caught = {"value": 1.0, "denominator": 1.0}, {"value": 0.0, "denominator": 1.0}
    rows = (
        [{**escaped, "at": datetime(2026, 2, 5, tzinfo=UTC)}] * 5
        + [{**caught, "at": datetime(2026, 2, 25, tzinfo=UTC)}] * 5
        + [{**escaped, "at": datetime(2026, 7, 15, tzinfo=UTC)}]
    )
    await record_facts(tenant, person, "defect", rows)
    period = await create_period(
        tenant, code="2026-T1", kind="term", starts_on=date(2026, 2, 20), ends_on=date(2026, 7, 10)
    )
    # when
    await recompute(tenant, period)
    # then: the term counts its five, the window the five before it
    line = (await _lines(tenant, period, person))["escaped_defect_rate"]
    assert (line.n, line.facts, line.raw_actual) == (5, 5, 0.0)
    async with tenant_transaction(tenant_id(tenant)):
        baseline = await LevelBaseline.get(
            period_id=period.id, indicator="escaped_defect_rate", level="junior"
        )
    assert baseline.facts == 5


async def _snapshot(tenant: Tenant, period: Period) -> list[tuple[Any, ...]]:
    async with tenant_transaction(tenant_id(tenant)):
        cards = await Scorecard.filter(period_id=period.id).order_by("employee_id")
        by_card = await indicator_repo.lines_of(tenant_id(tenant), [c.id for c in cards])
        lines = [line for card in cards for line in by_card[card.id]]
        baselines = await LevelBaseline.filter(period_id=period.id).order_by("indicator", "level")
    return (
        [(c.id, c.employee_id, c.total, c.percentile, c.details) for c in cards]
        + [(x.indicator, x.actual, x.points, x.effective_weight, x.baseline) for x in lines]
        + [(b.indicator, b.level, b.value, b.people) for b in baselines]
    )


async def test_recomputing_twice_gives_identical_scorecards_and_closing_freezes_them() -> None:
    tenant = await create_tenant()
    people = [await create_employee(tenant, level="senior") for _ in range(4)]
    for index, person in enumerate(people):
        await record_facts(tenant, person, "due_item", on_time(5 + index, 2))
    period = await create_period(tenant)
    await recompute(tenant, period)
    first = await _snapshot(tenant, period)
    await recompute(tenant, period)
    assert await _snapshot(tenant, period) == first
    # percentiles within the level: 5/7, 6/8, 7/9, 8/10 on time rank 0, 33, 67, 100
    cards = {c[1]: c[3] for c in first if isinstance(c[1], UUID)}
    assert [round(cards[p.id]) for p in people] == [0, 33, 67, 100]
    # when the period closes, nothing recomputes it and new facts change nothing
    async with tenant_transaction(tenant_id(tenant)):
        await period_service.close(tenant_id(tenant), period.id)
    await record_facts(tenant, people[0], "due_item", on_time(10, 0))
    with pytest.raises(ServiceError) as caught:
        await recompute(tenant, period)
    assert caught.value.code == ErrorCode.CONFLICT
    assert await _snapshot(tenant, period) == first


async def test_a_recomputation_rewrites_only_the_cards_whose_figures_changed() -> None:
    tenant = await create_tenant()
    senior = await create_employee(tenant, level="senior")
    junior = await create_employee(tenant, level="junior")
    for person in (senior, junior):
        await record_facts(tenant, person, "due_item", on_time(6, 2))
    period = await create_period(tenant)
    await recompute(tenant, period)
    first = {p.id: await scorecard_of(tenant, period, p) for p in (senior, junior)}
    # when nothing changed, nothing is written
    await recompute(tenant, period)
    for person in (senior, junior):
        unchanged = await scorecard_of(tenant, period, person)
        assert (unchanged.computed_at, unchanged.digest) == (
            first[person.id].computed_at,
            first[person.id].digest,
        )
    # when one person's facts change, only their card is rewritten
    await record_facts(tenant, senior, "due_item", on_time(4, 0))
    await recompute(tenant, period)
    rewritten = await scorecard_of(tenant, period, senior)
    assert rewritten.computed_at > first[senior.id].computed_at
    assert rewritten.digest != first[senior.id].digest
    assert (await _lines(tenant, period, senior))["on_time_delivery"].n == 12
    kept = await scorecard_of(tenant, period, junior)
    assert kept.computed_at == first[junior.id].computed_at


async def test_scores_never_mix_tenants() -> None:
    a, b = await create_tenant(), await create_tenant()
    person_a = await create_employee(a, level="senior")
    person_b = await create_employee(b, level="senior")
    await record_facts(a, person_a, "due_item", on_time(10, 0))
    await record_facts(b, person_b, "due_item", on_time(0, 10))
    period_a, period_b = await create_period(a), await create_period(b)
    await recompute(a, period_a)
    await recompute(b, period_b)
    assert (await _lines(a, period_a, person_a))["on_time_delivery"].actual == 1.0
    assert (await _lines(b, period_b, person_b))["on_time_delivery"].actual == 0.0
    async with tenant_transaction(tenant_id(a)):
        assert await Scorecard.filter(period_id=period_b.id).count() == 0
        with pytest.raises(ServiceError):
            await scoring_service.recompute(tenant_id(a), period_b.id)


async def test_people_without_a_level_or_gone_are_not_scored() -> None:
    tenant = await create_tenant()
    unranked = await create_employee(tenant, level=None)
    period = await create_period(tenant)
    await recompute(tenant, period)
    async with tenant_transaction(tenant_id(tenant)):
        assert not await Scorecard.filter(employee_id=unranked.id).exists()


async def test_sustained_better_quality_relaxes_the_quality_target_and_says_why() -> None:
    # given: peers let 3 in 10 defects escape; this person lets none of 30 a month escape
    tenant = await create_tenant()
    peers = [await create_employee(tenant, level="senior") for _ in range(2)]
    person = await create_employee(tenant, level="senior")
    escaped = [{"value": 1.0, "denominator": 1.0, "at": BEFORE}] * 3
    caught = [{"value": 0.0, "denominator": 1.0, "at": BEFORE}] * 7
    for peer in peers:
        await record_facts(tenant, peer, "defect", escaped + caught)
    clean = []
    for year, month in [(2025, m) for m in (10, 11, 12)] + [(2026, m) for m in range(1, 10)]:
        at = datetime(year, month, 15, tzinfo=UTC)
        clean += [{"value": 0.0, "denominator": 1.0, "at": at}] * 30
    await record_facts(tenant, person, "defect", clean)
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: baseline 0.3 (the peers), target 0.3 x 1.25 once the chart signals
    line = (await _lines(tenant, period, person))["escaped_defect_rate"]
    assert line.baseline == pytest.approx(0.3)
    assert line.target == pytest.approx(0.375)
    assert line.threshold == pytest.approx(0.3 * 1.5 * 1.25)
    (relaxed,) = line.adjustments
    assert relaxed["rule"] == "sustained_quality"
    assert relaxed["inputs"]["side"] == "below"
    assert relaxed["inputs"]["points"] == 12
    assert relaxed["effect"]["target"] == {"from": pytest.approx(0.3), "to": pytest.approx(0.375)}
    assert "leaving room to explore" in relaxed["reasonEn"]
    assert line.points == 120.0


async def test_normalised_gain_is_averaged_over_classes_through_sql() -> None:
    # given: one class from 40 to 44 (g = 0.067), one from 80 to 88 (g = 0.40)
    tenant = await create_tenant(template="school_teaching")
    teacher = await create_employee(tenant, level="senior")
    at = datetime(2026, 10, 10, tzinfo=UTC)
    await record_facts(
        tenant,
        teacher,
        "class_test",
        [
            {"value": 44.0, "attributes": {"pre": 40}, "at": at},
            {"value": 88.0, "attributes": {"pre": 80}, "at": at},
        ],
    )
    async with tenant_transaction(tenant_id(tenant)):
        period = await period_service.create(
            tenant_id(tenant),
            code="2026-T1",
            kind="term",
            starts_on=date(2026, 9, 1),
            ends_on=date(2027, 1, 31),
        )
    # when
    await recompute(tenant, period)
    # then
    line = (await _lines(tenant, period, teacher))["score_gain"]
    assert line.n == 2
    assert line.actual == pytest.approx((4 / 60 + 8 / 20) / 2)
    # no past classes yet to set a starting-band target against: not scored, not zero
    assert (line.status, line.baseline_kind, line.points) == (LineStatus.NO_BASELINE, "band", None)


async def test_the_school_pack_blends_review_ratings_from_three_responses_up() -> None:
    tenant = await create_tenant(template="school_teaching")
    rated = await create_employee(tenant, level="senior")
    unrated = await create_employee(tenant, level="senior")
    for person in (rated, unrated):
        at = datetime(2026, 10, 10, tzinfo=UTC)
        await record_facts(tenant, person, "homework_graded", [{"value": 5.0, "at": at}] * 5)
    for source in (FeedbackSource.STUDENT, FeedbackSource.PARENT, FeedbackSource.STUDENT):
        await give_feedback(
            tenant, rated, source=source, ratings={"teaching_quality": 4}, anonymous=True
        )
    await give_feedback(tenant, unrated, source=FeedbackSource.PARENT, ratings={"care": 5})
    async with tenant_transaction(tenant_id(tenant)):
        period = await period_service.create(
            tenant_id(tenant),
            code="2026-T1",
            kind="term",
            starts_on=date(2026, 9, 1),
            ends_on=date(2027, 1, 31),
        )
    await recompute(tenant, period)
    card = await scorecard_of(tenant, period, rated)
    # homework 100 % within 24 h: stretch, 120 points, the only scored indicator
    assert card.indicator_total == pytest.approx(120.0)
    # a 4 on the 1-5 scale is 3/4 of the way to 120 points
    assert card.review_points == pytest.approx(90.0)
    assert card.total == pytest.approx(0.8 * 120 + 0.2 * 90)
    assert card.details["blend"]["applied"] is True
    other = await scorecard_of(tenant, period, unrated)
    assert (other.review_points, other.review_responses) == (None, 1)
    assert other.total == pytest.approx(120.0)
    assert other.details["blend"]["applied"] is False


async def test_a_person_baseline_shrinks_their_own_history_toward_the_level() -> None:
    # given: cycle time held to each person's own history instead of the level's
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        current = await indicator_sets.current(tid)
        definition = current.definition.model_dump(mode="json")
        definition["indicators"][0]["target"]["baseline"] = "person"
        await indicator_sets.save(tid, base_version=current.version, definition=definition, note="")
    people = [await create_employee(tenant, level="senior") for _ in range(3)]
    spread = {0: (3.0, 5.0), 1: (5.0, 7.0), 2: (9.0, 11.0)}
    for index, person in enumerate(people):
        low, high = spread[index]
        history = [{"value": value, "denominator": 1.0, "at": BEFORE} for value in (low, high) * 3]
        await record_facts(tenant, person, "requirement_delivered", history)
        await record_facts(
            tenant, person, "requirement_delivered", [{"value": 6.0, "denominator": 1.0}] * 5
        )
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: the fast person's baseline sits between their own 4 days and the level's 6
    line = (await _lines(tenant, period, people[0]))["cycle_time"]
    assert line.baseline_kind == "person"
    assert line.baseline_n == 6
    assert line.baseline is not None
    assert 4.0 < line.baseline < 6.0
    assert line.baseline_low is not None
    assert line.baseline_high is not None
    assert line.baseline_low < line.baseline < line.baseline_high
    assert line.target == pytest.approx(line.baseline)


async def test_counts_alone_never_make_a_scorecard() -> None:
    # given: one person with nothing but a patent, one with nothing at all
    tenant = await create_tenant()
    inventor = await create_employee(tenant, level="senior")
    idle = await create_employee(tenant, level="senior")
    await record_facts(tenant, inventor, "tech_contribution", [{"value": 1.0}])
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: neither is scored; the count is still shown on the card
    for person in (inventor, idle):
        card = await scorecard_of(tenant, period, person)
        assert (card.status, card.total, card.percentile) == (
            ScorecardStatus.INSUFFICIENT_DATA,
            None,
            None,
        )
    assert (await _lines(tenant, period, inventor))["tech_accumulation"].actual == 1.0


async def test_peers_with_too_few_past_facts_do_not_set_the_baseline() -> None:
    # given: one peer with 5 past deliveries at 4 days a point, one with a single one at 20
    tenant = await create_tenant()
    steady = await create_employee(tenant, level="mid")
    anecdote = await create_employee(tenant, level="mid")
    person = await create_employee(tenant, level="mid")
    history = [{"value": 8.0, "denominator": 2.0, "at": BEFORE}] * 5
    await record_facts(tenant, steady, "requirement_delivered", history)
    await record_facts(
        tenant,
        anecdote,
        "requirement_delivered",
        [{"value": 20.0, "denominator": 1.0, "at": BEFORE}],
    )
    await record_facts(
        tenant, person, "requirement_delivered", [{"value": 10.0, "denominator": 2.0}] * 5
    )
    period = await create_period(tenant)
    # when
    await recompute(tenant, period)
    # then: the baseline is the steady peer's 4 days, from one peer
    line = (await _lines(tenant, period, person))["cycle_time"]
    assert (line.baseline, line.baseline_n) == (4.0, 1)
    # and a level with no such peer has no baseline: the line is not scored, not zero
    principal = await create_employee(tenant, level="principal")
    await record_facts(
        tenant, principal, "requirement_delivered", [{"value": 6.0, "denominator": 1.0}] * 5
    )
    await recompute(tenant, period)
    alone = (await _lines(tenant, period, principal))["cycle_time"]
    assert (alone.status, alone.points, alone.raw_actual) == (LineStatus.NO_BASELINE, None, 6.0)


async def test_score_gain_targets_follow_the_starting_band_of_each_class() -> None:
    # given: the school's past classes gained 0.1-0.3 from below 50 and 0.4-0.6 from 70 up
    tenant = await create_tenant(template="school_teaching")
    veteran = await create_employee(tenant, level="senior")
    past = datetime(2026, 3, 10, tzinfo=UTC)

    def classes(pre: float, gains: list[float], at: datetime) -> list[dict[str, Any]]:
        return [
            {"value": pre + gain * (100 - pre), "attributes": {"pre": pre}, "at": at}
            for gain in gains
        ]

    await record_facts(
        tenant,
        veteran,
        "class_test",
        classes(40, [0.1, 0.2, 0.3], past) + classes(80, [0.4, 0.5, 0.6], past),
    )
    # and this term one teacher starts two classes from 40, another one from 40 and one from 80
    low = await create_employee(tenant, level="senior")
    mixed = await create_employee(tenant, level="senior")
    now = datetime(2026, 10, 10, tzinfo=UTC)
    await record_facts(tenant, low, "class_test", classes(40, [0.25, 0.25], now))
    await record_facts(
        tenant, mixed, "class_test", classes(40, [0.25], now) + classes(80, [0.25], now)
    )
    async with tenant_transaction(tenant_id(tenant)):
        period = await period_service.create(
            tenant_id(tenant),
            code="2026-T1",
            kind="term",
            starts_on=date(2026, 9, 1),
            ends_on=date(2027, 1, 31),
        )
    # when
    await recompute(tenant, period)
    # then: the same gain of 0.25 meets the first teacher's target and not the second's
    first = (await _lines(tenant, period, low))["score_gain"]
    second = (await _lines(tenant, period, mixed))["score_gain"]
    assert (first.baseline_kind, first.baseline, first.baseline_n) == ("band", 0.2, 3)
    assert (second.baseline_kind, second.baseline_n) == ("band", 6)
    assert second.baseline == pytest.approx((0.2 + 0.5) / 2)
    assert first.target == pytest.approx(0.2)
    assert first.points is not None
    assert second.points is not None
    assert first.points > 100 > second.points


async def test_recomputations_of_one_period_at_once_run_one_after_the_other() -> None:
    # given: a job, a close or a person may ask for the same period at the same moment
    tenant = await create_tenant()
    people = [await create_employee(tenant, level="senior") for _ in range(3)]
    for person in people:
        await record_facts(tenant, person, "due_item", on_time(8, 2))
    period = await create_period(tenant)
    # when
    results = await asyncio.gather(*(recompute(tenant, period) for _ in range(3)))
    # then: each one completes and the period holds one set of results
    assert [r.employees for r in results] == [3, 3, 3]
    async with tenant_transaction(tenant_id(tenant)):
        assert await Scorecard.filter(period_id=period.id).count() == 3
        assert await LevelBaseline.filter(period_id=period.id).count() == 9
