"""Capability matching: who can take a piece of work, how long they would take, how likely
they finish by the deadline and with how many defects, all from the tenant's own facts and
open work.

What it owns
    The ranking of qualified people for a request (skills with a minimum level, a size in
    story points, a deadline, an optional quality bar and org-unit subtree), the predictions
    behind it, and the earliest date the work could be promised with ``CONFIDENCE``.

Who is qualified
    Active people (not archived, not gone, with a level) having every required skill at its
    minimum level or above, in the unit's subtree when one is given.

Pace (days per story point)
    Each ``requirement_delivered`` fact of the last ``HISTORY_MONTHS`` gives a pace
    ``value / denominator``; cycle times are skewed, so the arithmetic works on ln(pace). Per
    person: the mean m_i over n_i facts and the within-person variance s_i^2. Per level, over
    everyone of that level with pace facts in the window (qualified or not): the prior
    center is the median of the people's means, the within variance is pooled over people
    (weighted by n_i - 1), and the between-person variance t^2 comes from
    ``statistics.between_variance``. A person's ln-pace is ``statistics.shrink_mean``'s
    estimate, B = (s^2/n) / (t^2 + s^2/n); the pace shown is its exponential (the median of
    a log-normal), the baseline the exponential of the level's center. Someone without
    history gets the level's figure (n = 0); a level without history gives no prediction.

Cycle and finish probability
    predicted cycle days = pace x (open load + size): the open work comes first. The spread
    of ln(days per point) is the level's pooled within-person sigma, or the person's own
    once they have ``OWN_SPREAD_MIN_N`` facts, so P(done within d days) =
    Phi((ln(d / (open load + size)) - shrunk ln-pace) / sigma), with d the days from today
    to the deadline (none left: 0).

Defect rate (defects per delivered item)
    Each ``item_defects`` fact counts the defects of one delivered item. Counts are not
    successes out of trials, so the beta-binomial rule does not apply: the mean per item is
    shrunk as a mean toward the level's median, exactly as the pace is (on the raw scale,
    where zero defects is a normal value).

Feasible, ranking and the earliest date
    Feasible: P >= ``CONFIDENCE`` and, under a quality bar, a predicted defect rate at or
    below it (an unknown rate passes, with a note). Feasible people come first, then by P
    descending, predicted cycle ascending, id. The earliest date for one person is today +
    ceil(exp(shrunk + z x sigma) x (open load + size)) days, z the normal quantile of
    ``CONFIDENCE``: the first whole day on which P reaches it. The request's earliest date
    is the minimum over qualified people who meet the quality bar and have a pace and a
    spread.

Reading costs three statements whatever the number of people: one for the qualified people
with their skill levels and open load, one to see whether the stored capability profiles
(``domain.work.profiles``) are current, one for the profiles at their levels; when they are
not current, a few more rebuild them first from the facts. A request as of a past moment
summarises the facts itself, in one statement.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import NormalDist
from statistics import variance as sample_variance
from typing import Any
from uuid import UUID

from domain.indicators import statistics as st
from domain.work import profiles
from domain.work.models import OPEN_STATUSES
from tenants.errors import ServiceError, combined, invalid
from tenants.scope import TenantID, require_tenant

PACE_KIND = "requirement_delivered"
DEFECT_KIND = "item_defects"
HISTORY_MONTHS = 12
CONFIDENCE = 0.8
# From this many facts a person's own spread of ln(pace) is estimated well enough to use
# instead of the level's pooled one (the scoring rules' minimum n for items).
OWN_SPREAD_MIN_N = 5
# Below this many facts a person's estimate leans visibly on the level: said in the reasons.
FEW_FACTS = 5
MAX_LIMIT = 100
MIN_SKILL_LEVEL, MAX_SKILL_LEVEL = 1, 5

_Z_CONFIDENCE = NormalDist().inv_cdf(CONFIDENCE)
# exp(ln(2)) * 5 may come out as 10.000000000000002 days: a float hair must not cost a day.
_DAY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SkillNeed:
    skill_id: UUID
    min_level: int  # 1-5


@dataclass(frozen=True)
class MatchRequest:
    skills: tuple[SkillNeed, ...]
    size: float  # story points, > 0
    deadline: date
    max_defect_rate: float | None = None  # defects per item; None: no quality bar
    org_unit_id: UUID | None = None  # candidates in this unit's subtree only
    now: datetime | None = None  # default: datetime.now(UTC)
    limit: int = 20  # 1..MAX_LIMIT
    # The item being matched, when it exists already: its own size is not open load too.
    exclude_item_id: UUID | None = None


@dataclass(frozen=True)
class Prediction:
    """A shrunk figure with its evidence: the person's n, and the level's figure it was
    pulled toward with the number of people behind that."""

    value: float | None
    n: int
    baseline: float | None
    baseline_n: int


@dataclass(frozen=True)
class Candidate:
    employee_id: UUID
    level: str
    org_unit_id: UUID | None
    skill_levels: dict[UUID, int]  # their level in each required skill
    pace: Prediction  # days per story point
    predicted_cycle_days: float | None  # pace x (open_load + size)
    finish_probability: float | None  # P(done by the deadline)
    predicted_defect_rate: Prediction  # defects per delivered item
    open_load: float  # story points still open
    feasible: bool
    proposed_cycle_days: float | None  # target: min(predicted cycle, days to the deadline)
    proposed_defect_rate: float | None  # target: their predicted defect rate
    reasons_en: tuple[str, ...]
    reasons_zh: tuple[str, ...]


@dataclass(frozen=True)
class MatchResult:
    candidates: tuple[Candidate, ...]  # ranked
    # Only when nobody is feasible: the earliest date some qualified person reaches the
    # confidence; None when nobody qualified has history.
    earliest_feasible_date: date | None
    confidence: float


# --- validation ----------------------------------------------------------------------------------


def check_request(request: MatchRequest) -> None:
    """Refuse a request no answer could be right for, naming the field at fault.

    Raises ``ServiceError`` (code INVALID) listing every problem found.
    """
    _raise_problems(_problems(request, check_deadline=True))


def _raise_problems(problems: list[ServiceError]) -> None:
    if problems:
        raise combined(problems)


def _problems(request: MatchRequest, *, check_deadline: bool) -> list[ServiceError]:
    problems: list[ServiceError] = []
    if not request.skills:
        problems.append(invalid("skills", "name at least one skill", "至少需要一项技能"))
    seen: set[UUID] = set()
    for need in request.skills:
        if not MIN_SKILL_LEVEL <= need.min_level <= MAX_SKILL_LEVEL:
            problems.append(
                invalid(
                    "minLevel",
                    f"a skill level lies between {MIN_SKILL_LEVEL} and {MAX_SKILL_LEVEL}",
                    f"技能等级应在 {MIN_SKILL_LEVEL} 到 {MAX_SKILL_LEVEL} 之间",
                )
            )
        if need.skill_id in seen:
            problems.append(
                invalid("skills", "each skill may be named once", "每项技能只能出现一次")
            )
        seen.add(need.skill_id)
    if not (math.isfinite(request.size) and request.size > 0):
        problems.append(invalid("size", "must be a positive number", "必须是正数"))
    if not 1 <= request.limit <= MAX_LIMIT:
        problems.append(
            invalid("limit", f"must lie between 1 and {MAX_LIMIT}", f"应在 1 到 {MAX_LIMIT} 之间")
        )
    if request.max_defect_rate is not None and not (
        math.isfinite(request.max_defect_rate) and request.max_defect_rate >= 0
    ):
        problems.append(
            invalid("maxDefectRate", "must be zero or a positive number", "必须是零或正数")
        )
    if request.now is not None and request.now.tzinfo is None:
        # A naive time would be read as the server's local time against stored UTC facts.
        problems.append(invalid("now", "must carry a time zone", "必须带时区"))
    elif check_deadline and request.deadline < _now(request).date():
        problems.append(invalid("deadline", "is in the past", "不能早于今天"))
    return problems


def _now(request: MatchRequest) -> datetime:
    return request.now if request.now is not None else datetime.now(UTC)


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    employee_id: UUID
    level: str
    org_unit_id: UUID | None
    skill_levels: dict[UUID, int]
    open_load: float


@dataclass(slots=True)
class _Sample:
    """One person's facts of one measure in the window (ln-pace, or defects per item)."""

    n: int
    mean: float
    variance: float | None  # None below two facts


