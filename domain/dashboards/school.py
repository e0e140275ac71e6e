"""The school dashboard: normalised gain and excellent-student rate by teaching style, teacher
rating against parent satisfaction, and the homework and question response times over time.

Every panel is one SQL statement over the people of ``scope.scoped_people_sql`` (the caller's
reach and the filter), run lazily by the panel that needs it; Python only labels the handful
of grouped rows and runs the rank correlation on the scatter's points.

Gain by teaching style
    Classes are ``class_test`` facts that occurred in the period (value: the post-test mean,
    ``attributes.pre``: the pre-test mean, both 0-100). Per style (the teacher's custom field
    ``teaching_style``, labelled from the pack; teachers without a known style form a group of
    their own) the mean of the classes' Hake gains ``(post - pre) / (100 - pre)``: a class
    that started at 100 has nothing left to gain and is left out of the mean (``gain_n`` says
    how many classes are in it). The excellent-student rate averages the optional
    ``attributes.excellent`` (the share of the class at or above the school's excellence
    line, 0-1) over the classes that carry one, with its own n; a share outside 0-1 counts
    as none.

Rating against parent satisfaction
    Per teacher in scope: the rating is the mean score of their appraisals whose period ended
    within the dashboard's period, or else their latest appraisal that ended before it (an
    appraisal's result is known when its period is over). Parent satisfaction is the mean,
    over the parents' responses in the period, of each response's mean rating (each parent
    weighs the same, however many criteria they rated). Teachers with fewer than
    ``MIN_PARENT_RESPONSES`` responses are not plotted (``hidden_teachers`` counts those with
    at least one); Spearman's rho over the points that remain, with its p-value and n.

Response times
    ``homework_graded`` and ``question_answered`` facts (value: hours) per group: the share
    graded within ``HOMEWORK_LIMIT_HOURS`` and answered within ``QUESTION_LIMIT_HOURS``
    (at or under the limit, as scoring counts them), with their n and the people behind them.

Association, not causation: styles are not assigned at random, and test-based measures of
teachers explain 1-14 % of the variance of scores (ASA 2014); the panels say so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from domain.dashboards.scope import (
    Audience,
    DashboardFilter,
    Group,
    Grouping,
    Label,
    Params,
    level_group,
    no_unit_group,
    scoped_people_sql,
    time_group,
)
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from tenants.scope import TenantID, require_tenant

CLASS_TEST_KIND = "class_test"
HOMEWORK_KIND = "homework_graded"
QUESTION_KIND = "question_answered"
HOMEWORK_LIMIT_HOURS = 24.0
QUESTION_LIMIT_HOURS = 1.0
PARENT_SOURCE = "parent"
# Below this many responses a teacher's parent satisfaction is not shown (INDICATORS.md: 20
# survey responses is the minimum for a survey figure).
MIN_PARENT_RESPONSES = 20
STYLE_FIELD = "teaching_style"
# The group of teachers whose style is not recorded, or not one the pack knows.
STYLE_NOT_RECORDED = "not_recorded"


NOTE = Label(
    en="Association, not causation: teaching styles are not assigned at random, and classes "
    "differ in ways these figures do not show. Test-based measures of teachers explain 1-14 % "
    "of the variance in students' scores (ASA 2014): read differences together with their n.",
    zh="相关不等于因果：教学风格并非随机分配，各班级之间还有这些数据未体现的差异。"
    "基于考试成绩的教师评价指标只能解释学生成绩差异的 1%-14%（美国统计协会 2014）："
    "请结合样本量 n 解读差异。",
)
SCATTER_NOTE = Label(
    en=f"Spearman's rank correlation between teachers' appraisal ratings and their parents' "
    f"satisfaction, over teachers with at least {MIN_PARENT_RESPONSES} parent responses in "
    "the period. Association, not causation.",
    zh=f"教师考核评分与家长满意度的斯皮尔曼等级相关，仅含期内至少 {MIN_PARENT_RESPONSES} "
    "份家长反馈的教师。相关不等于因果。",
)
NOT_RECORDED_LABEL = Label(en="Not recorded", zh="未记录")


@dataclass(frozen=True)
class StyleGain:
    """One teaching style's classes; every figure None when suppressed."""

    style: str
    label_en: str
    label_zh: str
    classes: int | None
    teachers: int | None
    mean_gain: float | None
    gain_n: int | None  # classes in the mean (those that started below 100)
    excellent_rate: float | None
    excellent_n: int | None  # classes that carry an excellent-student share
    suppressed: bool


