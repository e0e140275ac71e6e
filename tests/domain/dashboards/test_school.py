"""The school dashboard's panels against hand-computed figures: gain and excellent rate by
teaching style, rating against parent satisfaction (Spearman), response times by month,
quarter, org unit and level; suppression, anonymity, reach and a second tenant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.dashboards import school
from domain.dashboards.scope import Audience, DashboardFilter, Grouping
from domain.feedback.models import FeedbackSource
from domain.org.models import OrgUnit
from domain.people.models import Employee
from domain.people.service import EVERYONE, Visibility
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import tenant_id
from tests.factories_dashboards_school import (
    create_school,
    create_teacher,
    imported_class_tests,
    parent_responses,
)
from tests.factories_demo import AS_OF, SUNRISE_SIZE, build
from tests.factories_indicators import record_facts
from tests.factories_records import create_appraisal, create_org_unit

Q1 = DashboardFilter(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
JAN = datetime(2026, 1, 12, 9, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 9, tzinfo=UTC)
BEFORE = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)  # a minute before the period
AFTER = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)  # the first moment after it
ADMIN = Audience(visibility=EVERYONE, sees_small_groups=True, min_group_size=2)
STAFF = Audience(visibility=EVERYONE, sees_small_groups=False, min_group_size=2)


def _with(flt: DashboardFilter, **changes: Any) -> DashboardFilter:
    return replace(flt, **changes)


async def _gain(tenant: Tenant, audience: Audience) -> dict[str, school.StyleGain]:
    async with tenant_transaction(tenant_id(tenant)):
        return {g.style: g for g in await school.gain_by_style(tenant_id(tenant), Q1, audience)}


# --- gain by teaching style ----------------------------------------------------------------------


async def _classes(tenant: Tenant) -> None:
    """Interactive: two teachers, lecture and no style: one each, mixed: none."""
    one = await create_teacher(tenant, style="interactive", name="I1")
    two = await create_teacher(tenant, style="interactive", name="I2")
    lecture = await create_teacher(tenant, style="lecture", name="L1")
    unknown = await create_teacher(tenant, name="N1")
    # g = 30/60 = 0.5; a class that started at 100 has nothing to gain (left out of the
    # mean) but still reports its excellent share
    await record_facts(
        tenant, one, "class_test",
        [{"value": 70.0, "attributes": {"pre": 40, "excellent": 0.2}, "at": JAN}],
    )  # fmt: skip
    await imported_class_tests(
        tenant, one, [{"post": 100.0, "pre": 100.0, "excellent": 0.9, "at": FEB}]
    )
    # g = 30/50 = 0.6, no excellent share; the same class corrected from an earlier figure
    (first,) = await record_facts(
        tenant, two, "class_test", [{"value": 55.0, "attributes": {"pre": 50}, "at": JAN,
                                     "key": "c-2"}]
    )  # fmt: skip
    await record_facts(
        tenant, two, "class_test",
        [{"value": 80.0, "attributes": {"pre": 50}, "at": JAN, "key": "c-2"}],
    )  # fmt: skip
    # g = 4/20 = 0.2, excellent 0.1; and classes outside the period, which do not count
    await record_facts(
        tenant, lecture, "class_test",
        [
            {"value": 84.0, "attributes": {"pre": 80, "excellent": 0.1}, "at": FEB},
            {"value": 10.0, "attributes": {"pre": 5, "excellent": 1.0}, "at": BEFORE},
            {"value": 10.0, "attributes": {"pre": 5, "excellent": 1.0}, "at": AFTER},
        ],
    )  # fmt: skip
    # g = 16/80 = 0.2
    await record_facts(
        tenant, unknown, "class_test", [{"value": 36.0, "attributes": {"pre": 20}, "at": FEB}]
    )
    assert first.value == 55.0


async def test_gain_and_excellent_rate_by_style_from_the_classes_of_the_period() -> None:
    tenant, other = await create_school(), await create_school()
    await _classes(tenant)
    # a second tenant's classes, of the same styles, never count
    foreign = await create_teacher(other, style="interactive")
    await record_facts(
        other, foreign, "class_test", [{"value": 99.0, "attributes": {"pre": 0}, "at": JAN}]
    )

    found = await _gain(tenant, ADMIN)

    assert list(found) == ["interactive", "lecture", "mixed", "not_recorded"]
    interactive = found["interactive"]
    assert (interactive.label_en, interactive.label_zh) == ("Interactive", "互动式")
    assert (interactive.classes, interactive.teachers, interactive.gain_n) == (3, 2, 2)
    assert interactive.mean_gain == pytest.approx((0.5 + 0.6) / 2)
    # its own n: the two classes that report a share, one of them the class at 100
    assert interactive.excellent_rate == pytest.approx((0.2 + 0.9) / 2)
    assert interactive.excellent_n == 2
    lecture = found["lecture"]
    assert (lecture.classes, lecture.teachers, lecture.gain_n, lecture.excellent_n) == (1, 1, 1, 1)
    assert lecture.mean_gain == pytest.approx(0.2)
    assert lecture.excellent_rate == pytest.approx(0.1)
    assert found["mixed"] == school.StyleGain(
        "mixed", "Mixed", "混合式", 0, 0, None, 0, None, 0, suppressed=False
    )
    unknown = found["not_recorded"]
    assert (unknown.label_en, unknown.classes, unknown.teachers) == ("Not recorded", 1, 1)
    assert unknown.mean_gain == pytest.approx(0.2)
    assert unknown.excellent_rate is None
    assert unknown.excellent_n == 0


async def test_styles_of_fewer_teachers_than_the_minimum_are_suppressed_but_for_admins() -> None:
    tenant = await create_school()
    await _classes(tenant)

    shown = await _gain(tenant, STAFF)

    assert not shown["interactive"].suppressed  # two teachers: the minimum
    assert shown["interactive"].mean_gain == pytest.approx(0.55)
    for style in ("lecture", "not_recorded"):  # one teacher each
        assert shown[style] == school.StyleGain(
            style, shown[style].label_en, shown[style].label_zh,
            None, None, None, None, None, None, suppressed=True,
        )  # fmt: skip
    assert not shown["mixed"].suppressed  # nobody: nothing to protect
    assert (await _gain(tenant, ADMIN))["lecture"].teachers == 1


# --- rating against parent satisfaction ------------------------------------------------------


@dataclass
class Survey:
    tenant: Tenant
    named: dict[str, Employee]


async def _survey() -> Survey:
    """Four plotted teachers (hand-computed below), two hidden, one without a rating."""
    tenant = await create_school()
    named = {n: await create_teacher(tenant, name=n) for n in "ABCDEFG"}
    a, b, c, d, e, f, g = named.values()
    # Ratings: A 85 (the mean of the two appraisals that ended in the period; the older one
    # does not count), B 70 (none in the period: the latest that ended before it; one that
    # ends after the period is not known yet), C 75, D 90, E 60, G 80; F has none.
    for person, score, start, end in (
        (a, 80, date(2025, 7, 1), date(2026, 1, 31)),
        (a, 90, date(2025, 9, 1), date(2026, 3, 31)),
        (a, 50, date(2025, 1, 1), date(2025, 12, 31)),
        (b, 60, date(2025, 1, 1), date(2025, 6, 30)),
        (b, 70, date(2025, 7, 1), date(2025, 12, 31)),
        (b, 99, date(2026, 1, 1), date(2026, 6, 30)),
        (c, 75, date(2025, 9, 1), date(2026, 2, 28)),
        (d, 90, date(2025, 9, 1), date(2026, 2, 28)),
        (e, 60, date(2025, 9, 1), date(2026, 2, 28)),
        (g, 80, date(2025, 9, 1), date(2026, 2, 28)),
    ):
        await create_appraisal(
            tenant, person, period=f"{start}/{end}", period_start=start, period_end=end,
            score=score,
        )  # fmt: skip
    # Satisfaction: A 4.0 (each response weighs the same: ten means of 5 and ten of 3, not
    # the 3.5 of all forty ratings pooled), B 5.0, C 2.0, D 3.5.
    await parent_responses(tenant, a, [{"care": 5}] * 10, at=JAN)
    await parent_responses(
        tenant, a, [{"care": 3, "communication": 3, "teaching_quality": 3}] * 10, at=FEB
    )
    await parent_responses(tenant, b, [{"care": 5}] * 20, at=JAN)
    await parent_responses(tenant, c, [{"care": 2}] * 20, at=JAN)
    await parent_responses(tenant, c, [{"care": 5}] * 5, at=JAN, source=FeedbackSource.STUDENT)
    await parent_responses(tenant, d, [{"care": 4, "communication": 3}] * 20, at=FEB)
    # E: 5 responses, G: 19 in the period and one before it: both hidden; F: no rating
    await parent_responses(tenant, e, [{"care": 4}] * 5, at=JAN)
    await parent_responses(tenant, g, [{"care": 4}] * 19, at=FEB)
    await parent_responses(tenant, g, [{"care": 4}], at=BEFORE)
    await parent_responses(tenant, f, [{"care": 4}] * 20, at=FEB)
    return Survey(tenant, named)


async def _scatter(survey: Survey, audience: Audience) -> school.Scatter:
    tid = tenant_id(survey.tenant)
    async with tenant_transaction(tid) as tx:
        before = tx.statements
        scatter = await school.rating_vs_parents(tid, Q1, audience)
        assert tx.statements - before == 1
    return scatter


async def test_rating_against_parent_satisfaction_with_spearmans_rho() -> None:
    survey = await _survey()
    named = survey.named

    scatter = await _scatter(survey, ADMIN)

    # ordered by rating: B 70, C 75, A 85, D 90
    assert [(p.name, p.rating, p.parent_satisfaction, p.responses) for p in scatter.points] == [
        ("B", 70.0, 5.0, 20),
        ("C", 75.0, 2.0, 20),
        ("A", pytest.approx(85.0), pytest.approx(4.0), 20),
        ("D", 90.0, 3.5, 20),
    ]
    assert [p.employee_id for p in scatter.points] == [named[n].id for n in "BCAD"]
    # Rating ranks B1 C2 A3 D4, satisfaction ranks C1 D2 A3 B4: d = -3, 1, 0, 2, so
    # rho = 1 - 6 * 14 / (4 * 15) = -0.4. With t = rho * sqrt(2 / (1 - rho^2)) on 2 degrees
    # of freedom the two-sided p is 1 - |t| / sqrt(2 + t^2) = 1 - 0.4 = 0.6.
    assert scatter.rho == pytest.approx(-0.4)
    assert scatter.p_value == pytest.approx(0.6)
    assert scatter.n == 4
    assert scatter.hidden_teachers == 2  # E (5) and G (19 in the period)
    assert not scatter.suppressed


async def test_the_scatter_is_anonymous_for_non_admins_and_suppressed_when_small() -> None:
    survey = await _survey()

    anonymous = await _scatter(survey, STAFF)
    small = await _scatter(survey, Audience(EVERYONE, sees_small_groups=False, min_group_size=5))
    admin = await _scatter(survey, Audience(EVERYONE, sees_small_groups=True, min_group_size=5))

    assert [(p.employee_id, p.name) for p in anonymous.points] == [(None, None)] * 4
    assert [p.rating for p in anonymous.points] == pytest.approx([70, 75, 85, 90])
    assert anonymous.rho == pytest.approx(-0.4)
    assert small == school.Scatter((), None, None, None, None, suppressed=True)
    assert admin.n == 4
    assert not admin.suppressed


async def test_the_scatter_keeps_to_the_callers_reach() -> None:
    survey = await _survey()
    named = survey.named
    # someone who sees A, B and C only: three points
    reach = Visibility(unit_ids=frozenset(), employee_ids=frozenset(named[n].id for n in "ABC"))

    scatter = await _scatter(survey, Audience(reach, sees_small_groups=True, min_group_size=2))

    assert sorted(p.rating for p in scatter.points) == pytest.approx([70, 75, 85])
    # ranks: rating B1 C2 A3, satisfaction C1 A2 B3: d = -2, 1, 1, rho = 1 - 6 * 6 / 24
    assert scatter.rho == pytest.approx(-0.5)
    assert scatter.hidden_teachers == 0


def test_spearman_needs_three_points_and_some_spread() -> None:
    assert school.spearman([1.0, 2.0], [2.0, 1.0]) == (None, None)
    assert school.spearman([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]) == (None, None)
    assert school.spearman([1.0, 2.0, 3.0], [1.0, 5.0, 9.0])[0] == pytest.approx(1.0)


# --- response times ------------------------------------------------------------------------------


@dataclass
class Staff:
    tenant: Tenant
    school_unit: OrgUnit
    grade_a: OrgUnit
    grade_b: OrgUnit


async def _staff() -> Staff:
    """T1 (senior, a subject group under grade A), T2 (junior, grade A), T3 (senior, grade
    B), T4 (full senior, the school itself), with their homework and answer times."""
    tenant = await create_school()
    top = await create_org_unit(tenant, name="Sunrise", kind="school")
    grade_a = await create_org_unit(tenant, name="Grade A", kind="grade", parent=top)
    grade_b = await create_org_unit(tenant, name="Grade B", kind="grade", parent=top)
    maths = await create_org_unit(tenant, name="Maths", kind="subject_group", parent=grade_a)
    t1 = await create_teacher(tenant, level="senior", org_unit=maths)
    t2 = await create_teacher(tenant, level="junior", org_unit=grade_a)
    t3 = await create_teacher(tenant, level="senior", org_unit=grade_b)
    t4 = await create_teacher(tenant, level="full_senior", org_unit=top)
    late_jan = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # still January in UTC
    hours = [{"value": v, "at": at} for v, at in ((10.0, JAN), (24.0, late_jan), (30.0, JAN))]
    await record_facts(tenant, t1, "homework_graded", hours)
    answers = [{"value": v, "at": JAN} for v in (0.5, 1.0, 2.0)]
    await record_facts(tenant, t1, "question_answered", answers)
    await record_facts(tenant, t2, "homework_graded", [{"value": 5.0, "at": JAN}])
    await record_facts(
        tenant, t3, "homework_graded",
        [{"value": 48.0, "at": FEB}, {"value": 2.0, "at": FEB}, {"value": 1.0, "at": BEFORE},
         {"value": 1.0, "at": AFTER}],
    )  # fmt: skip
    await record_facts(tenant, t3, "question_answered", [{"value": 0.2, "at": FEB}])
    await record_facts(tenant, t4, "homework_graded", [{"value": 3.0, "at": FEB}])
    return Staff(tenant, top, grade_a, grade_b)


def _figures(groups: list[school.SlaGroup]) -> list[tuple[object, ...]]:
    return [
        (
            g.group.key, g.homework_n,
            None if g.homework_rate is None else round(g.homework_rate, 4), g.question_n,
            None if g.question_rate is None else round(g.question_rate, 4), g.people,
            g.suppressed,
        )
        for g in groups
    ]  # fmt: skip


async def _sla(staff: Staff, flt: DashboardFilter, audience: Audience) -> list[school.SlaGroup]:
    tid = tenant_id(staff.tenant)
    async with tenant_transaction(tid) as tx:
        await school.sla_trend(tid, flt, audience)  # the pack, looked up once per process
        before = tx.statements
        groups = await school.sla_trend(tid, flt, audience)
        assert tx.statements - before == 1
    return groups


async def test_response_times_by_month_list_every_month_of_the_period() -> None:
    staff = await _staff()
    other = await _staff()  # a second tenant with the same figures: never counted

    groups = await _sla(staff, Q1, ADMIN)

    # January: homework 10, 24 (at the limit counts) and 30 h, 5 h: 3 of 4; answers 0.5, 1 and
    # 2 h: 2 of 3; T1 and T2. February: 48, 2 and 3 h: 2 of 3; 0.2 h; T3 and T4. March: none.
    assert _figures(groups) == [
        ("2026-01", 4, 0.75, 3, 0.6667, 2, False),
        ("2026-02", 3, 0.6667, 1, 1.0, 2, False),
        ("2026-03", 0, None, 0, None, 0, False),
    ]
    assert (groups[0].group.label_en, groups[0].group.label_zh) == ("2026-01", "2026年1月")
    assert groups[0].group.starts_on == date(2026, 1, 1)
    assert other.tenant.id != staff.tenant.id


async def test_response_times_by_quarter_over_a_period_across_two() -> None:
    staff = await _staff()
    flt = _with(
        Q1, starts_on=date(2026, 1, 15), ends_on=date(2026, 4, 10), group_by=Grouping.QUARTER
    )

    groups = await _sla(staff, flt, ADMIN)

    # from 15 January: the first half of January is out (T1's 10 and 30 h, T2's 5 h and
    # T1's answers on the 12th); the 24 h at the end of January stays
    assert _figures(groups) == [
        ("2026-Q1", 4, 0.75, 1, 1.0, 3, False),
        ("2026-Q2", 1, 1.0, 0, None, 1, False),  # T3's 1 h on 1 April
    ]
    assert groups[0].group.label_zh == "2026年第1季度"


async def test_response_times_by_org_unit_roll_up_to_the_filters_children() -> None:
    staff = await _staff()

    top_level = await _sla(staff, _with(Q1, group_by=Grouping.ORG_UNIT), ADMIN)
    under_school = await _sla(
        staff, _with(Q1, group_by=Grouping.ORG_UNIT, org_unit_id=staff.school_unit.id), ADMIN
    )
    under_grade_a = await _sla(
        staff, _with(Q1, group_by=Grouping.ORG_UNIT, org_unit_id=staff.grade_a.id), ADMIN
    )

    school_id, a_id, b_id = (str(u.id) for u in (staff.school_unit, staff.grade_a, staff.grade_b))
    assert _figures(top_level) == [(school_id, 7, 0.7143, 4, 0.75, 4, False)]
    assert top_level[0].group.label_en == "Sunrise"
    # grade A: T1 (in a subject group under it) and T2; grade B: T3; the school: T4, who
    # works in the filter's unit itself
    assert _figures(under_school) == [
        (a_id, 4, 0.75, 3, 0.6667, 2, False),
        (b_id, 2, 0.5, 1, 1.0, 1, False),
        (school_id, 1, 1.0, 0, None, 1, False),
    ]
    assert [g.group.label_en for g in under_school] == ["Grade A", "Grade B", "Sunrise"]
    assert [g.group.label_en for g in under_grade_a] == ["Grade A", "Maths"]
    assert under_grade_a[0].group.key == a_id
    assert _figures(under_grade_a)[1][1:] == (3, 0.6667, 3, 0.6667, 1, False)


async def test_response_times_by_level_in_the_ladders_order() -> None:
    staff = await _staff()

    groups = await _sla(staff, _with(Q1, group_by=Grouping.LEVEL), ADMIN)

    assert _figures(groups) == [
        ("junior", 1, 1.0, 0, None, 1, False),
        ("senior", 5, 0.6, 4, 0.75, 2, False),  # T1 and T3
        ("full_senior", 1, 1.0, 0, None, 1, False),
    ]
    assert [(g.group.label_en, g.group.label_zh) for g in groups] == [
        ("Junior teacher", "初级教师"),
        ("Senior teacher", "高级教师"),
        ("Full senior teacher", "正高级教师"),
    ]


async def test_small_groups_of_response_times_are_suppressed_but_for_admins() -> None:
    staff = await _staff()
    by_level = _with(Q1, group_by=Grouping.LEVEL)

    shown = await _sla(staff, by_level, STAFF)

    assert _figures(shown) == [
        ("junior", None, None, None, None, None, True),
        ("senior", 5, 0.6, 4, 0.75, 2, False),
        ("full_senior", None, None, None, None, None, True),
    ]
    assert shown[0].group.label_en == "Junior teacher"  # still listed, with its label
    assert [g.suppressed for g in await _sla(staff, by_level, ADMIN)] == [False] * 3


async def test_response_times_keep_to_the_filter_and_the_callers_reach() -> None:
    staff = await _staff()
    seniors = _with(Q1, level="senior", group_by=Grouping.QUARTER)
    grade_b = Visibility(unit_ids=frozenset({staff.grade_b.id}))

    (by_level,) = await _sla(staff, seniors, ADMIN)
    (in_reach,) = await _sla(
        staff, _with(Q1, group_by=Grouping.QUARTER), Audience(grade_b, True, 2)
    )

    assert _figures([by_level]) == [("2026-Q1", 5, 0.6, 4, 0.75, 2, False)]
    assert _figures([in_reach]) == [("2026-Q1", 2, 0.5, 1, 1.0, 1, False)]  # T3 only


# --- the demo school -----------------------------------------------------------------------------


async def test_the_demo_school_fills_every_panel(database: tuple[str, str]) -> None:
    summary = await build("school_teaching", SUNRISE_SIZE, database[0])
    last_year = DashboardFilter(starts_on=date(2025, 3, 17), ends_on=AS_OF)
    staff = Audience(EVERYONE, sees_small_groups=False)  # the default minimum of 5
    tid = summary.tenant_id

    async with tenant_transaction(tid):
        gains = await school.gain_by_style(tid, last_year, staff)
        scatter = await school.rating_vs_parents(tid, last_year, staff)
        months = await school.sla_trend(tid, last_year, staff)

    by_style = {g.style: g for g in gains}
    assert list(by_style) == ["interactive", "lecture", "mixed"]
    for gain in gains:
        assert not gain.suppressed, gain
        assert gain.classes == gain.excellent_n == gain.gain_n
        assert (gain.classes or 0) > 10
    interactive, lecture = by_style["interactive"].mean_gain, by_style["lecture"].mean_gain
    assert interactive is not None
    assert lecture is not None
    assert interactive - lecture > 0.1
    assert 0 < (by_style["interactive"].excellent_rate or 0) < 1
    assert not scatter.suppressed
    assert (scatter.n or 0) >= SUNRISE_SIZE // 2
    assert scatter.rho is not None
    assert all(p.employee_id is None for p in scatter.points)
    assert len(months) == 13  # March to March
    with_homework = [m for m in months if m.homework_n]
    assert len(with_homework) >= 10  # August is the summer break
    assert all(m.homework_rate is not None and 0.5 < m.homework_rate <= 1 for m in with_homework)