# Skills are matched by joining the needs as a table: a person qualifies when every need
# found a skill at its level, so the count of matched rows equals the count of needs. The
# open load is summed once over the open items and joined in, still one statement for any
# number of people. The open statuses are written into the text (they are constants), so
# that the planner can use the partial index that finds them among years of closed items
# (migration 0008): with a parameter it could not tell the index applies. Each open item's
# assignees are looked up by the item (``OFFSET 0`` keeps the lateral subquery apart):
# otherwise the planner reads every assignment of every past item to join a few thousand.
_OPEN = ", ".join(f"'{status.value}'" for status in OPEN_STATUSES)
_QUALIFIED_SQL = f"""
    WITH open_load AS (
        SELECT a.employee_id, sum(COALESCE(w.size, 1) * a.share) AS points
        FROM work_items w
        CROSS JOIN LATERAL (
            SELECT x.employee_id, x.share FROM work_item_assignees x
            WHERE x.tenant_id = w.tenant_id AND x.work_item_id = w.id
            OFFSET 0
        ) a
        WHERE w.tenant_id = $1 AND w.status IN ({_OPEN})
          AND w.id IS DISTINCT FROM $5::uuid
        GROUP BY a.employee_id
    )
    SELECT e.id, e.level, e.org_unit_id,
           array_agg(s.skill_id ORDER BY s.skill_id) AS skill_ids,
           array_agg(s.level ORDER BY s.skill_id) AS skill_levels,
           COALESCE(min(l.points), 0) AS open_load
    FROM employees e
    JOIN employee_skills s ON s.tenant_id = e.tenant_id AND s.employee_id = e.id
    JOIN unnest($2::uuid[], $3::int[]) AS need(skill_id, min_level)
      ON need.skill_id = s.skill_id AND s.level >= need.min_level
    LEFT JOIN open_load l ON l.employee_id = e.id
    WHERE e.tenant_id = $1 AND e.archived_at IS NULL AND e.status <> 'left'
      AND e.level IS NOT NULL
      AND ($4::uuid IS NULL OR e.org_unit_id IN (
            SELECT u.id FROM org_units u
            JOIN org_units root ON root.tenant_id = u.tenant_id AND u.path <@ root.path
            WHERE u.tenant_id = $1 AND root.id = $4))
    GROUP BY e.id
    HAVING count(*) = cardinality($2::uuid[])
"""  # noqa: S608 - the statuses are the model's constants

