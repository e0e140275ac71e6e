"""Explanations: every line and scorecard says which facts it used, what it was held to, which
rules moved that and why, how many data points stand behind it, in en and zh."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.indicators import repository as repo
from domain.indicators.explanations import explain_line, explain_scorecard
from domain.indicators.models import (
    LineStatus,
    Period,
    PeriodStatus,
    Scorecard,
    ScorecardLine,
    ScorecardStatus,
)
from domain.templates.registry import pack_for
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
from tests.factories_records import create_employee, create_org_unit

PACK = pack_for("enterprise_rd")
SPIKE = {
    "rule": "demand_spike",
    "kind": "demand_spike",
    "inputs": {"factKind": "sales_request", "incoming": 12, "usual": 4.0, "multiple": 1.5},
    "effect": {"limit": {"from": 24.0, "to": 48.0}},
    "reasonEn": "12 incoming sales requests against a usual 4.0: the limit moves from 24 to 48",
    "reasonZh": "本期进入 12 条，通常约 4.0 条：时限由 24 放宽到 48",
}


def _period() -> Period:
    return Period(
        id=uuid4(),
        code="2026-Q3",
        kind="quarter",
        starts_on=date(2026, 7, 1),
        ends_on=date(2026, 9, 30),
        status=PeriodStatus.OPEN,
        indicator_set_version=1,
    )


def _line(indicator: str, status: LineStatus, **figures: Any) -> ScorecardLine:
    definition = PACK.indicator(indicator)
    assert definition is not None
    values: dict[str, Any] = {
        "n": 0,
        "facts": 0,
        "weight": definition.weight,
        "effective_weight": 0.0,
        "adjustments": [],
        "watch": False,
        **figures,
    }
    return ScorecardLine(
        indicator=indicator,
        category=definition.category,
        group=definition.group,
        status=status,
        **values,
    )


def test_a_scored_line_names_its_facts_baseline_target_rules_points_and_weight() -> None:
    # given a line whose answer limit a demand spike moved from 24 h to 48 h
    line = _line(
        "response_24h",
        LineStatus.SCORED,
        actual=0.8,
        raw_actual=0.8,
        n=10,
        facts=10,
        threshold=0.75,
        target=0.9,
        stretch=1.0,
        limit=48.0,
        achievement=0.8 / 0.9,
        points=80 + 20 * (0.8 - 0.75) / 0.15,
        effective_weight=25.0,
        adjustments=[SPIKE],
    )
    indicator = PACK.indicator("response_24h")
    # when
    explained = explain_line(line, indicator, _period(), PACK.fact_kind("feasibility_answer"))
    # then the data lists the facts to fetch, and the figures behind the points
    data = explained.data
    assert data["status"] == "scored"
    assert data["facts"] == {
        "kind": "feasibility_answer",
        "kindName": {"en": "Feasibility answer", "zh": "可行性答复"},
        "count": 10,
        "firstDay": "2026-07-01",
        "lastDay": "2026-09-30",
        "from": "2026-07-01T00:00:00+00:00",
        "before": "2026-10-01T00:00:00+00:00",
    }
    assert (data["actual"], data["n"], data["minN"]) == (0.8, 10, 5)
    assert data["target"] == {
        "threshold": 0.75,
        "target": 0.9,
        "stretch": 1.0,
        "limit": 48.0,
        "policy": "fixed",
    }
    assert data["adjustments"] == [SPIKE]
    assert (data["weight"], data["definedWeight"], data["effectiveWeight"]) == (10, 10, 25.0)
    assert data["weightRedistributed"] is False
    assert data["points"] == pytest.approx(86.6667, abs=1e-3)
    # and the sentences say it in words, the rule's reason included
    en, zh = explained.sentence_en, explained.sentence_zh
    assert en.startswith("Feasibility answer within 24 h: 80 % from 10 data points (10 facts")
    assert "dated 2026-07-01 to 2026-09-30" in en
    assert "target 90 % (threshold 75 % for 80 points, stretch 100 % for 120" in en
    assert "counting facts within 48 hours" in en
    assert "rule demand_spike: 12 incoming sales requests" in en
    assert "achievement 89 %, 86.7 points, weight 10, counting 25 once" in en
    assert zh.startswith("24 小时内可行性答复：实际值 80 %，基于 10 个数据点")
    assert "时限由 24 放宽到 48" in zh
    assert "以 48 小时为时限" in zh
    assert "得 86.7 分" in zh


def test_a_baseline_line_says_which_baseline_with_its_n_and_interval_and_any_shrinkage() -> None:
    line = _line(
        "escaped_defect_rate",
        LineStatus.SCORED,
        actual=0.1,
        raw_actual=0.0,
        n=6,
        facts=6,
        baseline=0.12,
        baseline_kind="level",
        baseline_n=7,
        baseline_low=0.08,
        baseline_high=0.2,
        threshold=0.18,
        target=0.12,
        stretch=0.084,
        achievement=1 - (0.1 - 0.12) / 0.12,
        points=100 + 20 * (0.12 - 0.1) / (0.12 - 0.084),
        effective_weight=15.0,
    )
    explained = explain_line(line, PACK.indicator("escaped_defect_rate"), _period())
    assert explained.data["baseline"] == {
        "kind": "level",
        "value": 0.12,
        "n": 7,
        "low": 0.08,
        "high": 0.2,
    }
    assert explained.data["target"]["multipliers"] == {
        "threshold": 1.5,
        "target": 1.0,
        "stretch": 0.7,
    }
    en = explained.sentence_en
    assert "shrunk from a raw 0 % toward the level" in en
    assert "level baseline 12 % (median of 7 peers" in en
    assert "95 % interval 8 % to 20 %" in en
    assert "target 12 %, 1 x the baseline" in en
    assert "weight 15." in en or en.endswith("weight 15.")
    assert "职级基线 12 %（前 12 个月 7 位同级人员的中位数" in explained.sentence_zh


@pytest.mark.parametrize(
    ("status", "figures", "en", "zh"),
    [
        (
            LineStatus.NO_DATA,
            {},
            "Development cycle vs baseline: no facts dated 2026-07-01 to 2026-09-30, so it is "
            "not scored (and not counted as zero); its weight of 20 was redistributed",
            "开发周期（相对基线）：2026-07-01 至 2026-09-30 没有记录，因此不计分（也不按零分计）；"
            "其权重 20 已按比例分配给有数据的指标。",
        ),
        (
            LineStatus.INSUFFICIENT_DATA,
            {"n": 3, "facts": 3, "raw_actual": 4.0},
            "Development cycle vs baseline: only 3 data points dated 2026-07-01 to 2026-09-30, "
            "fewer than the 5 needed for a fair score, so it reads “insufficient data”",
            "仅有 3 个数据点，少于公平评分所需的 5 个",
        ),
        (
            LineStatus.NO_BASELINE,
            {"n": 6, "facts": 6, "actual": 4.0, "raw_actual": 4.0, "baseline_kind": "level"},
            "Development cycle vs baseline: 4 days/point from 6 data points, but there is no "
            "level baseline to set its target against yet",
            "尚无职级基线可据以设定目标",
        ),
    ],
)
def test_an_unscored_line_says_why_and_that_its_weight_was_redistributed(
    status: LineStatus, figures: dict[str, Any], en: str, zh: str
) -> None:
    line = _line("cycle_time", status, **figures)
    explained = explain_line(line, PACK.indicator("cycle_time"), _period())
    assert en in explained.sentence_en
    assert "its weight of 20 was redistributed over the indicators with data" in (
        explained.sentence_en
    )
    assert zh in explained.sentence_zh
    assert explained.data["status"] == status.value
    assert explained.data["weightRedistributed"] is True
    assert explained.data["points"] is None


def _card(**values: Any) -> Scorecard:
    defaults: dict[str, Any] = {
        "id": uuid4(),
        "period_id": uuid4(),
        "employee_id": uuid4(),
        "level": "senior",
        "status": ScorecardStatus.SCORED,
        "review_responses": 0,
        "adjustment": 0.0,
        "scored_weight": 28.0,
        "indicator_set_version": 1,
        "computed_at": datetime(2026, 10, 2, tzinfo=UTC),
        "details": {},
    }
    return Scorecard(**{**defaults, **values})


def test_a_scorecard_explains_its_total_subtotals_blend_adjustment_and_percentile() -> None:
    card = _card(
        indicator_total=90.0,
        review_points=96.0,
        review_responses=6,
        blended_total=91.2,
        adjustment=3.0,
        adjustment_comment="Led the incident review for the whole department",
        adjusted_at=datetime(2026, 10, 5, tzinfo=UTC),
        total=94.2,
        percentile=62.5,
        details={
            "categories": {"core": 10.0, "target": 80.0},
            "groups": {"delivery": 60.0, "responsiveness": 30.0},
            "redistributed": [
                {"indicator": "cycle_time", "weight": 20, "status": "no_data"},
                {"indicator": "escaped_defect_rate", "weight": 15, "status": "insufficient_data"},
            ],
            "blend": {
                "indicators": 80,
                "reviews": 20,
                "responses": 6,
                "minResponses": 3,
                "applied": True,
                "meanRating": 4.2,
            },
        },
    )
    level = PACK.level("senior")
    assert level is not None
    explained = explain_scorecard(card, _period(), PACK.defaults(), level_name=level.name)
    data = explained.data
    assert data["total"] == 94.2
    assert data["categories"] == [
        {
            "category": "core",
            "name": {"en": "Core (against a baseline)", "zh": "核心指标（对照基线）"},
            "points": 10.0,
        },
        {"category": "target", "name": {"en": "Targets", "zh": "目标指标"}, "points": 80.0},
    ]
    assert data["redistributed"] == [
        {
            "indicator": "cycle_time",
            "name": {"en": "Development cycle vs baseline", "zh": "开发周期（相对基线）"},
            "weight": 20,
            "status": "no_data",
        },
        {
            "indicator": "escaped_defect_rate",
            "name": {"en": "Escaped defect rate", "zh": "缺陷逃逸率"},
            "weight": 15,
            "status": "insufficient_data",
        },
    ]
    assert data["blend"]["applied"] is True
    assert data["adjustment"]["points"] == 3.0
    assert data["adjustment"]["comment"] == "Led the incident review for the whole department"
    assert (data["percentile"], data["level"]["code"]) == (62.5, "senior")
    en = explained.sentence_en
    assert en.startswith("Total 94.2 of 120 points: the indicators give 90.0 (core")
    assert "reviews (6 responses, mean rating 4.2) give 96.0 points, blended 80 %" in en
    assert "manager adjustment +3 (“Led the incident review for the whole department”)" in en
    assert (
        "not scored: Development cycle vs baseline (no data), Escaped defect rate "
        "(insufficient data); their weight of 35 was redistributed" in en
    )
    assert en.endswith("62nd percentile within level Senior engineer.")
    zh = explained.sentence_zh
    assert zh.startswith("总分 94.2（满分 120）")
    assert "经理调整 +3" in zh
    assert "在高级工程师职级中位于第 62 百分位" in zh


def test_a_scorecard_without_enough_data_says_so_and_counts_nothing_as_zero() -> None:
    card = _card(
        status=ScorecardStatus.INSUFFICIENT_DATA,
        scored_weight=0.0,
        details={
            "categories": {},
            "redistributed": [{"indicator": "score_gain", "weight": 30, "status": "no_data"}],
        },
    )
    explained = explain_scorecard(card, _period(), None)
    assert explained.sentence_en == (
        "No total for 2026-Q3: no indicator had enough data to score (score_gain (no data)); "
        "nothing is counted as zero."
    )
    assert explained.sentence_zh.startswith("2026-Q3 无总分")
    assert explained.data["total"] is None
    assert explained.data["adjustment"] is None


async def test_a_computed_line_points_at_exactly_the_facts_it_used() -> None:
    # given a scored person with facts inside and outside the quarter
    tenant = await create_tenant()
    team = await create_org_unit(tenant)
    person = await create_employee(tenant, level="senior", org_unit=team)
    await record_facts(tenant, person, "due_item", on_time(9, 1))
    before = datetime(2026, 6, 30, 23, 59, tzinfo=UTC)
    await record_facts(
        tenant, person, "due_item", [{"value": 0.0, "denominator": 1.0, "at": before}]
    )
    period = await create_period(tenant)
    await recompute(tenant, period)
    card = await scorecard_of(tenant, period, person)
    line = (await lines_of(tenant, card))["on_time_delivery"]

    # when explained
    explained = explain_line(
        line, PACK.indicator("on_time_delivery"), period, PACK.fact_kind("due_item")
    )

    # then listing facts with its bounds finds the ten it counted, not the one before
    facts = explained.data["facts"]
    async with tenant_transaction(tenant_id(tenant)):
        page = await repo.list_facts(
            tenant_id(tenant),
            first=100,
            after=None,
            employee_ids=[person.id],
            kind=facts["kind"],
            occurred_from=datetime.fromisoformat(facts["from"]),
            occurred_before=datetime.fromisoformat(facts["before"]),
            include_superseded=False,
        )
    assert len(page.items) == facts["count"] == line.n == 10
    assert explained.data["actual"] == 0.9
    assert "0.9" not in explained.sentence_en  # shares read as percentages
    assert "90 % from 10 data points" in explained.sentence_en
    card_text = explain_scorecard(card, period, PACK.defaults()).sentence_en
    assert "their weight of 72 was redistributed" in card_text
    assert "no percentile: nobody else at level senior was scored" in card_text