@dataclass(frozen=True)
class ScatterPoint:
    employee_id: UUID | None  # None for audiences that see anonymous dots
    name: str | None
    rating: float
    parent_satisfaction: float
    responses: int


@dataclass(frozen=True)
class Scatter:
    points: tuple[ScatterPoint, ...]
    rho: float | None
    p_value: float | None
    n: int | None
    hidden_teachers: int | None  # with 1 to MIN_PARENT_RESPONSES - 1 responses
    suppressed: bool


@dataclass(frozen=True)
class SlaGroup:
    group: Group
    homework_rate: float | None
    homework_n: int | None
    question_rate: float | None
    question_n: int | None
    people: int | None
    suppressed: bool


def period_bounds(flt: DashboardFilter) -> tuple[datetime, datetime]:
    """The period as UTC instants: from the first day's start to the day after the last."""
    start = datetime.combine(flt.starts_on, time(), UTC)
    return start, datetime.combine(flt.ends_on + timedelta(days=1), time(), UTC)


# --- gain by teaching style --------------------------------------------------------------------

_GAIN_SQL = """
WITH people AS ({people}),
tests AS (
    SELECT f.employee_id,
           COALESCE(e.custom_fields ->> {field}, '') AS style,
           CASE WHEN jsonb_typeof(f.attributes -> 'pre') = 'number'
                THEN (f.attributes ->> 'pre')::float8 END AS pre,
           f.value AS post,
           CASE WHEN jsonb_typeof(f.attributes -> 'excellent') = 'number'
                THEN (f.attributes ->> 'excellent')::float8 END AS excellent
    FROM facts f
    JOIN people p ON p.id = f.employee_id
    JOIN employees e ON e.tenant_id = f.tenant_id AND e.id = f.employee_id
    WHERE f.tenant_id = $1 AND f.kind = {kind} AND f.superseded_at IS NULL
      AND f.occurred_at >= {start} AND f.occurred_at < {end}
)
SELECT CASE WHEN style = ANY({styles}) THEN style ELSE {none} END AS style,
       count(*)::int AS classes,
       count(DISTINCT employee_id)::int AS teachers,
       avg((post - pre) / (100 - pre)) FILTER (WHERE pre >= 0 AND pre < 100) AS mean_gain,
       count(*) FILTER (WHERE pre >= 0 AND pre < 100)::int AS gain_n,
       avg(excellent) FILTER (WHERE excellent BETWEEN 0 AND 1) AS excellent_rate,
       count(*) FILTER (WHERE excellent BETWEEN 0 AND 1)::int AS excellent_n
FROM tests
GROUP BY 1
"""


def teaching_styles(pack: PackFile) -> list[tuple[str, Label]]:
    """The pack's teaching styles in its order: (value, label)."""
    definition = next((f for f in pack.custom_fields if f.key == STYLE_FIELD), None)
    if definition is None:
        return []
    return [(o.value, Label(en=o.en, zh=o.zh)) for o in definition.options]