# avg and var_samp rather than sums of squares: PostgreSQL's float variance is exact for
# equal values (no cancellation), so a constant history really has zero spread. Facts a
# logarithm or a count cannot use (no positive size, no positive cycle, negative defects)
# are left out here, before any arithmetic.
_FACTS_SQL = """
    WITH usable AS (
        SELECT f.employee_id, e.level,
               CASE WHEN f.kind = $2 AND f.value > 0 AND f.denominator > 0
                    THEN ln(f.value / f.denominator) END AS log_pace,
               CASE WHEN f.kind = $3 AND f.value >= 0 THEN f.value END AS defects
        FROM facts f
        JOIN employees e ON e.tenant_id = f.tenant_id AND e.id = f.employee_id
        WHERE f.tenant_id = $1 AND f.kind = ANY(ARRAY[$2, $3]::text[])
          AND f.superseded_at IS NULL AND f.occurred_at >= $4 AND f.occurred_at < $5
          AND e.level = ANY($6::text[]) AND e.archived_at IS NULL AND e.status <> 'left'
    )
    SELECT employee_id, level,
           count(log_pace) AS pace_n, avg(log_pace) AS pace_mean,
           var_samp(log_pace) AS pace_var,
           count(defects) AS defect_n, avg(defects) AS defect_mean,
           var_samp(defects) AS defect_var
    FROM usable
    GROUP BY employee_id, level
"""


