"""Demo facts: reproducible, complete for each pack, inside each person's time there, true to
the issue's figures, and scored in periods over the history."""

from __future__ import annotations

from datetime import date

import pytest

from domain.demo.builder import HISTORY_DAYS, DemoSummary
from domain.templates.registry import pack_for
from tests.factories_demo import (
    ACME_SIZE,
    AS_OF,
    TEMPLATES,
    demo_rows,
)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_the_same_seed_gives_the_same_facts(
    twins: dict[str, tuple[DemoSummary, DemoSummary]], template: str
) -> None:
    first, second = twins[template]
    # Everything but the row ids, the person's id (also random) and when it was recorded.
    query = (
        "SELECT e.employee_number, f.kind, f.occurred_at, f.value, f.denominator, f.source, "
        "f.external_key, f.attributes::text FROM facts f "
        "JOIN employees e ON e.tenant_id = f.tenant_id AND e.id = f.employee_id "
        "WHERE f.tenant_id = $1 ORDER BY f.external_key"
    )
    ours, theirs = await demo_rows(first, query), await demo_rows(second, query)
    assert ours
    assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
    assert first.counts["facts"] == second.counts["facts"] == len(ours)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_every_fact_kind_of_the_pack_is_there_as_the_pack_defines_it(
    full: dict[str, DemoSummary], template: str
) -> None:
    summary = full[template]
    rows = await demo_rows(
        summary,
        "SELECT kind, count(*) AS facts, count(denominator) AS with_denominator, "
        "count(*) FILTER (WHERE denominator <= 0) AS bad_denominator, "
        "count(*) FILTER (WHERE attributes ? 'pre') AS with_pre, "
        "count(DISTINCT employee_id) AS people, "
        "count(*) FILTER (WHERE source <> 'demo' OR external_key IS NULL) AS unkeyed "
        "FROM facts WHERE tenant_id = $1 GROUP BY kind",
    )
    found = {row["kind"]: row for row in rows}
    pack = pack_for(template)
    assert set(found) == {kind.code for kind in pack.fact_kinds}
    for kind in pack.fact_kinds:
        row = found[kind.code]
        assert row["people"] > 1, kind.code
        assert row["unkeyed"] == 0
        assert row["bad_denominator"] == 0
        if kind.denominator is not None:
            assert row["with_denominator"] == row["facts"], kind.code
        if "pre" in kind.attributes:
            assert row["with_pre"] == row["facts"], kind.code
    assert summary.counts["facts"] == sum(row["facts"] for row in rows)


@pytest.mark.parametrize("template", TEMPLATES)
async def test_facts_fall_within_each_persons_time_there(
    full: dict[str, DemoSummary], template: str
) -> None:
    summary = full[template]
    (row,) = await demo_rows(
        summary,
        "SELECT count(*) FILTER (WHERE f.first < e.hire_date) AS before_hired, "
        "count(*) FILTER (WHERE f.first < $2) AS before_history, "
        "count(*) FILTER (WHERE f.last > $3) AS after_as_of FROM ("
        "  SELECT employee_id, min((occurred_at AT TIME ZONE 'UTC')::date) AS first, "
        "  max((occurred_at AT TIME ZONE 'UTC')::date) AS last "
        "  FROM facts WHERE tenant_id = $1 GROUP BY employee_id"
        ") f JOIN employees e ON e.tenant_id = $1 AND e.id = f.employee_id",
        date.fromordinal(AS_OF.toordinal() - HISTORY_DAYS),
        AS_OF,
    )
    # (people, not facts, out of their time)
    assert dict(row) == {"before_hired": 0, "before_history": 0, "after_as_of": 0}


async def test_values_are_in_their_units_ranges(full: dict[str, DemoSummary]) -> None:
    ranges = {
        "requirement_delivered": (1, 200),  # cycle days
        "due_item": (0, 1),
        "defect": (0, 1),
        "item_defects": (0, 30),
        "tech_contribution": (1, 1),
        "sales_request": (1, 1),
        "feasibility_answer": (0, 72),  # hours
        "complaint_fix": (0, 240),
        "action_item": (0, 1),
        "training_given": (3, 5),  # rating
        "class_test": (0, 100),  # post-test mean
        "student_growth": (1, 99),
        "lesson": (0, 1),
        "homework_graded": (0, 72),
        "question_answered": (0, 6),
        "parent_contact": (0, 250),
    }
    for summary in full.values():
        rows = await demo_rows(
            summary,
            "SELECT kind, min(value) AS low, max(value) AS high, "
            "count(*) FILTER (WHERE value > denominator) AS over, "
            "min((attributes->>'pre')::float8) AS pre_low, "
            "max((attributes->>'pre')::float8) AS pre_high "
            "FROM facts WHERE tenant_id = $1 GROUP BY kind",
        )
        for row in rows:
            low, high = ranges[row["kind"]]
            assert low <= row["low"] <= row["high"] <= high, dict(row)
            if row["kind"] == "parent_contact":  # students contacted out of students
                assert row["over"] == 0
            if row["kind"] == "class_test":
                assert 0 <= row["pre_low"] <= row["pre_high"] < 100


