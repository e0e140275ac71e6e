"""The arithmetic of fair scoring: achievement and points, shrinkage of small samples, baselines,
normalised gain, control-chart signals and percentile ranks (INDICATORS.md, "Scoring rules").

Plain, deterministic functions over floats and sequences, with no database and no I/O; the scoring
engine decides what to feed them and how to show the results.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

Direction = Literal["higher", "lower"]
Side = Literal["above", "below"]

THRESHOLD_POINTS = 80.0
TARGET_POINTS = 100.0
STRETCH_POINTS = 120.0

# Strength a + b of a fitted beta prior, in pseudo-trials. At least 2 so that a person with one or
# two trials never reads 0 % or 100 % however dispersed the group looks; at most 10,000 so that an
# apparently uniform group (over-dispersion measured as zero) still leaves a person with thousands
# of trials some weight of their own, and so that a + b stays finite.
MIN_PRIOR_STRENGTH = 2.0
MAX_PRIOR_STRENGTH = 10_000.0

_Z95 = 1.96  # the rounded value the scoring rules quote for a 95 % interval
_MR_TO_SIGMA = 1.128  # d2 for moving ranges of two points


# --- achievement and points ----------------------------------------------------------------------


def achievement(actual: float, target: float, direction: Direction) -> float:
    """How far ``actual`` reaches ``target``: 1.0 meets it, more is better, whatever the direction.

    Higher-is-better is ``actual / target``, lower-is-better ``1 - (actual - target) / |target|``.
    """
    if target == 0:
        # The ratio is undefined. Meeting a zero target is full achievement; missing it scores 0.0,
        # below any threshold a curve could sensibly express as a share of the target.
        met = actual >= 0 if direction == "higher" else actual <= 0
        return 1.0 if met else 0.0
    if direction == "lower":
        return 1 - (actual - target) / abs(target)
    if target > 0:
        return actual / target
    # actual / target would reward a worse actual when the target is negative; this mirror of the
    # lower-is-better rule equals actual / target for every positive target.
    return 1 + (actual - target) / abs(target)


@dataclass(frozen=True)
class PointsCurve:
    """Threshold -> target -> stretch mapped to 80 -> 100 -> 120 points, in the indicator's unit.

    Below the threshold scores 0; at or beyond the stretch scores 120 (the cap). When stretch equals
    target, meeting the target scores 120: the tenant has said nothing beats it, and scoring 100 at
    the target but 120 a hair above would make a rounding difference worth 20 points. When threshold
    equals target, anything short of the target scores 0.
    """

    threshold: float
    target: float
    stretch: float
    direction: Direction

    def __post_init__(self) -> None:
        if not all(map(math.isfinite, (self.threshold, self.target, self.stretch))):
            raise ValueError("threshold, target and stretch must be finite numbers")
        if self.direction == "higher" and not self.threshold <= self.target <= self.stretch:
            raise ValueError("higher is better: needs threshold <= target <= stretch")
        if self.direction == "lower" and not self.threshold >= self.target >= self.stretch:
            raise ValueError("lower is better: needs threshold >= target >= stretch")

    def achievement_of(self, actual: float) -> float:
        return achievement(actual, self.target, self.direction)

    def points(self, actual: float) -> float:
        # Achievement is an increasing affine function of the actual for any nonzero target, so
        # interpolating achievement between a(threshold), 1 and a(stretch) gives the same
        # points as interpolating the actual between the curve's own values. Working in the unit
        # keeps a zero target (where achievement collapses to 0 or 1) meaningful.
        sign = 1.0 if self.direction == "higher" else -1.0
        if sign * actual < sign * self.threshold:
            return 0.0
        if sign * actual >= sign * self.stretch:
            return STRETCH_POINTS
        if sign * actual < sign * self.target:  # so threshold != target
            share = (actual - self.threshold) / (self.target - self.threshold)
            return THRESHOLD_POINTS + (TARGET_POINTS - THRESHOLD_POINTS) * share
        share = (actual - self.target) / (self.stretch - self.target)  # stretch != target here
        return TARGET_POINTS + (STRETCH_POINTS - TARGET_POINTS) * share


# --- beta distribution ---------------------------------------------------------------------------

_CF_EPSILON = 1e-15
_CF_TINY = 1e-300
_CF_MAX_STEPS = 10_000
_BISECTION_STEPS = 64  # halves [0, 1] to below 1e-19


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """I_x(a, b)'s continued fraction, modified Lentz method (Numerical Recipes' betacf)."""

    def guarded(value: float) -> float:
        return value if abs(value) >= _CF_TINY else _CF_TINY

    c = 1.0
    d = 1 / guarded(1 - (a + b) * x / (a + 1))
    result = d
    for m in range(1, _CF_MAX_STEPS + 1):
        even = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m))
        d = 1 / guarded(1 + even * d)
        c = guarded(1 + even / c)
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))
        d = 1 / guarded(1 + odd * d)
        c = guarded(1 + odd / c)
        result *= d * c
        if abs(d * c - 1) < _CF_EPSILON:
            return result
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b): P(X <= x) for X ~ Beta(a, b)."""
    if a <= 0 or b <= 0:
        raise ValueError("beta parameters must be positive")
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The fraction converges fast only left of the mean; the symmetry I_x(a, b) = 1 - I_1-x(b, a)
    # covers the other side.
    if x < (a + 1) / (a + b + 2):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1 - front * _beta_continued_fraction(b, a, 1 - x) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = q, by bisection: the CDF is monotone, so it always converges."""
    if not 0 <= q <= 1:
        raise ValueError("a quantile's probability lies in [0, 1]")
    if q in (0, 1):
        return float(q)
    low, high = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if beta_cdf(middle, a, b) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# --- empirical Bayes for rates (beta-binomial) ---------------------------------------------------


@dataclass(frozen=True)
class BetaPrior:
    a: float
    b: float

    def __post_init__(self) -> None:
        if not (self.a > 0 and self.b > 0):
            raise ValueError("beta prior parameters must be positive")

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def strength(self) -> float:  # how many trials the prior counts as
        return self.a + self.b


def fit_beta_prior(successes: Sequence[float], trials: Sequence[float]) -> BetaPrior | None:
    """A group's beta prior by the method of moments over its people's rates x_i / n_i.

    m is the pooled rate (the n-weighted mean of the rates). The between-person variance v is the
    n-weighted variance of the rates less its expected binomial part, unbiased for unequal n (the
    one-way ANOVA estimator; with equal n it is (n S^2 - m(1 - m)) / (n - 1), S^2 the variance of
    the rates). Then a + b = m(1 - m) / v - 1, bounded to [MIN, MAX]_PRIOR_STRENGTH.

    None when the group cannot inform a prior: fewer than two people with trials, or a pooled rate
    of 0 or 1 (everyone already sits at the group's value, so the caller uses raw rates). When no
    over-dispersion is measured (v <= 0, or every n_i is 1) the people are indistinguishable from
    one shared rate, and the prior gets the maximum strength: full shrinkage to the pooled rate.
    """
    pairs = [(x, n) for x, n in zip(successes, trials, strict=True) if n > 0]
    if any(not 0 <= x <= n for x, n in pairs):
        raise ValueError("successes must lie between 0 and trials")
    if len(pairs) < 2:
        return None
    total = sum(n for _, n in pairs)
    m = sum(x for x, _ in pairs) / total
    if m <= 0 or m >= 1:
        return None
    k = len(pairs)
    spread = sum(n * (x / n - m) ** 2 for x, n in pairs)
    # E[spread] = (k - 1) m(1 - m) + divisor * v, so v is what the binomial noise leaves over.
    divisor = total - sum(n * n for _, n in pairs) / total - (k - 1)
    between = (spread - (k - 1) * m * (1 - m)) / divisor if divisor > 0 else 0.0
    strength = m * (1 - m) / between - 1 if between > 0 else MAX_PRIOR_STRENGTH
    strength = min(max(strength, MIN_PRIOR_STRENGTH), MAX_PRIOR_STRENGTH)
    return BetaPrior(a=m * strength, b=(1 - m) * strength)


def _check_counts(successes: float, trials: float) -> None:
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie between 0 and trials")


def shrink_rate(successes: float, trials: float, prior: BetaPrior) -> float:
    """The posterior mean (x + a) / (n + a + b): the rate pulled toward the group by its prior."""
    _check_counts(successes, trials)
    return (successes + prior.a) / (trials + prior.a + prior.b)


def beta_interval(
    successes: float, trials: float, prior: BetaPrior, level: float = 0.95
) -> tuple[float, float]:
    """The equal-tailed ``level`` interval of the posterior Beta(x + a, n - x + b)."""
    _check_counts(successes, trials)
    if not 0 < level < 1:
        raise ValueError("level lies strictly between 0 and 1")
    a, b = successes + prior.a, trials - successes + prior.b
    tail = (1 - level) / 2
    return beta_quantile(tail, a, b), beta_quantile(1 - tail, a, b)


# --- empirical Bayes for means (normal-normal) ---------------------------------------------------


@dataclass(frozen=True)
class ShrunkMean:
    estimate: float
    weight_on_group: float
    low: float
    high: float


def _weight_on_group(n: int, within_variance: float, between_variance: float) -> float:
    if n == 0:
        return 1.0  # nothing observed: the group is all we know
    if within_variance == 0:
        # An exact measurement needs no help. Checked before t^2 = 0, which is usually an
        # estimate floored at zero rather than an observation.
        return 0.0
    if between_variance == 0:
        return 1.0  # no true differences between people: everyone is the group mean
    sampling = within_variance / n
    return sampling / (between_variance + sampling)


def shrink_mean(
    person_mean: float,
    n: int,
    within_variance: float,
    group_mean: float,
    between_variance: float,
) -> ShrunkMean:
    """A person's mean pulled toward the group: B = (s^2/n) / (t^2 + s^2/n).

    The 95 % interval is estimate +- 1.96 sqrt((1 - B) s^2 / n), computed as the equal quantity
    sqrt(B t^2) so that it stays defined at n = 0 (then it is the group's own spread).
    """
    if n < 0 or within_variance < 0 or between_variance < 0:
        raise ValueError("n and variances must not be negative")
    weight = _weight_on_group(n, within_variance, between_variance)
    estimate = weight * group_mean + (1 - weight) * person_mean
    half_width = _Z95 * math.sqrt(weight * between_variance)
    return ShrunkMean(estimate, weight, estimate - half_width, estimate + half_width)


def between_variance(means: Sequence[float], ns: Sequence[int], within_variance: float) -> float:
    """Method of moments: t^2 = max(0, var(means) - mean(s^2 / n_i)), var with k - 1."""
    if len(means) < 2:
        raise ValueError("a between-person variance needs at least two people")
    if any(n <= 0 for n in ns):
        raise ValueError("every mean needs at least one observation")
    sampling = statistics.fmean(within_variance / n for _, n in zip(means, ns, strict=True))
    return max(0.0, _variance(means) - sampling)


def _variance(values: Sequence[float]) -> float:
    """The sample variance in floats, two passes with compensated sums: ``statistics.
    variance`` works in exact fractions, which costs milliseconds per thousand values on
    every match and every recomputation, for digits no figure shows."""
    center = math.fsum(values) / len(values)
    return math.fsum((x - center) ** 2 for x in values) / (len(values) - 1)


# --- medians and baselines -----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the median of no values is undefined")
    return float(statistics.median(values))


def leave_one_out_medians(values: Sequence[float]) -> list[float]:
    """For each value, the median of the others (a baseline that excludes the person), NaN alone.

    One sort, then index arithmetic: dropping sorted position p shifts every later index down by
    one. Equal values leave the same multiset whichever copy is dropped, so any position of the
    value is right.
    """
    count = len(values)
    if count == 1:
        return [math.nan]
    order = sorted(range(count), key=values.__getitem__)
    ordered = [values[i] for i in order]
    rest = count - 1

    def at(j: int, dropped: int) -> float:
        return ordered[j] if j < dropped else ordered[j + 1]

    result = [0.0] * count
    for position, original in enumerate(order):
        if rest % 2:
            result[original] = at(rest // 2, position)
        else:
            result[original] = (at(rest // 2 - 1, position) + at(rest // 2, position)) / 2
    return result


def median_interval(
    sorted_values: Sequence[float], level: float = 0.95
) -> tuple[float, float] | None:
    """Distribution-free interval of the median from order statistics, None below three values.

    The ranks come from the normal approximation to Binomial(n, 1/2): j = floor(n/2 - z sqrt(n)/2),
    k = ceil(1 + n/2 + z sqrt(n)/2), 1-based and clamped to [1, n].
    """
    if not 0 < level < 1:
        raise ValueError("level lies strictly between 0 and 1")
    if any(later < earlier for earlier, later in pairwise(sorted_values)):
        raise ValueError("sorted_values must be in ascending order")
    count = len(sorted_values)
    if count < 3:
        return None
    half = statistics.NormalDist().inv_cdf((1 + level) / 2) * math.sqrt(count) / 2
    low_rank = min(max(math.floor(count / 2 - half), 1), count)
    high_rank = min(max(math.ceil(1 + count / 2 + half), 1), count)
    return sorted_values[low_rank - 1], sorted_values[high_rank - 1]


# --- normalised gain -----------------------------------------------------------------------------


def normalised_gain(pre: float, post: float) -> float:
    """Hake's g = (post - pre) / (100 - pre): the share of the possible improvement realised."""
    if not (0 <= pre <= 100 and 0 <= post <= 100):
        raise ValueError("pre and post are scores on a 0-100 scale")
    if pre == 100:
        raise ValueError("no normalised gain from a perfect starting score: nothing left to gain")
    return (post - pre) / (100 - pre)


# --- control charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    value: float
    center: float
    sigma: float  # the control limits are center +- 3 sigma


@dataclass(frozen=True)
class Signal:
    rule: str
    side: Side
    end_index: int


def p_chart(
    successes: Sequence[float], trials: Sequence[float], center: float | None = None
) -> list[ChartPoint]:
    """Rates x_i / n_i, sigma sqrt(p(1 - p) / n_i), around p (default: the pooled rate).

    Periods without trials have no rate and are skipped.
    """
    pairs = [(x, n) for x, n in zip(successes, trials, strict=True) if n > 0]
    for x, n in pairs:
        _check_counts(x, n)
    if not pairs:
        return []
    p = sum(x for x, _ in pairs) / sum(n for _, n in pairs) if center is None else center
    if not 0 <= p <= 1:
        raise ValueError("a p-chart's center is a rate in [0, 1]")
    return [ChartPoint(x / n, p, math.sqrt(p * (1 - p) / n)) for x, n in pairs]


def individuals_chart(values: Sequence[float], center: float | None = None) -> list[ChartPoint]:
    """Values around their mean (or ``center``), sigma = average moving range / 1.128."""
    if len(values) < 2:
        return []
    mid = statistics.fmean(values) if center is None else center
    sigma = statistics.fmean(abs(b - a) for a, b in pairwise(values)) / _MR_TO_SIGMA
    return [ChartPoint(value, mid, sigma) for value in values]


def _z(point: ChartPoint) -> float:
    if point.sigma > 0:
        return (point.value - point.center) / point.sigma
    # No spread: a point on the center is unremarkable, any other departure is beyond every limit.
    if point.value == point.center:
        return 0.0
    return math.inf if point.value > point.center else -math.inf


# (rule, window, points needed beyond, sigmas); 8 in a row is "beyond 0 sigma" 8 times out of 8.
_RULES: tuple[tuple[str, int, int, float], ...] = (
    ("beyond_3_sigma", 1, 1, 3.0),
    ("two_of_three_beyond_2_sigma", 3, 2, 2.0),
    ("four_of_five_beyond_1_sigma", 5, 4, 1.0),
    ("eight_in_a_row", 8, 8, 0.0),
)


def western_electric_signals(points: Sequence[ChartPoint]) -> list[Signal]:
    """Every Western Electric signal, ordered by end index, then in the order of ``_RULES``.

    A window rule is reported at the point that completes it: that point must itself be beyond the
    limit, on the same side as the others. A window ending on a point back inside adds nothing the
    earlier report did not say. Each end index where a rule holds is reported, so a long run fires
    repeatedly.
    """
    zs = [_z(point) for point in points]
    signals: list[Signal] = []
    for end, z in enumerate(zs):
        for rule, window, needed, sigmas in _RULES:
            # Near the start the window is shorter: two of the first two points beyond 2 sigma are
            # already two of the first three.
            recent = zs[max(0, end + 1 - window) : end + 1]
            if z > sigmas and sum(r > sigmas for r in recent) >= needed:
                signals.append(Signal(rule, "above", end))
            elif z < -sigmas and sum(r < -sigmas for r in recent) >= needed:
                signals.append(Signal(rule, "below", end))
    return signals


def run_worse(
    values: Sequence[float], reference: float, direction: Direction, length: int = 3
) -> bool:
    """The last ``length`` values are all strictly worse than ``reference``: a "watch" flag.

    Never a score change: an average performer has such a run below the median in most years.
    """
    if length < 1:
        raise ValueError("a run has at least one value")
    if len(values) < length:
        return False
    tail = values[len(values) - length :]
    if direction == "higher":
        return all(value < reference for value in tail)
    return all(value > reference for value in tail)


# --- percentile within a group -------------------------------------------------------------------


def percentile_ranks(values: Sequence[float]) -> list[float | None]:
    """Mid-rank percentiles 100 * (below + (equal - 1) / 2) / (n - 1), ``equal`` counting itself.

    The lowest distinct value reads 0, the highest 100, a group of equals 50. Alone, a value has no
    peers and reads None rather than a made-up rank.
    """
    count = len(values)
    if count == 1:
        return [None]
    ordered = sorted(values)
    ranks: list[float | None] = []
    for value in values:
        below = bisect_left(ordered, value)
        equal = bisect_right(ordered, value) - below
        ranks.append(100 * (below + (equal - 1) / 2) / (count - 1))
    return ranks