async def _qualified(tenant: TenantID, request: MatchRequest) -> list[_Person]:
    tx = require_tenant(tenant)
    rows = await tx.fetch(
        _QUALIFIED_SQL,
        tenant,
        [need.skill_id for need in request.skills],
        [need.min_level for need in request.skills],
        request.org_unit_id,
        request.exclude_item_id,
    )
    return [
        _Person(
            employee_id=row["id"],
            level=row["level"],
            org_unit_id=row["org_unit_id"],
            skill_levels=dict(zip(row["skill_ids"], row["skill_levels"], strict=True)),
            open_load=float(row["open_load"]),
        )
        for row in rows
    ]


@dataclass
class _History:
    """Per-person samples at the levels read, grouped by level for the priors."""

    pace: dict[UUID, _Sample]
    defects: dict[UUID, _Sample]
    pace_by_level: dict[str, list[_Sample]]
    defects_by_level: dict[str, list[_Sample]]


def _sample(n: Any, mean: Any, variance: Any) -> _Sample | None:
    if not n:
        return None
    return _Sample(int(n), float(mean), None if variance is None else float(variance))


async def _history(tenant: TenantID, levels: Sequence[str], now: datetime) -> _History:
    """Today's requests read the stored capability profiles (history up to the start of
    today, rebuilt when facts changed); a request as of another moment (a promise recorded
    after the fact) summarises the facts before that moment itself."""
    today = datetime.now(UTC).date()
    if profiles.window_end(now) == today:
        start = datetime.combine(today, time.min, UTC)
        rows = await profiles.current(
            tenant,
            levels,
            today=today,
            since=_months_before(start, HISTORY_MONTHS),
            kinds=(PACE_KIND, DEFECT_KIND),
        )
    else:
        rows = await require_tenant(tenant).fetch(
            _FACTS_SQL,
            tenant,
            PACE_KIND,
            DEFECT_KIND,
            _months_before(now, HISTORY_MONTHS),
            now,
            list(levels),
        )
    history = _History({}, {}, defaultdict(list), defaultdict(list))
    for row in rows:
        pace = _sample(row["pace_n"], row["pace_mean"], row["pace_var"])
        if pace is not None:
            history.pace[row["employee_id"]] = pace
            history.pace_by_level[row["level"]].append(pace)
        defects = _sample(row["defect_n"], row["defect_mean"], row["defect_var"])
        if defects is not None:
            history.defects[row["employee_id"]] = defects
            history.defects_by_level[row["level"]].append(defects)
    return history