async def test_the_rd_demo_shows_the_issues_figures_by_level(acme: DemoSummary) -> None:
    rows = await demo_rows(
        acme,
        "SELECT e.level, sum(f.days) / sum(f.delivered) AS cycle_days, "
        "sum(f.escaped) / sum(f.defects) AS escaped FROM ("
        "  SELECT employee_id, "
        "  sum(value) FILTER (WHERE kind = 'requirement_delivered') AS days, "
        "  count(*) FILTER (WHERE kind = 'requirement_delivered') AS delivered, "
        "  sum(value) FILTER (WHERE kind = 'defect') AS escaped, "
        "  count(*) FILTER (WHERE kind = 'defect') AS defects "
        "  FROM facts WHERE tenant_id = $1 AND superseded_at IS NULL GROUP BY employee_id"
        ") f JOIN employees e ON e.tenant_id = $1 AND e.id = f.employee_id GROUP BY e.level",
    )
    levels = {row["level"]: row for row in rows}
    senior, junior = levels["senior"], levels["junior"]
    # 4 weeks and 1.2 % for seniors, 6 weeks and 3 % for juniors
    assert 26 <= senior["cycle_days"] <= 30
    assert 0.008 <= senior["escaped"] <= 0.016
    assert 39 <= junior["cycle_days"] <= 45
    assert 0.022 <= junior["escaped"] <= 0.038
    # mid in between, principal better still
    assert senior["cycle_days"] < levels["mid"]["cycle_days"] < junior["cycle_days"]
    assert levels["principal"]["cycle_days"] < senior["cycle_days"]
    assert senior["escaped"] < levels["mid"]["escaped"] < junior["escaped"]
    # a few hundred facts per person over the two years, not more
    assert 250 * ACME_SIZE <= acme.counts["facts"] <= 1000 * ACME_SIZE


async def test_the_rd_demo_has_quarterly_volumes_of_a_working_team(acme: DemoSummary) -> None:
    # Engineers (not managers) there for the whole of a past quarter, per quarter.
    rows = await demo_rows(
        acme,
        "SELECT f.kind, avg(f.n) AS mean FROM ("
        "  SELECT employee_id, kind, date_trunc('quarter', occurred_at) AS quarter, "
        "  count(*) AS n FROM facts WHERE tenant_id = $1 "
        "  AND occurred_at >= '2025-01-01' AND occurred_at < '2026-01-01' GROUP BY 1, 2, 3"
        ") f JOIN employees e ON e.tenant_id = $1 AND e.id = f.employee_id "
        "WHERE e.hire_date < '2025-01-01' AND e.status = 'active' "
        "AND NOT EXISTS (SELECT 1 FROM org_unit_managers m WHERE m.employee_id = e.id) "
        "GROUP BY f.kind",
    )
    mean = {row["kind"]: float(row["mean"]) for row in rows}
    assert 5.5 <= mean["requirement_delivered"] <= 10
    assert mean["due_item"] == pytest.approx(mean["requirement_delivered"], rel=0.05)
    assert 15 <= mean["defect"] <= 30
    assert 8 <= mean["sales_request"] <= 15
    assert mean["feasibility_answer"] == pytest.approx(mean["sales_request"], rel=0.05)
    assert 2 <= mean["action_item"] <= 5


async def test_one_or_two_teams_see_twice_their_usual_demand_in_the_last_quarter(
    acme: DemoSummary,
) -> None:
    rows = await demo_rows(
        acme,
        "SELECT u.name, sum(f.spike) AS spike, sum(f.before) / 3.0 AS usual FROM ("
        "  SELECT employee_id, count(*) FILTER (WHERE occurred_at >= '2025-10-01') AS spike, "
        "  count(*) FILTER (WHERE occurred_at < '2025-10-01') AS before FROM facts "
        "  WHERE tenant_id = $1 AND kind = 'sales_request' "
        "  AND occurred_at >= '2025-01-01' AND occurred_at < '2026-01-01' GROUP BY employee_id"
        ") f JOIN employees e ON e.tenant_id = $1 AND e.id = f.employee_id "
        "JOIN org_units u ON u.tenant_id = $1 AND u.id = e.org_unit_id "
        "WHERE u.kind = 'team' GROUP BY u.name",
    )
    ratios = {row["name"]: float(row["spike"] / row["usual"]) for row in rows}
    spiking = {name for name, ratio in ratios.items() if ratio >= 1.7}
    assert 1 <= len(spiking) <= 2, ratios
    assert all(ratio < 1.5 for name, ratio in ratios.items() if name not in spiking), ratios
    # and the pack's demand-spike rule sees it when the quarter is scored
    flagged = await demo_rows(
        acme,
        "SELECT DISTINCT u.name FROM target_adjustments a "
        "JOIN periods p ON p.id = a.period_id JOIN org_units u ON u.id = a.org_unit_id "
        "WHERE a.tenant_id = $1 AND p.code = '2025-Q4' AND a.rule = 'demand_spike'",
    )
    assert {row["name"] for row in flagged} == spiking


