"""Why a score is what it is: one line's or one scorecard's figures, said in en and zh.

Fairness is the product (DESIGN.md, section 1): every score names the facts it used, the
baseline and target it was held to, the rules that moved that target and why, and how many
data points stand behind it. These are pure functions over stored rows and the indicator
definitions the period scored with, so an explanation of a closed period reads the same
forever. ``data`` is structured (camelCase keys, for clients); the sentences are for people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from domain.indicators.models import (
    LineStatus,
    Period,
    Scorecard,
    ScorecardLine,
    ScorecardStatus,
)
from domain.indicators.statistics import STRETCH_POINTS
from domain.templates.indicators import (
    FactKind,
    IndicatorDefinition,
    IndicatorSetDefinition,
    Text,
)

CATEGORY_NAMES: dict[str, Text] = {
    "core": Text(en="Core (against a baseline)", zh="核心指标（对照基线）"),
    "target": Text(en="Targets", zh="目标指标"),
    "auxiliary": Text(en="Auxiliary", zh="辅助指标"),
}
STATUS_NAMES: dict[str, Text] = {
    LineStatus.SCORED.value: Text(en="scored", zh="已计分"),
    LineStatus.NO_DATA.value: Text(en="no data", zh="无数据"),
    LineStatus.INSUFFICIENT_DATA.value: Text(en="insufficient data", zh="数据不足"),
    LineStatus.NO_BASELINE.value: Text(en="no baseline", zh="无基线"),
}


class Bilingual(Protocol):
    """A label in en and zh (the pack's ``Text`` and ``LocalizedText`` alike)."""

    @property
    def en(self) -> str: ...

    @property
    def zh(self) -> str: ...


@dataclass(frozen=True)
class Explanation:
    sentence_en: str
    sentence_zh: str
    data: dict[str, Any]


# Units said as a bare number, and the Chinese of the time units that limits are given in.
UNITLESS = frozenset({"", "count"})
BASELINE_KINDS: dict[str, tuple[str, str]] = {
    "level": ("level", "职级"),
    "person": ("own", "个人"),
    "band": ("starting-band", "起点分段"),
}
UNITS_ZH = {"hours": "小时", "days": "天", "minutes": "分钟"}


@dataclass(frozen=True)
class PeriodRange:
    """The span of facts a period scores: ``starts`` inclusive to ``before`` exclusive, UTC,
    exactly the bounds the scoring engine reads (so a client can list those facts)."""

    first_day: date
    last_day: date
    starts: datetime
    before: datetime

    @classmethod
    def of(cls, period: Period) -> PeriodRange:
        return cls(
            first_day=period.starts_on,
            last_day=period.ends_on,
            starts=datetime.combine(period.starts_on, time.min, UTC),
            before=datetime.combine(period.ends_on + timedelta(days=1), time.min, UTC),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "firstDay": self.first_day.isoformat(),
            "lastDay": self.last_day.isoformat(),
            "from": self.starts.isoformat(),
            "before": self.before.isoformat(),
        }


# --- one line --------------------------------------------------------------------------------


def explain_line(
    line: ScorecardLine,
    indicator: IndicatorDefinition | None,
    period: Period,
    fact_kind: FactKind | None = None,
) -> Explanation:
    """The line's figures and one sentence each in en and zh.

    ``indicator`` is the definition of the indicator set version the period scored with;
    None only if that version no longer names it, when the line is explained by its code.
    """
    span = PeriodRange.of(period)
    name = indicator.name if indicator is not None else Text(en=line.indicator, zh=line.indicator)
    unit = indicator.unit if indicator is not None else ""
    data = _line_data(line, indicator, span, fact_kind)
    status = LineStatus(line.status)
    if status == LineStatus.SCORED:
        en, zh = _scored_sentences(line, indicator, name, unit, span, fact_kind)
    else:
        en, zh = _unscored_sentences(line, indicator, name, unit, span)
    return Explanation(sentence_en=en, sentence_zh=zh, data=data)


def _line_data(
    line: ScorecardLine,
    indicator: IndicatorDefinition | None,
    span: PeriodRange,
    fact_kind: FactKind | None,
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "threshold": line.threshold,
        "target": line.target,
        "stretch": line.stretch,
        "limit": line.limit,
    }
    if indicator is not None:
        policy = indicator.target
        target["policy"] = policy.policy
        if policy.policy == "baseline":
            target["multipliers"] = {
                "threshold": policy.threshold,
                "target": policy.target,
                "stretch": policy.stretch,
            }
    baseline = None
    if line.baseline is not None or line.baseline_kind is not None:
        baseline = {
            "kind": line.baseline_kind,
            "value": line.baseline,
            "n": line.baseline_n,
            "low": line.baseline_low,
            "high": line.baseline_high,
        }
    return {
        "indicator": line.indicator,
        "name": _text_json(indicator.name) if indicator is not None else None,
        "category": line.category,
        "group": line.group,
        "unit": indicator.unit if indicator is not None else None,
        "direction": indicator.direction if indicator is not None else None,
        "aggregation": indicator.aggregation if indicator is not None else None,
        "status": LineStatus(line.status).value,
        "facts": {
            "kind": indicator.fact_kind if indicator is not None else None,
            "kindName": _text_json(fact_kind.name) if fact_kind is not None else None,
            "count": line.facts,
            **span.as_json(),
        },
        "actual": line.actual,
        "rawActual": line.raw_actual,
        "n": line.n,
        "minN": indicator.min_n if indicator is not None else None,
        "baseline": baseline,
        "target": target,
        "adjustments": list(line.adjustments),
        "achievement": line.achievement,
        "points": line.points,
        "definedWeight": indicator.weight if indicator is not None else None,
        "weight": line.weight,
        "effectiveWeight": line.effective_weight,
        "weightRedistributed": LineStatus(line.status) != LineStatus.SCORED,
        "watch": line.watch,
    }


def _scored_sentences(
    line: ScorecardLine,
    indicator: IndicatorDefinition | None,
    name: Text,
    unit: str,
    span: PeriodRange,
    fact_kind: FactKind | None,
) -> tuple[str, str]:
    assert line.actual is not None
    kind_en = f" of “{fact_kind.name.en}”" if fact_kind is not None else ""
    kind_zh = f"「{fact_kind.name.zh}」" if fact_kind is not None else ""
    days_en = f"{span.first_day} to {span.last_day}"
    days_zh = f"{span.first_day} 至 {span.last_day}"
    en = [
        f"{name.en}: {_figure(line.actual, unit)} from {line.n} data points "
        f"({line.facts} facts{kind_en} dated {days_en})"
    ]
    zh = [
        f"{name.zh}：实际值 {_figure(line.actual, unit)}，基于 {line.n} 个数据点"
        f"（{days_zh} 的 {line.facts} 条{kind_zh}记录）"
    ]
    if line.raw_actual is not None and not _close(line.raw_actual, line.actual):
        en.append(
            f"shrunk from a raw {_figure(line.raw_actual, unit)} toward the level, "
            "as small samples are"
        )
        zh.append(f"原始值 {_figure(line.raw_actual, unit)} 按小样本规则向职级收缩")
    baseline_en, baseline_zh = _baseline_phrases(line, unit)
    if baseline_en:
        en.append(baseline_en)
        zh.append(baseline_zh)
    target_en, target_zh = _target_phrases(line, indicator, unit, fact_kind)
    en.append(target_en)
    zh.append(target_zh)
    for adjustment in line.adjustments:
        en.append(f"rule {adjustment.get('rule')}: {adjustment.get('reasonEn')}")
        zh.append(f"规则 {adjustment.get('rule')}：{adjustment.get('reasonZh')}")
    assert line.points is not None
    achievement = line.achievement if line.achievement is not None else 0.0
    weight_en, weight_zh = _weight_phrases(line)
    en.append(f"achievement {_percent(achievement)}, {_number(line.points)} points, {weight_en}")
    zh.append(f"达成率 {_percent(achievement)}，得 {_number(line.points)} 分，{weight_zh}")
    sentence_en = "; ".join(en) + "."
    sentence_zh = "；".join(zh) + "。"
    if line.watch:
        sentence_en += (
            " Watch: several months in a row worse than the baseline (shown, not scored)."
        )
        sentence_zh += "关注：连续数月差于基线（仅提示，不计分）。"
    return sentence_en, sentence_zh


def _unscored_sentences(
    line: ScorecardLine,
    indicator: IndicatorDefinition | None,
    name: Text,
    unit: str,
    span: PeriodRange,
) -> tuple[str, str]:
    days_en = f"{span.first_day} to {span.last_day}"
    days_zh = f"{span.first_day} 至 {span.last_day}"
    weight = _weight(line.weight)
    moved_en = f"its weight of {weight} was redistributed over the indicators with data"
    moved_zh = f"其权重 {weight} 已按比例分配给有数据的指标"
    status = LineStatus(line.status)
    if status == LineStatus.NO_DATA:
        return (
            f"{name.en}: no facts dated {days_en}, so it is not scored (and not counted as "
            f"zero); {moved_en}.",
            f"{name.zh}：{days_zh} 没有记录，因此不计分（也不按零分计）；{moved_zh}。",
        )
    if status == LineStatus.INSUFFICIENT_DATA:
        needed = indicator.min_n if indicator is not None else None
        need_en = f", fewer than the {needed} needed for a fair score" if needed else ""
        need_zh = f"，少于公平评分所需的 {needed} 个" if needed else ""
        return (
            f"{name.en}: only {line.n} data points dated {days_en}{need_en}, so it reads "
            f"“insufficient data” instead of a number; {moved_en}.",
            f"{name.zh}：{days_zh} 仅有 {line.n} 个数据点{need_zh}，"
            f"因此显示“数据不足”而非分数；{moved_zh}。",
        )
    kind_en, kind_zh = BASELINE_KINDS.get(line.baseline_kind or "level", BASELINE_KINDS["level"])
    known = line.actual is not None
    actual = f"{_figure(line.actual, unit)} from {line.n} data points, but " if known else ""
    actual_zh = f"实际值 {_figure(line.actual, unit)}（{line.n} 个数据点），但" if known else ""
    return (
        f"{name.en}: {actual}there is no {kind_en} baseline to set its target "
        f"against yet (no history in the 12 months before the period); {moved_en}.",
        f"{name.zh}：{actual_zh}尚无{kind_zh}基线可据以设定目标"
        f"（本期之前 12 个月没有历史数据）；{moved_zh}。",
    )


def _baseline_phrases(line: ScorecardLine, unit: str) -> tuple[str, str]:
    if line.baseline is None:
        return "", ""
    value = _figure(line.baseline, unit)
    if line.baseline_kind == "person":
        return (
            f"own baseline {value} (from {line.baseline_n or 0} facts of the 12 months before, "
            "shrunk toward the level)",
            f"个人基线 {value}（前 12 个月的 {line.baseline_n or 0} 条记录，向职级收缩）",
        )
    if line.baseline_kind == "band":
        return (
            f"starting-band baseline {value} (median gain of {line.baseline_n or 0} of the "
            "tenant's classes that started in the same pre-test bands over the 12 months "
            "before)",
            f"起点分段基线 {value}（前 12 个月本单位起点处于同一前测分段的 "
            f"{line.baseline_n or 0} 个班级的增益中位数）",
        )
    interval_en = interval_zh = ""
    if line.baseline_low is not None and line.baseline_high is not None:
        low, high = _figure(line.baseline_low, unit), _figure(line.baseline_high, unit)
        interval_en = f", 95 % interval {low} to {high}"
        interval_zh = f"，95% 区间 {low} 至 {high}"
    peers = line.baseline_n or 0
    return (
        f"level baseline {value} (median of {peers} peers over the 12 months before, the person "
        f"left out{interval_en})",
        f"职级基线 {value}（前 12 个月 {peers} 位同级人员的中位数，不含本人{interval_zh}）",
    )


def _target_phrases(
    line: ScorecardLine,
    indicator: IndicatorDefinition | None,
    unit: str,
    fact_kind: FactKind | None,
) -> tuple[str, str]:
    assert line.target is not None
    assert line.threshold is not None
    assert line.stretch is not None
    target, threshold, stretch = (
        _figure(line.target, unit),
        _figure(line.threshold, unit),
        _figure(line.stretch, unit),
    )
    relative_en = relative_zh = ""
    if indicator is not None and indicator.target.policy == "baseline":
        relative_en = f", {indicator.target.target:g} x the baseline"
        relative_zh = f"，即基线的 {indicator.target.target:g} 倍"
    limit_en = limit_zh = ""
    if line.limit is not None:
        kind_unit = fact_kind.unit if fact_kind is not None else ""
        limit = f"{line.limit:g} {kind_unit}".rstrip()
        # Chinese takes a space between a figure and Latin text, none before Chinese text.
        limit_cn = f"{line.limit:g} {UNITS_ZH[kind_unit]}" if kind_unit in UNITS_ZH else limit + " "
        if indicator is not None and indicator.aggregation == "count_at_least":
            limit_en = f", counting facts of at least {limit}"
            limit_zh = f"，计入不低于 {limit_cn}的记录"
        else:
            limit_en = f", counting facts within {limit}"
            limit_zh = f"，以 {limit_cn}为时限"
    return (
        f"target {target}{relative_en} (threshold {threshold} for 80 points, stretch {stretch} "
        f"for 120{limit_en})",
        f"目标 {target}{relative_zh}（门槛 {threshold} 得 80 分，挑战值 {stretch} 得 120 分"
        f"{limit_zh}）",
    )


def _weight_phrases(line: ScorecardLine) -> tuple[str, str]:
    weight, effective = _weight(line.weight), _weight(line.effective_weight)
    if _close(line.weight, line.effective_weight):
        return f"weight {weight}", f"权重 {weight}"
    return (
        f"weight {weight}, counting {effective} once missing indicators' weight is redistributed",
        f"权重 {weight}，缺失指标的权重重新分配后为 {effective}",
    )


# --- one scorecard ---------------------------------------------------------------------------


def explain_scorecard(
    card: Scorecard,
    period: Period,
    definition: IndicatorSetDefinition | None,
    *,
    level_name: Bilingual | None = None,
) -> Explanation:
    """The scorecard's total, how it was reached, and one sentence each in en and zh.

    ``definition`` is the indicator set version the card scored with (for names); without it
    the explanation names indicators and groups by code.
    """
    details: Mapping[str, Any] = card.details or {}
    span = PeriodRange.of(period)
    level: Bilingual = level_name or Text(en=card.level, zh=card.level)
    names = _names(definition)
    groups = _groups(definition)
    categories = [
        {
            "category": code,
            "name": _text_json(CATEGORY_NAMES.get(code, Text(en=code, zh=code))),
            "points": points,
        }
        for code, points in sorted((details.get("categories") or {}).items())
    ]
    group_points = [
        {"group": code, "name": _text_json(groups[code]) if code in groups else None, "points": p}
        for code, p in sorted((details.get("groups") or {}).items())
    ]
    redistributed = [
        {
            "indicator": entry.get("indicator"),
            "name": _text_json(names[entry["indicator"]])
            if entry.get("indicator") in names
            else None,
            "weight": entry.get("weight"),
            "status": entry.get("status"),
        }
        for entry in details.get("redistributed") or []
    ]
    blend = details.get("blend")
    adjustment = None
    if card.adjustment or card.adjustment_comment:
        adjustment = {
            "points": card.adjustment,
            "comment": card.adjustment_comment,
            "by": str(card.adjusted_by) if card.adjusted_by is not None else None,
            "at": card.adjusted_at.isoformat() if card.adjusted_at is not None else None,
        }
    data: dict[str, Any] = {
        "status": ScorecardStatus(card.status).value,
        "period": {"code": period.code, **span.as_json()},
        "level": {"code": card.level, "name": _text_json(level)},
        "indicatorSetVersion": card.indicator_set_version,
        "indicatorTotal": card.indicator_total,
        "scoredWeight": card.scored_weight,
        "categories": categories,
        "groups": group_points,
        "redistributed": redistributed,
        "blend": dict(blend) if isinstance(blend, Mapping) else None,
        "reviewPoints": card.review_points,
        "reviewResponses": card.review_responses,
        "blendedTotal": card.blended_total,
        "adjustment": adjustment,
        "total": card.total,
        "maximum": STRETCH_POINTS,
        "percentile": card.percentile,
    }
    if ScorecardStatus(card.status) != ScorecardStatus.SCORED or card.total is None:
        en, zh = _unscored_card_sentences(period, redistributed)
    else:
        en, zh = _scored_card_sentences(card, categories, redistributed, blend, level)
    return Explanation(sentence_en=en, sentence_zh=zh, data=data)


def _scored_card_sentences(
    card: Scorecard,
    categories: Sequence[Mapping[str, Any]],
    redistributed: Sequence[Mapping[str, Any]],
    blend: Any,
    level: Bilingual,
) -> tuple[str, str]:
    assert card.total is not None
    assert card.indicator_total is not None
    parts_en = ", ".join(f"{c['name']['en'].lower()} {_number(c['points'])}" for c in categories)
    parts_zh = "，".join(f"{c['name']['zh']} {_number(c['points'])}" for c in categories)
    en = [
        f"Total {_number(card.total)} of {STRETCH_POINTS:g} points: the indicators give "
        f"{_number(card.indicator_total)} ({parts_en})"
    ]
    zh = [
        f"总分 {_number(card.total)}（满分 {STRETCH_POINTS:g}）：指标得分 "
        f"{_number(card.indicator_total)}（{parts_zh}）"
    ]
    if isinstance(blend, Mapping):
        if blend.get("applied") and card.review_points is not None:
            mean = blend.get("meanRating")
            en.append(
                f"reviews ({card.review_responses} responses, mean rating {mean}) give "
                f"{_number(card.review_points)} points, blended {blend.get('indicators'):g} % "
                f"indicators with {blend.get('reviews'):g} % reviews to "
                f"{_number(card.blended_total or 0.0)}"
            )
            zh.append(
                f"评价（{card.review_responses} 份，平均 {mean} 分）折合 "
                f"{_number(card.review_points)} 分，按指标 {blend.get('indicators'):g}% 与评价 "
                f"{blend.get('reviews'):g}% 加权为 {_number(card.blended_total or 0.0)}"
            )
        else:
            needed = blend.get("minResponses")
            en.append(
                f"reviews are not blended in: {card.review_responses} responses, {needed} needed"
            )
            zh.append(f"评价未计入：仅 {card.review_responses} 份，至少需要 {needed} 份")
    if card.adjustment:
        comment = card.adjustment_comment or ""
        en.append(f"manager adjustment {card.adjustment:+g} (“{comment}”)")
        zh.append(f"经理调整 {card.adjustment:+g}（“{comment}”）")
    if redistributed:
        weight = _weight(sum(float(entry.get("weight") or 0) for entry in redistributed))
        listed_en = ", ".join(
            f"{_name(entry, 'en')} ({_status_name(entry, 'en')})" for entry in redistributed
        )
        listed_zh = "、".join(
            f"{_name(entry, 'zh')}（{_status_name(entry, 'zh')}）" for entry in redistributed
        )
        en.append(
            f"not scored: {listed_en}; their weight of {weight} was redistributed over the "
            "indicators with data"
        )
        zh.append(f"未计分：{listed_zh}；其权重 {weight} 已按比例分配给有数据的指标")
    if card.percentile is not None:
        en.append(f"{_ordinal(card.percentile)} percentile within level {level.en}")
        zh.append(f"在{level.zh}职级中位于第 {round(card.percentile)} 百分位")
    else:
        en.append(f"no percentile: nobody else at level {level.en} was scored")
        zh.append(f"无百分位：{level.zh}职级没有其他人计分")
    return "; ".join(en) + ".", "；".join(zh) + "。"


def _unscored_card_sentences(
    period: Period, redistributed: Sequence[Mapping[str, Any]]
) -> tuple[str, str]:
    listed_en = ", ".join(
        f"{_name(entry, 'en')} ({_status_name(entry, 'en')})" for entry in redistributed
    )
    listed_zh = "、".join(
        f"{_name(entry, 'zh')}（{_status_name(entry, 'zh')}）" for entry in redistributed
    )
    return (
        f"No total for {period.code}: no indicator had enough data to score ({listed_en}); "
        "nothing is counted as zero.",
        f"{period.code} 无总分：没有指标有足够数据计分（{listed_zh}）；不按零分计。",
    )


# --- wording ---------------------------------------------------------------------------------


def _names(definition: IndicatorSetDefinition | None) -> dict[str, Text]:
    if definition is None:
        return {}
    return {indicator.code: indicator.name for indicator in definition.indicators}


def _groups(definition: IndicatorSetDefinition | None) -> dict[str, Text]:
    if definition is None:
        return {}
    return {group.code: group.name for group in definition.weight_groups}


def _name(entry: Mapping[str, Any], language: str) -> str:
    name = entry.get("name")
    if isinstance(name, Mapping) and name.get(language):
        return str(name[language])
    return str(entry.get("indicator"))


def _status_name(entry: Mapping[str, Any], language: str) -> str:
    status = STATUS_NAMES.get(str(entry.get("status")))
    if status is None:
        return str(entry.get("status"))
    return status.en if language == "en" else status.zh


def _text_json(text: Bilingual) -> dict[str, str]:
    return {"en": text.en, "zh": text.zh}


def _figure(value: float | None, unit: str) -> str:
    """A figure in its indicator's unit: shares as percentages, counts bare, the rest with
    the unit."""
    if value is None:
        return "-"
    if unit == "%":
        return f"{value * 100:.4g} %"
    if unit in UNITLESS:
        return f"{value:.4g}"
    return f"{value:.4g} {unit}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _number(value: float) -> str:
    return f"{value:.1f}"


def _weight(value: float) -> str:
    return f"{value:.4g}"


def _ordinal(value: float) -> str:
    whole = round(value)
    suffix = "th" if 10 <= whole % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