def _months_before(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


# --- statistics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prior:
    """A level's figure and spreads, from the samples of everyone at the level."""

    center: float
    people: int
    within: float | None  # pooled within-person variance; None: not estimable
    between: float


def _level_prior(samples: Sequence[_Sample]) -> _Prior | None:
    if not samples:
        return None
    means = [sample.mean for sample in samples]
    ns = [sample.n for sample in samples]
    freedom = sum(n - 1 for n in ns)
    within: float | None
    if freedom > 0:
        within = sum((s.n - 1) * (s.variance or 0.0) for s in samples if s.n > 1) / freedom
    elif len(samples) > 1:
        # Everyone has a single fact: their spread mixes between- and within-person
        # differences, so it overstates the within part. Erring wide keeps the
        # probabilities modest and, with t^2 then measured as zero, everyone reads the
        # level's figure.
        within = sample_variance(means)
    else:
        within = None
    between = 0.0
    if len(samples) > 1 and within is not None:
        between = st.between_variance(means, ns, within)
    return _Prior(st.median(means), len(samples), within, between)


def _shrunk(sample: _Sample | None, prior: _Prior) -> float:
    if sample is None:
        return prior.center
    # An unestimable within variance means the person is the level's only evidence, so
    # the center is their own mean and the weight does not matter.
    within = prior.within if prior.within is not None else 0.0
    return st.shrink_mean(sample.mean, sample.n, within, prior.center, prior.between).estimate


def _spread(sample: _Sample | None, prior: _Prior) -> float | None:
    if sample is not None and sample.n >= OWN_SPREAD_MIN_N and sample.variance is not None:
        return math.sqrt(sample.variance)
    return None if prior.within is None else math.sqrt(prior.within)


def _finish_probability(log_pace: float, sigma: float, work: float, days: int) -> float:
    if days <= 0:
        return 0.0
    if sigma == 0:
        # No spread: done exactly when the pace says, so it is certain or impossible; the
        # same whole-day rule as the earliest date, so the two cannot disagree.
        return 1.0 if days >= _days_needed(log_pace, sigma, work) else 0.0
    return NormalDist().cdf((math.log(days / work) - log_pace) / sigma)


def _days_needed(log_pace: float, sigma: float, work: float) -> int:
    """Whole days after which P(done) reaches CONFIDENCE; at least one (today is spent)."""
    days = math.exp(log_pace + _Z_CONFIDENCE * sigma) * work
    return max(1, math.ceil(days - _DAY_TOLERANCE))


# --- assessment ----------------------------------------------------------------------------------


class _Reasons:
    """Short phrases in both languages, kept in step."""

    def __init__(self) -> None:
        self.en: list[str] = []
        self.zh: list[str] = []

    def add(self, en: str, zh: str) -> None:
        self.en.append(en)
        self.zh.append(zh)


@dataclass(frozen=True)
class _Assessment:
    candidate: Candidate
    # The first day this person reaches the confidence, when they meet the quality bar and
    # both their pace and its spread are known.
    earliest: date | None


@dataclass(frozen=True)
class _Priors:
    pace: dict[str, _Prior | None]
    defects: dict[str, _Prior | None]


def _assess(
    person: _Person, history: _History, priors: _Priors, request: MatchRequest, today: date
) -> _Assessment:
    reasons = _Reasons()
    work = person.open_load + request.size
    days_available = (request.deadline - today).days

    pace_sample = history.pace.get(person.employee_id)
    pace_prior = priors.pace[person.level]
    pace = Prediction(None, 0, None, 0)
    predicted_cycle: float | None = None
    probability: float | None = None
    days_needed: int | None = None
    if pace_prior is None:
        reasons.add("no delivery history", "无交付历史")
    else:
        log_pace = _shrunk(pace_sample, pace_prior)
        n = pace_sample.n if pace_sample is not None else 0
        days_per_point = math.exp(log_pace)
        pace = Prediction(days_per_point, n, math.exp(pace_prior.center), pace_prior.people)
        predicted_cycle = days_per_point * work
        if n == 0:
            reasons.add(
                "no own delivery history: level baseline used", "本人无交付记录，采用职级基线"
            )
        elif n < FEW_FACTS:
            reasons.add(
                f"few deliveries (n = {n}): estimate leans on the level",
                f"交付次数少（n = {n}），估计偏向职级基线",
            )
        sigma = _spread(pace_sample, pace_prior)
        if sigma is None:
            reasons.add("too little history to judge the spread", "历史太少，无法估计波动")
        else:
            probability = _finish_probability(log_pace, sigma, work, days_available)
            days_needed = _days_needed(log_pace, sigma, work)
            if days_available < days_needed:
                reasons.add(
                    f"{probability:.0%} likely to finish by the deadline (needs {CONFIDENCE:.0%})",
                    f"按期完成概率 {probability:.0%}（需 {CONFIDENCE:.0%}）",
                )
        if person.open_load > 0:
            reasons.add(
                f"{person.open_load:g} points of open work first",
                f"需先完成 {person.open_load:g} 点在手工作",
            )

    defect_sample = history.defects.get(person.employee_id)
    defect_prior = priors.defects[person.level]
    defects = Prediction(None, 0, None, 0)
    if defect_prior is not None:
        defects = Prediction(
            _shrunk(defect_sample, defect_prior),
            defect_sample.n if defect_sample is not None else 0,
            defect_prior.center,
            defect_prior.people,
        )
    meets_bar = True
    bar = request.max_defect_rate
    if bar is not None:
        if defects.value is None:
            reasons.add("no defect history: quality bar not checked", "无缺陷记录，未检查质量要求")
        elif defects.value > bar:
            meets_bar = False
            reasons.add(
                f"predicted {defects.value:.2f} defects per item, above the bar of {bar:g}",
                f"预测每项缺陷 {defects.value:.2f}，高于要求 {bar:g}",
            )

    # Deciding on whole days is the same as P >= CONFIDENCE, and keeps this verdict and
    # the earliest date from disagreeing over a rounding hair.
    on_time = days_needed is not None and days_available >= days_needed
    candidate = Candidate(
        employee_id=person.employee_id,
        level=person.level,
        org_unit_id=person.org_unit_id,
        skill_levels=person.skill_levels,
        pace=pace,
        predicted_cycle_days=predicted_cycle,
        finish_probability=probability,
        predicted_defect_rate=defects,
        open_load=person.open_load,
        feasible=on_time and meets_bar,
        proposed_cycle_days=(
            min(predicted_cycle, float(days_available)) if predicted_cycle is not None else None
        ),
        proposed_defect_rate=defects.value,
        reasons_en=tuple(reasons.en),
        reasons_zh=tuple(reasons.zh),
    )
    earliest = today + timedelta(days=days_needed) if days_needed is not None else None
    return _Assessment(candidate, earliest if meets_bar else None)


async def _assess_everyone(tenant: TenantID, request: MatchRequest) -> list[_Assessment]:
    now = _now(request)
    people = await _qualified(tenant, request)
    if not people:
        return []
    levels = sorted({person.level for person in people})
    history = await _history(tenant, levels, now)
    priors = _Priors(
        pace={level: _level_prior(history.pace_by_level.get(level, [])) for level in levels},
        defects={level: _level_prior(history.defects_by_level.get(level, [])) for level in levels},
    )
    today = now.date()
    return [_assess(person, history, priors, request, today) for person in people]


def _rank(candidate: Candidate) -> tuple[bool, float, float, UUID]:
    probability = candidate.finish_probability
    cycle = candidate.predicted_cycle_days
    return (
        not candidate.feasible,
        -probability if probability is not None else 1.0,  # unknown after any known
        cycle if cycle is not None else math.inf,
        candidate.employee_id,
    )


def _earliest(assessments: Sequence[_Assessment]) -> date | None:
    dates = [a.earliest for a in assessments if a.earliest is not None]
    return min(dates) if dates else None


# --- the service's entry points -----------------------------------------------------------------


async def match_candidates(tenant: TenantID, request: MatchRequest) -> MatchResult:
    """Rank the qualified people for a request, with the evidence a manager needs to choose
    and to set targets; when nobody can make the deadline, say when somebody could."""
    check_request(request)
    assessments = await _assess_everyone(tenant, request)
    ranked = sorted((a.candidate for a in assessments), key=_rank)
    anyone_feasible = any(candidate.feasible for candidate in ranked)
    return MatchResult(
        candidates=tuple(ranked[: request.limit]),
        earliest_feasible_date=None if anyone_feasible else _earliest(assessments),
        confidence=CONFIDENCE,
    )


async def earliest_feasible_date(tenant: TenantID, request: MatchRequest) -> date | None:
    """The earliest date any qualified person finishes with ``CONFIDENCE``, whatever the
    request's deadline: a promise before it is an over-promise. None when nobody qualified
    meeting the quality bar has the history to tell."""
    # The deadline is what is being judged here, so a past one is not an input error.
    _raise_problems(_problems(request, check_deadline=False))
    return _earliest(await _assess_everyone(tenant, request))
