"""The R&D dashboard's panels against hand-computed figures (``tests.factories_dashboards_rd``
works out the fixture): every panel, each grouping, each filter, suppression, a manager's
reach, both statement shapes alike, a second tenant's work never counted, and a constant
number of statements whatever the data."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from starlette.applications import Starlette

from domain.dashboards import rd_sql
from domain.dashboards.cache import period_cache
from domain.dashboards.rd import RdReading, complaint_chart
from domain.dashboards.scope import Audience, DashboardFilter, DashboardInputError, Group, Grouping
from domain.people.service import EVERYONE, Visibility
from tenants.scope import require_tenant, tenant_transaction
from tests.factories import tenant_id
from tests.factories_dashboards_rd import (
    RdWorld,
    at,
    complaint,
    other_tenant_work,
    rd_world,
    requirement,
)

Q1 = DashboardFilter(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
ADMIN = Audience(visibility=EVERYONE, sees_small_groups=True)
HR = Audience(visibility=EVERYONE, sees_small_groups=False, min_group_size=5)
MONTHS = ["2026-01", "2026-02", "2026-03"]


@pytest.fixture(scope="module")
async def world(app: Starlette) -> RdWorld:
    # given Q1 2026 of an R&D department, and another tenant busy in the same months
    await other_tenant_work()
    return await rd_world()


async def _read(
    world: RdWorld,
    panel: str,
    flt: DashboardFilter = Q1,
    audience: Audience = ADMIN,
    *args: Any,
) -> Any:
    async with tenant_transaction(tenant_id(world.tenant)):
        reading = RdReading(tenant_id(world.tenant), flt, audience)
        return await getattr(reading, panel)(*args)


def _rates(groups: list[Any]) -> dict[str, tuple[Any, ...]]:
    return {g.group.key: (g.hits, g.n, g.people) for g in groups}


# --- the panels, by month ----------------------------------------------------------------------


async def test_on_time_counts_requirements_delivered_by_the_end_of_the_promised_day(
    world: RdWorld,
) -> None:
    groups = await _read(world, "on_time")
    # January: R1 and R5 on time, R2 late; February: R3 delivered at the very end of its
    # promised day, which is late; March: nothing promised was delivered
    assert _rates(groups) == {"2026-01": (2, 3, 3), "2026-02": (0, 1, 1), "2026-03": (0, 0, 0)}
    assert [g.rate for g in groups] == [pytest.approx(2 / 3), 0.0, None]
    assert groups[0].group == Group("2026-01", "2026-01", "2026年1月", date(2026, 1, 1))
    assert not any(g.suppressed for g in groups)


async def test_late_deliveries_are_split_by_cause_with_unknown_for_none(world: RdWorld) -> None:
    groups = await _read(world, "late_by_cause")
    causes = {g.group.key: {c.cause: c.count for c in g.causes or ()} for g in groups}
    assert [(g.late, g.people) for g in groups] == [(1, 1), (1, 1), (0, 0)]
    assert causes["2026-01"] == {
        "rd": 1, "sales_overpromise": 0, "customer_change": 0, "external": 0, "unknown": 0
    }  # fmt: skip
    assert causes["2026-02"]["unknown"] == 1
    assert sum(causes["2026-03"].values()) == 0


async def test_cycle_time_gives_median_and_p80_per_delivery_month(world: RdWorld) -> None:
    groups = await _read(world, "cycle_time")
    # January 10, 14, 19 days; February 6.5 (R4) and 8.625 (R3); March 3 (R8). P80 by
    # linear interpolation: 14 + 0.6 * 5 = 17; 6.5 + 0.8 * 2.125 = 8.2
    figures = {g.group.key: (g.n, g.median, g.p80, g.people) for g in groups}
    assert figures == {
        "2026-01": (3, pytest.approx(14.0), pytest.approx(17.0), 3),
        "2026-02": (
            2,
            pytest.approx(7.5625),
            pytest.approx(8.2),
            3,
        ),  # Di, Ed, and Ada who answered R4
        "2026-03": (1, pytest.approx(3.0), pytest.approx(3.0), 1),
    }


async def test_complaints_per_delivery_form_a_p_chart(world: RdWorld) -> None:
    chart = await _read(world, "complaints")
    # R&D complaints C1 (January) and C3 (February); C2 was over-promised by sales
    points = [(p.group.key, p.complaints, p.delivered, p.people) for p in chart.points]
    assert points == [("2026-01", 1, 3, 3), ("2026-02", 1, 2, 3), ("2026-03", 0, 1, 1)]
    assert chart.center == pytest.approx(2 / 6)
    assert [p.rate for p in chart.points] == [pytest.approx(1 / 3), 0.5, 0.0]
    # limits p ± 3 sqrt(p(1 - p)/n) reach beyond [0, 1] here and are clipped
    assert [(p.lower, p.upper) for p in chart.points] == [(0.0, 1.0)] * 3
    assert all(p.signals == () for p in chart.points)


async def test_escaped_defects_are_the_share_found_in_production(world: RdWorld) -> None:
    groups = await _read(world, "escaped_defects")
    # B1 in test (January), I1 and B2 in production; B3 has no place found
    assert _rates(groups) == {"2026-01": (0, 1, 1), "2026-02": (1, 1, 1), "2026-03": (1, 1, 1)}


async def test_the_funnel_follows_the_period_s_requests(world: RdWorld) -> None:
    funnel = await _read(world, "funnel")
    # R1, R2, R3, R4, R6, R8 (R5 was asked in December, R7 is nobody's); R2 answered after
    # 30 hours; R1, R2, R3, R6 promised; only R1 delivered on time
    assert (
        funnel.requested, funnel.answered_within_24h, funnel.promised,
        funnel.delivered_on_time, funnel.people, funnel.suppressed,
    ) == (6, 5, 4, 1, 6, False)  # fmt: skip


async def test_before_and_after_a_change_compares_cycle_days(world: RdWorld) -> None:
    result = await _read(world, "before_after", Q1, ADMIN, date(2026, 2, 1), 31)
    # before: R5 19, R1 10, R2 14 days; after (up to March 3): R4 6.5 and R3 8.625; every
    # cycle before is longer than every cycle after: U = 6 of 3 x 2, r = -1, exact p = 2/10
    assert (result.before.n, result.before.median, result.before.p80, result.before.people) == (
        3, pytest.approx(14.0), pytest.approx(17.0), 3,
    )  # fmt: skip
    assert (result.after.n, result.after.median, result.after.p80, result.after.people) == (
        2, pytest.approx(7.5625), pytest.approx(8.2), 3,
    )  # fmt: skip
    assert (result.u, result.effect_size) == (6.0, -1.0)
    assert result.p_value == pytest.approx(0.2)
    assert not result.suppressed
    assert "2026-02-01" in result.note.en
    assert "31" in result.note.zh
    # the default window of 90 days reaches R8 (March 4)
    wider = await _read(world, "before_after", Q1, ADMIN, date(2026, 2, 1))
    assert (wider.window_days, wider.before.n, wider.after.n) == (90, 3, 3)


async def test_before_and_after_refuses_a_window_out_of_range(world: RdWorld) -> None:
    for days in (0, 367):
        with pytest.raises(DashboardInputError) as refused:
            await _read(world, "before_after", Q1, ADMIN, date(2026, 2, 1), days)
        assert refused.value.field == "windowDays"


async def test_scorecards_of_periods_ending_in_the_period_per_level(world: RdWorld) -> None:
    groups = await _read(world, "scorecard_distribution")
    # 2026-Q1 only (2025-Q4 ended before the period); Old's card has no total
    figures = {
        g.group.key: (g.n, g.min, g.q1, g.median, g.q3, g.max, g.mean, g.people) for g in groups
    }
    assert list(figures) == ["junior", "mid", "senior"]
    assert figures["junior"] == (1, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0, 1)
    assert figures["mid"] == (3, 80.0, 85.0, 90.0, 105.0, 120.0, pytest.approx(290 / 3), 3)
    assert figures["senior"] == (2, 100.0, 102.5, 105.0, 107.5, 110.0, 105.0, 2)
    assert groups[1].group.label_en == "Engineer"
    assert groups[1].group.label_zh == "中级工程师"


async def test_the_capability_heatmap_counts_skills_by_level_of_people_still_here(
    world: RdWorld,
) -> None:
    cells = await _read(world, "capability_heatmap")
    # Old (left) also knows Python: not counted
    assert [(c.skill_name_en, c.level.key, c.head_count, c.mean_level) for c in cells] == [
        ("Go", "junior", 1, 1.0),
        ("Go", "mid", 2, 4.0),
        ("Python", "mid", 1, 3.0),
        ("Python", "senior", 2, 3.0),
    ]
    assert cells[0].skill_id == world.go.id


def test_the_p_chart_signals_runs_and_outliers_only_where_points_have_an_order() -> None:
    # eight months of 1 complaint per 100 deliveries, then 30; a suppressed month
    months = [(Group(f"m{i}", "", ""), (1, 100), 10) for i in range(8)]
    listed = [*months, (Group("m8", "", ""), (30, 100), 10), (Group("m9", "", ""), None, 2)]
    chart = complaint_chart(listed, ordered=True)
    # p = 38/900 over the points shown; sigma = sqrt(p(1 - p)/100) = 0.0201: the small
    # months sit 1.6 sigma below, the last one 12.8 above
    assert chart.center == pytest.approx(38 / 900)
    assert [p.signals for p in chart.points] == [
        (), (), (),
        *[("four_of_five_beyond_1_sigma:below",)] * 4,
        ("four_of_five_beyond_1_sigma:below", "eight_in_a_row:below"),
        ("beyond_3_sigma:above",),
        (),
    ]  # fmt: skip
    # the lower limit p - 3 sigma is below 0: clipped
    assert chart.points[0].lower == 0.0
    p = 38 / 900
    assert chart.points[0].upper == pytest.approx(p + 3 * math.sqrt(p * (1 - p) / 100))
    assert chart.points[-1].suppressed
    assert chart.points[-1].rate is None
    # org units or levels have no order: no runs
    unordered = complaint_chart(listed, ordered=False)
    assert [p.signals for p in unordered.points if p.signals] == [("beyond_3_sigma:above",)]


def test_the_p_chart_takes_more_complaints_than_deliveries() -> None:
    chart = complaint_chart(
        [(Group("a", "", ""), (3, 2), 5), (Group("b", "", ""), (1, 4), 5)], ordered=True
    )
    assert chart.center == pytest.approx(4 / 6)
    assert [(p.rate, p.lower, p.upper) for p in chart.points] == [(1.5, 0.0, 1.0), (0.25, 0.0, 1.0)]


# --- groupings ---------------------------------------------------------------------------------


async def test_a_quarter_is_one_group(world: RdWorld) -> None:
    flt = replace(Q1, group_by=Grouping.QUARTER)
    on_time = await _read(world, "on_time", flt)
    cycle = await _read(world, "cycle_time", flt)
    assert [(g.group.key, g.group.label_zh, g.hits, g.n, g.people) for g in on_time] == [
        ("2026-Q1", "2026年第1季度", 2, 4, 4)
    ]
    # 3, 6.5, 8.625, 10, 14, 19 days
    assert [(g.n, g.median, g.p80, g.people) for g in cycle] == [
        (6, pytest.approx(9.3125), pytest.approx(14.0), 6)
    ]


async def test_org_units_roll_up_to_the_children_of_the_filter_s_unit(world: RdWorld) -> None:
    flt = replace(Q1, group_by=Grouping.ORG_UNIT, org_unit_id=world.rnd.id)
    cycle = await _read(world, "cycle_time", flt)
    on_time = await _read(world, "on_time", flt)
    # R4 counts for Search (Ed did it) and for Payments (Ada answered it); Zed works in the
    # department itself, which is his group; units by name
    assert [(g.group.label_en, g.n, g.median, g.p80, g.people) for g in cycle] == [
        ("Payments", 4, pytest.approx(12.0), pytest.approx(16.0), 3),
        ("R&D", 1, pytest.approx(3.0), pytest.approx(3.0), 1),
        ("Search", 2, pytest.approx(7.5625), pytest.approx(8.2), 2),
    ]
    assert cycle[0].group.key == str(world.payments.id)
    # only units with promised deliveries are listed on the on-time chart
    assert [(g.group.label_en, g.hits, g.n, g.people) for g in on_time] == [
        ("Payments", 2, 3, 3),
        ("Search", 0, 1, 1),
    ]


async def test_without_an_org_filter_the_top_level_units_are_the_groups(world: RdWorld) -> None:
    flt = replace(Q1, group_by=Grouping.ORG_UNIT)
    on_time = await _read(world, "on_time", flt)
    assert [(g.group.key, g.hits, g.n, g.people) for g in on_time] == [(str(world.rnd.id), 2, 4, 4)]


async def test_levels_are_groups_labelled_by_the_pack(world: RdWorld) -> None:
    flt = replace(Q1, group_by=Grouping.LEVEL)
    on_time = await _read(world, "on_time", flt)
    # R1 counts for Ada (senior) and Bo (mid)
    assert [(g.group.key, g.group.label_en, g.hits, g.n, g.people) for g in on_time] == [
        ("junior", "Junior engineer", 0, 1, 1),
        ("mid", "Engineer", 1, 1, 1),
        ("senior", "Senior engineer", 2, 3, 2),
    ]
    chart = await _read(world, "complaints", flt)
    # unordered groups: a p-chart still, but no run rules
    assert [(p.group.key, p.complaints, p.delivered) for p in chart.points] == [
        ("junior", 0, 1), ("mid", 0, 3), ("senior", 2, 4),
    ]  # fmt: skip


# --- filters -----------------------------------------------------------------------------------


async def test_an_org_subtree_narrows_to_its_people(world: RdWorld) -> None:
    flt = replace(Q1, org_unit_id=world.search.id)
    assert _rates(await _read(world, "on_time", flt)) == {
        "2026-01": (0, 0, 0), "2026-02": (0, 1, 1), "2026-03": (0, 0, 0),
    }  # fmt: skip
    funnel = await _read(world, "funnel", flt)
    # R3 (Di) and R4 (Ed; Ada who answered it is not in Search)
    assert (funnel.requested, funnel.answered_within_24h, funnel.promised, funnel.people) == (
        2, 2, 1, 2,
    )  # fmt: skip


async def test_a_level_narrows_to_its_people(world: RdWorld) -> None:
    flt = replace(Q1, level="senior")
    # R1 through Ada alone (Bo is mid), R5 Ada, R3 Di
    assert _rates(await _read(world, "on_time", flt)) == {
        "2026-01": (2, 2, 1), "2026-02": (0, 1, 1), "2026-03": (0, 0, 0),
    }  # fmt: skip
    funnel = await _read(world, "funnel", flt)
    assert (funnel.requested, funnel.promised, funnel.delivered_on_time, funnel.people) == (
        3, 2, 1, 2,
    )  # fmt: skip


async def test_a_skill_narrows_to_the_people_who_have_it(world: RdWorld) -> None:
    flt = replace(Q1, skill_id=world.python.id)
    # Python: Ada, Bo and Di; Cy's R2 drops out
    assert _rates(await _read(world, "on_time", flt)) == {
        "2026-01": (2, 2, 2), "2026-02": (0, 1, 1), "2026-03": (0, 0, 0),
    }  # fmt: skip


async def test_a_customer_narrows_the_work_items(world: RdWorld) -> None:
    flt = replace(Q1, customer="Globex")
    assert _rates(await _read(world, "on_time", flt))["2026-01"] == (0, 1, 1)
    chart = await _read(world, "complaints", flt)
    # C3 is Globex's but nothing of Globex's was delivered in February: no rate there
    assert [(p.complaints, p.delivered, p.rate) for p in chart.points] == [
        (0, 1, 0.0), (1, 0, None), (0, 0, None),
    ]  # fmt: skip
    assert (await _read(world, "funnel", flt)).requested == 1


# --- who looks ---------------------------------------------------------------------------------


async def test_small_groups_are_listed_without_figures_except_for_admins(world: RdWorld) -> None:
    # given HR, with the default minimum of 5 people
    on_time = await _read(world, "on_time", Q1, HR)
    # January rests on 3 people, February on 1: hidden; March has nobody: zero, shown
    assert [(g.group.key, g.suppressed) for g in on_time] == [
        ("2026-01", True), ("2026-02", True), ("2026-03", False),
    ]  # fmt: skip
    assert (on_time[0].hits, on_time[0].n, on_time[0].rate, on_time[0].people) == (
        None, None, None, None,
    )  # fmt: skip
    # a group of two seniors: hidden from HR, shown to an admin
    by_level = replace(Q1, group_by=Grouping.LEVEL)
    hr_senior = (await _read(world, "on_time", by_level, HR))[-1]
    admin_senior = (await _read(world, "on_time", by_level, ADMIN))[-1]
    assert (hr_senior.group.key, hr_senior.suppressed, hr_senior.n) == ("senior", True, None)
    assert (admin_senior.suppressed, admin_senior.n, admin_senior.people) == (False, 3, 2)
    # suppressed points stay out of the p-chart; the funnel rests on 6 people
    chart = await _read(world, "complaints", Q1, HR)
    assert chart.center is None
    assert [p.suppressed for p in chart.points] == [True, True, True]
    assert not (await _read(world, "funnel", Q1, HR)).suppressed
    before_after = await _read(world, "before_after", Q1, HR, date(2026, 2, 1), 31)
    assert before_after.suppressed
    assert before_after.u is None
    assert before_after.before.n is None
    cells = await _read(world, "capability_heatmap", Q1, HR)
    assert all(c.suppressed and c.head_count is None for c in cells)


async def test_a_manager_sees_the_people_of_their_units_only(world: RdWorld) -> None:
    manager = Audience(visibility=Visibility(unit_ids=frozenset({world.search.id})))
    funnel = await _read(world, "funnel", Q1, replace(manager, sees_small_groups=True))
    assert (funnel.requested, funnel.people) == (2, 2)
    quarter = replace(Q1, group_by=Grouping.QUARTER)
    cycle = await _read(world, "cycle_time", quarter, replace(manager, min_group_size=2))
    assert [(g.n, g.median, g.people) for g in cycle] == [(2, pytest.approx(7.5625), 2)]


# --- shapes, tenants, statements ---------------------------------------------------------------


@pytest.mark.parametrize("grouping", [Grouping.MONTH, Grouping.QUARTER])
async def test_the_fast_and_the_general_statement_agree(
    world: RdWorld, grouping: Grouping, monkeypatch: pytest.MonkeyPatch
) -> None:
    flt = replace(Q1, group_by=grouping)
    panels = ("on_time", "late_by_cause", "complaints", "cycle_time", "escaped_defects", "funnel")
    fast = [await _read(world, panel, flt) for panel in panels]
    # as if somebody narrowed the people without narrowing anyone out
    monkeypatch.setattr(rd_sql, "reaches_everyone", lambda flt, audience: False)
    general = [await _read(world, panel, flt) for panel in panels]
    assert fast == general


async def test_another_tenant_s_work_never_counts(world: RdWorld) -> None:
    # the other tenant delivered six late requirements in January, with complaints and
    # defects: none of them is in any figure above; and here, everything at once
    funnel = await _read(world, "funnel")
    late = await _read(world, "late_by_cause")
    cards = await _read(world, "scorecard_distribution")
    assert funnel.requested == 6
    assert [c.count for c in late[0].causes or () if c.cause == "external"] == [0]
    assert sum(g.n or 0 for g in cards) == 6


async def test_the_statements_are_as_many_whatever_the_data(app: Starlette) -> None:
    world = await rd_world()
    tid = tenant_id(world.tenant)
    panels = (
        "on_time", "late_by_cause", "complaints", "cycle_time", "escaped_defects", "funnel",
        "scorecard_distribution", "capability_heatmap",
    )  # fmt: skip

    async def statements(flt: DashboardFilter, audience: Audience) -> int:
        # Nothing kept: every reading runs its statements (test_cache counts kept ones).
        with period_cache.disabled():
            async with tenant_transaction(tid):
                reading = RdReading(tid, flt, audience)
                tx = require_tenant(tid)
                before = tx.statements
                for panel in panels:
                    await getattr(reading, panel)()
                await reading.before_after(date(2026, 2, 1))
                return tx.statements - before

    cases = [(Q1, ADMIN), (replace(Q1, group_by=Grouping.LEVEL), HR)]
    small = [await statements(flt, audience) for flt, audience in cases]
    # when ten times the work comes in
    for day in range(1, 29):
        await requirement(
            world.tenant, [world.cy, world.di], requested=at(2, day, 8), answerer=world.ed,
            promised_on=date(2026, 3, 1), started=at(2, day, 10), delivered=at(2, day, 18),
        )  # fmt: skip
        await complaint(world.tenant, world.bo, requested=at(3, day), cause="rd")
    large = [await statements(flt, audience) for flt, audience in cases]
    # the tuning, the period's items, before/after, scorecards and capabilities
    assert small == large == [5, 5]