async def gain_by_style(
    tenant: TenantID, flt: DashboardFilter, audience: Audience
) -> list[StyleGain]:
    """Per teaching style of the pack (all listed, in its order), then the teachers of no
    known style when they have classes: classes, teachers, mean gain, excellent rate."""
    tx = require_tenant(tenant)
    styles = teaching_styles(await pack_of(tenant))
    start, end = period_bounds(flt)
    params = Params(tenant)
    people = scoped_people_sql("$1", flt, audience, params)
    sql = _GAIN_SQL.format(
        people=people,
        field=params.add(STYLE_FIELD, "text"),
        kind=params.add(CLASS_TEST_KIND, "text"),
        start=params.add(start, "timestamptz"),
        end=params.add(end, "timestamptz"),
        styles=params.add([value for value, _ in styles], "text[]"),
        none=params.add(STYLE_NOT_RECORDED, "text"),
    )
    rows = {row["style"]: row for row in await tx.fetch(sql, *params.values)}
    listed = list(styles)
    if STYLE_NOT_RECORDED in rows:
        listed.append((STYLE_NOT_RECORDED, NOT_RECORDED_LABEL))
    return [_style_gain(value, label, rows.get(value), audience) for value, label in listed]


def _style_gain(style: str, label: Label, row: Any, audience: Audience) -> StyleGain:
    teachers = row["teachers"] if row is not None else 0
    if audience.suppresses(teachers):
        return StyleGain(style, label.en, label.zh, None, None, None, None, None, None, True)
    if row is None:
        return StyleGain(style, label.en, label.zh, 0, 0, None, 0, None, 0, False)
    return StyleGain(
        style=style,
        label_en=label.en,
        label_zh=label.zh,
        classes=row["classes"],
        teachers=teachers,
        mean_gain=row["mean_gain"],
        gain_n=row["gain_n"],
        excellent_rate=row["excellent_rate"],
        excellent_n=row["excellent_n"],
        suppressed=False,
    )


# --- rating against parent satisfaction ----------------------------------------------------------

# ``rated``: the mean of the appraisals that ended in the period, else the latest that ended
# before it. ``responses``: one row per parent response, its mean over the criteria rated.
# The last SELECT always yields a row (the hidden count), with the points LEFT JOINed to it.
_SCATTER_SQL = """
WITH people AS ({people}),
rated AS (
    SELECT a.employee_id,
           COALESCE(
               avg(a.score) FILTER (WHERE a.period_end >= {first_day}),
               (array_agg(a.score ORDER BY a.period_end DESC, a.period_start DESC,
                          a.created_at DESC))[1]
           )::float8 AS rating
    FROM appraisals a
    JOIN people p ON p.id = a.employee_id
    WHERE a.tenant_id = $1 AND a.archived_at IS NULL AND a.score IS NOT NULL
      AND a.period_end <= {last_day}
    GROUP BY a.employee_id
),
responses AS (
    SELECT f.subject_id, avg(r.value::float8) AS score
    FROM feedback f
    JOIN people p ON p.id = f.subject_id
    CROSS JOIN LATERAL jsonb_each_text(f.ratings) AS r(key, value)
    WHERE f.tenant_id = $1 AND f.source = {source} AND f.archived_at IS NULL
      AND f.given_at >= {start} AND f.given_at < {end}
    GROUP BY f.id, f.subject_id
),
parents AS (
    SELECT subject_id, avg(score) AS satisfaction, count(*)::int AS responses
    FROM responses GROUP BY subject_id
),
points AS (
    SELECT pa.subject_id, {name} AS name, r.rating, pa.satisfaction, pa.responses
    FROM parents pa
    JOIN rated r ON r.employee_id = pa.subject_id
    JOIN employees e ON e.tenant_id = $1 AND e.id = pa.subject_id
    WHERE pa.responses >= {minimum}
)
SELECT h.hidden, pt.subject_id, pt.name, pt.rating, pt.satisfaction, pt.responses
FROM (SELECT count(*)::int AS hidden FROM parents WHERE responses < {minimum}) h
LEFT JOIN points pt ON true
ORDER BY pt.rating, pt.satisfaction, pt.responses, pt.subject_id
"""