async def test_interactive_teachers_reach_higher_normalised_gains(sunrise: DemoSummary) -> None:
    # Teaching style as the product reads it: the share of lessons in project-based units.
    rows = await demo_rows(
        sunrise,
        "WITH style AS (SELECT employee_id, avg(value) AS pbl FROM facts "
        "  WHERE tenant_id = $1 AND kind = 'lesson' GROUP BY employee_id), "
        "gain AS (SELECT employee_id, "
        "  avg((value - (attributes->>'pre')::float8) / (100 - (attributes->>'pre')::float8)) "
        "  AS g FROM facts WHERE tenant_id = $1 AND kind = 'class_test' GROUP BY employee_id) "
        "SELECT s.pbl >= 0.2 AS interactive, avg(g.g) AS gain, count(*) AS teachers "
        "FROM style s JOIN gain g USING (employee_id) GROUP BY 1",
    )
    by_style = {row["interactive"]: row for row in rows}
    interactive, lecture = by_style[True], by_style[False]
    assert interactive["teachers"] >= 5
    assert lecture["teachers"] >= 5
    assert interactive["gain"] - lecture["gain"] > 0.1
    assert 0.35 <= interactive["gain"] <= 0.55
    assert 0.15 <= lecture["gain"] <= 0.35


async def test_school_growth_percentiles_centre_on_50(sunrise: DemoSummary) -> None:
    (row,) = await demo_rows(
        sunrise,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median, "
        "count(*)::float8 / count(DISTINCT employee_id) AS per_teacher "
        "FROM facts WHERE tenant_id = $1 AND kind = 'student_growth'",
    )
    assert 45 <= row["median"] <= 55
    # one per tested student, 25-35 a year, over two school years
    assert 40 <= row["per_teacher"] <= 70


@pytest.mark.parametrize(
    ("template", "codes"),
    [
        (
            "enterprise_rd",
            ["2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4",
             "2026-Q1"],
        ),
        # T1 runs from September to January, T2 from February to July; coded by their start
        ("school_teaching", ["2024-T2", "2024-T1", "2025-T2", "2025-T1", "2026-T2"]),
    ],
)  # fmt: skip
async def test_past_periods_are_closed_and_the_current_one_is_computed(
    full: dict[str, DemoSummary], template: str, codes: list[str]
) -> None:
    summary = full[template]
    periods = await demo_rows(
        summary,
        "SELECT p.code, p.kind, p.status, p.starts_on, p.ends_on, p.computed_at, "
        "count(s.id) AS scorecards FROM periods p "
        "LEFT JOIN scorecards s ON s.tenant_id = p.tenant_id AND s.period_id = p.id "
        "WHERE p.tenant_id = $1 GROUP BY p.id ORDER BY p.starts_on",
    )
    assert [row["code"] for row in periods] == codes
    assert {row["kind"] for row in periods} == {pack_for(template).scorecard.period_kind}
    *past, current = periods
    assert all(row["status"] == "closed" and row["ends_on"] < AS_OF for row in past)
    assert current["status"] == "open"
    assert current["starts_on"] <= AS_OF <= current["ends_on"]
    (roster,) = await demo_rows(
        summary,
        "SELECT count(*) FROM employees WHERE tenant_id = $1 AND status <> 'left'",
    )
    for row in periods:
        assert row["computed_at"] is not None
        assert row["scorecards"] == roster["count"], row["code"]
    assert summary.counts["periods"] == len(codes)
    assert summary.counts["scorecards"] == sum(row["scorecards"] for row in periods)
    # most people get a score: the facts are enough to score them
    (scored,) = await demo_rows(
        summary,
        "SELECT count(*) FILTER (WHERE status = 'scored')::float8 / count(*) AS share "
        "FROM scorecards WHERE tenant_id = $1",
    )
    assert scored["share"] >= 0.8