async def rating_vs_parents(tenant: TenantID, flt: DashboardFilter, audience: Audience) -> Scatter:
    """Teachers' appraisal rating against parent satisfaction, with Spearman's rho.

    Audiences that suppress small groups (everyone but admins) see anonymous dots, and no
    scatter at all when fewer than the minimum group size of teachers are plotted."""
    tx = require_tenant(tenant)
    start, end = period_bounds(flt)
    named = audience.sees_small_groups
    params = Params(tenant)
    people = scoped_people_sql("$1", flt, audience, params)
    sql = _SCATTER_SQL.format(
        people=people,
        first_day=params.add(flt.starts_on, "date"),
        last_day=params.add(flt.ends_on, "date"),
        source=params.add(PARENT_SOURCE, "text"),
        start=params.add(start, "timestamptz"),
        end=params.add(end, "timestamptz"),
        minimum=params.add(MIN_PARENT_RESPONSES, "int"),
        # Nobody's name leaves the database for an anonymous scatter.
        name="e.name" if named else "NULL::text",
    )
    rows = await tx.fetch(sql, *params.values)
    plotted = [row for row in rows if row["subject_id"] is not None]
    n = len(plotted)
    if audience.suppresses(n):
        return Scatter((), None, None, None, None, suppressed=True)
    points = tuple(
        ScatterPoint(
            employee_id=row["subject_id"] if named else None,
            name=row["name"],
            rating=row["rating"],
            parent_satisfaction=row["satisfaction"],
            responses=row["responses"],
        )
        for row in plotted
    )
    rho, p_value = spearman([p.rating for p in points], [p.parent_satisfaction for p in points])
    return Scatter(points, rho, p_value, n, rows[0]["hidden"], suppressed=False)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """Spearman's rho and its two-sided p-value; None where undefined (fewer than three
    points, or every value of one side the same)."""
    if len(x) < 3:
        return None, None
    with warnings.catch_warnings():
        # Constant input has no rank correlation: scipy warns and answers NaN, read as None.
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        result = stats.spearmanr(x, y)
    return _finite(result.statistic), _finite(result.pvalue)


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


# --- response times ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSql:
    """How a grouped statement finds a person's (``p``) or a row's group: extra joins, the
    key and the label (NULL where Python labels the group)."""

    joins: str
    key: str
    label: str


def group_sql(flt: DashboardFilter, params: Params, tenant_param: str, at: str) -> GroupSql:
    """The group of a row of person ``p`` dated ``at`` under the filter's grouping.

    Months and quarters truncate ``at`` in UTC; org units roll the person's unit up to the
    direct children of the filter's unit (a person in that unit itself stays in it), or to
    the top-level units; levels are the person's level."""
    unit = flt.time_unit
    if unit is not None:
        truncated = f"date_trunc({params.add(unit, 'text')}, {at} AT TIME ZONE 'UTC')::date"
        return GroupSql("", truncated, "NULL::text")
    if flt.group_by == Grouping.LEVEL:
        return GroupSql("", "p.level", "NULL::text")
    if flt.org_unit_id is not None:
        root = params.add(flt.org_unit_id, "uuid")
        # Only placeholders are interpolated; every value travels as a parameter.
        depth = (
            "(SELECT nlevel(r.path) FROM org_units r "  # noqa: S608
            f"WHERE r.tenant_id = {tenant_param} AND r.id = {root})"
        )
    else:
        depth = "0"
    joins = (
        f" LEFT JOIN org_units pu ON pu.tenant_id = {tenant_param} AND pu.id = p.org_unit_id"
        f" LEFT JOIN org_units g ON g.tenant_id = {tenant_param}"
        f" AND g.path = subpath(pu.path, 0, least(nlevel(pu.path), {depth} + 1))"
    )
    return GroupSql(joins, "g.id::text", "g.name")


_SLA_SQL = """
WITH people AS ({people}),
measured AS (
    SELECT f.employee_id, f.kind, f.value, {key} AS k, {label} AS label
    FROM facts f
    JOIN people p ON p.id = f.employee_id{joins}
    WHERE f.tenant_id = $1 AND f.kind IN ({homework}, {question}) AND f.superseded_at IS NULL
      AND f.occurred_at >= {start} AND f.occurred_at < {end}
),
grouped AS (
    SELECT k, label,
           count(*) FILTER (WHERE kind = {homework})::int AS homework_n,
           count(*) FILTER (WHERE kind = {homework} AND value <= {homework_limit})::int
               AS homework_within,
           count(*) FILTER (WHERE kind = {question})::int AS question_n,
           count(*) FILTER (WHERE kind = {question} AND value <= {question_limit})::int
               AS question_within,
           count(DISTINCT employee_id)::int AS people
    FROM measured GROUP BY k, label
)
{select}
"""
# Months and quarters without any figure are listed too: a chart's axis has no holes.
_SLA_TIME_SELECT = """
SELECT s.k::date AS k, NULL::text AS label, g.homework_n, g.homework_within, g.question_n,
       g.question_within, g.people
FROM generate_series(date_trunc({unit}, {first_day}::timestamp), {last_day}::timestamp,
                     {step}::interval) AS s(k)
LEFT JOIN grouped g ON g.k = s.k::date
ORDER BY s.k
"""
_SLA_GROUP_SELECT = "SELECT * FROM grouped ORDER BY label, k"
# The interval from one time group to the next (an interval has no "quarter" unit).
_STEPS = {"month": "1 month", "quarter": "3 months"}


async def sla_trend(tenant: TenantID, flt: DashboardFilter, audience: Audience) -> list[SlaGroup]:
    """Homework graded within 24 h and questions answered within 1 h, per group."""
    tx = require_tenant(tenant)
    start, end = period_bounds(flt)
    params = Params(tenant)
    people = scoped_people_sql("$1", flt, audience, params)
    grouping = group_sql(flt, params, "$1", "f.occurred_at")
    fields = {
        "homework": params.add(HOMEWORK_KIND, "text"),
        "question": params.add(QUESTION_KIND, "text"),
        "homework_limit": params.add(HOMEWORK_LIMIT_HOURS, "float8"),
        "question_limit": params.add(QUESTION_LIMIT_HOURS, "float8"),
        "start": params.add(start, "timestamptz"),
        "end": params.add(end, "timestamptz"),
    }
    if flt.time_unit is not None:
        select = _SLA_TIME_SELECT.format(
            unit=params.add(flt.time_unit, "text"),
            step=params.add(_STEPS[flt.time_unit], "text"),
            first_day=params.add(flt.starts_on, "date"),
            last_day=params.add(flt.ends_on, "date"),
        )
    else:
        select = _SLA_GROUP_SELECT
    sql = _SLA_SQL.format(
        people=people,
        key=grouping.key,
        label=grouping.label,
        joins=grouping.joins,
        select=select,
        **fields,
    )
    rows = await tx.fetch(sql, *params.values)
    pack = await pack_of(tenant) if flt.group_by == Grouping.LEVEL else None
    groups = [_sla_group(_group_of(row, flt, pack), row, audience) for row in rows]
    if pack is not None:
        # Levels in the ladder's order, unknown codes and people without one last.
        ranks = {level.code: level.rank for level in pack.levels}
        groups.sort(key=lambda g: (ranks.get(g.group.key, len(ranks) + 1), g.group.key))
    return groups


def _group_of(row: Any, flt: DashboardFilter, pack: PackFile | None) -> Group:
    key = row["k"]
    if flt.time_unit is not None:
        return time_group(key, flt.time_unit)
    if pack is not None:
        return level_group(pack, key)
    if key is None:
        return no_unit_group()
    return Group(key, row["label"], row["label"])


def _sla_group(group: Group, row: Any, audience: Audience) -> SlaGroup:
    people = row["people"] or 0
    if audience.suppresses(people):
        return SlaGroup(group, None, None, None, None, None, suppressed=True)
    homework_n, question_n = row["homework_n"] or 0, row["question_n"] or 0
    return SlaGroup(
        group=group,
        homework_rate=row["homework_within"] / homework_n if homework_n else None,
        homework_n=homework_n,
        question_rate=row["question_within"] / question_n if question_n else None,
        question_n=question_n,
        people=people,
        suppressed=False,
    )
