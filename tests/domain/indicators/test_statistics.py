"""Scoring statistics: hand-checked numbers, independent cross-checks and seeded property checks.

Pure functions, so no database: the session-wide autouse fixture that starts the application is
overridden below. Properties are checked with hypothesis; other random cross-checks use a seeded ``random.Random``.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import astuple
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.indicators.statistics import (
    MAX_PRIOR_STRENGTH,
    MIN_PRIOR_STRENGTH,
    BetaPrior,
    ChartPoint,
    Direction,
    PointsCurve,
    Signal,
    achievement,
    beta_cdf,
    beta_interval,
    beta_quantile,
    between_variance,
    fit_beta_prior,
    individuals_chart,
    leave_one_out_medians,
    median,
    median_interval,
    normalised_gain,
    p_chart,
    percentile_ranks,
    run_worse,
    shrink_mean,
    shrink_rate,
    western_electric_signals,
)


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Overrides the session-wide fixture of the same name: nothing to start for pure functions."""


def _simpson(f: Callable[[float], float], low: float, high: float, steps: int = 4000) -> float:
    h = (high - low) / steps
    inner = sum((4 if i % 2 else 2) * f(low + i * h) for i in range(1, steps))
    return (f(low) + inner + f(high)) * h / 3


def _beta_pdf(a: float, b: float) -> Callable[[float], float]:
    scale = math.gamma(a + b) / (math.gamma(a) * math.gamma(b))
    return lambda x: scale * x ** (a - 1) * (1 - x) ** (b - 1)


# --- achievement ---------------------------------------------------------------------------------


def test_achievement_higher_is_the_ratio_to_target() -> None:
    assert achievement(0.85, 0.9, "higher") == pytest.approx(0.85 / 0.9)
    assert achievement(1.8, 1.0, "higher") == pytest.approx(1.8)


def test_achievement_lower_follows_the_decreasing_rule() -> None:
    assert achievement(1.1, 1.0, "lower") == pytest.approx(0.9)
    assert achievement(0.85, 1.0, "lower") == pytest.approx(1.15)
    assert achievement(1.0, 1.0, "lower") == 1.0


@pytest.mark.parametrize(
    ("actual", "direction", "expected"),
    [
        (0.0, "higher", 1.0),
        (0.5, "higher", 1.0),
        (-0.1, "higher", 0.0),
        (0.0, "lower", 1.0),
        (-1.0, "lower", 1.0),
        (0.1, "lower", 0.0),
    ],
)
def test_achievement_of_a_zero_target_is_met_or_missed(
    actual: float, direction: Direction, expected: float
) -> None:
    assert achievement(actual, 0.0, direction) == expected


def test_achievement_higher_with_a_negative_target_still_rewards_the_better_actual() -> None:
    assert achievement(-1.0, -2.0, "higher") == pytest.approx(1.5)
    assert achievement(-3.0, -2.0, "higher") == pytest.approx(0.5)
    assert achievement(-2.0, -2.0, "higher") == 1.0


# --- points --------------------------------------------------------------------------------------

SHARE = PointsCurve(threshold=0.8, target=0.9, stretch=1.0, direction="higher")
CYCLE = PointsCurve(threshold=1.2, target=1.0, stretch=0.85, direction="lower")


@pytest.mark.parametrize(
    ("actual", "points"),
    [
        (0.8, 80.0),
        (0.9, 100.0),
        (1.0, 120.0),
        (0.85, 90.0),
        (0.95, 110.0),
        (0.79, 0.0),
        (1.5, 120.0),
    ],
)
def test_points_of_a_higher_is_better_share(actual: float, points: float) -> None:
    assert SHARE.points(actual) == pytest.approx(points, abs=1e-9)


@pytest.mark.parametrize(
    ("actual", "points"),
    [(1.0, 100.0), (0.85, 120.0), (1.2, 80.0), (1.1, 90.0), (1.3, 0.0), (0.5, 120.0)],
)
def test_points_of_a_lower_is_better_cycle_ratio(actual: float, points: float) -> None:
    assert CYCLE.points(actual) == pytest.approx(points, abs=1e-9)


def test_achievement_of_uses_the_curve_target_and_direction() -> None:
    assert CYCLE.achievement_of(1.1) == pytest.approx(0.9)
    assert SHARE.achievement_of(0.45) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("threshold", "target", "stretch", "direction"),
    [
        (0.9, 0.8, 1.0, "higher"),
        (0.8, 1.0, 0.9, "higher"),
        (1.0, 1.2, 0.85, "lower"),
        (1.2, 0.85, 1.0, "lower"),
        (math.nan, 0.9, 1.0, "higher"),
        (0.8, 0.9, math.inf, "higher"),
    ],
)
def test_points_curve_rejects_misordered_or_non_finite_values(
    threshold: float, target: float, stretch: float, direction: Direction
) -> None:
    with pytest.raises(ValueError, match="threshold"):
        PointsCurve(threshold, target, stretch, direction)


def test_stretch_equal_to_target_gives_the_cap_at_the_target() -> None:
    curve = PointsCurve(threshold=0.8, target=0.9, stretch=0.9, direction="higher")

    assert curve.points(0.9) == 120.0
    assert curve.points(0.95) == 120.0
    assert curve.points(0.85) == pytest.approx(90.0)
    assert curve.points(0.79) == 0.0


def test_threshold_equal_to_target_gives_nothing_short_of_the_target() -> None:
    curve = PointsCurve(threshold=1.0, target=1.0, stretch=0.8, direction="lower")

    assert curve.points(1.01) == 0.0
    assert curve.points(1.0) == 100.0
    assert curve.points(0.9) == pytest.approx(110.0)


def test_a_curve_of_one_value_is_all_or_nothing() -> None:
    curve = PointsCurve(threshold=0.9, target=0.9, stretch=0.9, direction="higher")

    assert curve.points(0.9) == 120.0
    assert curve.points(0.89) == 0.0


def test_a_zero_target_interpolates_in_the_indicators_unit() -> None:
    # given: "no production incidents", tolerating up to 2
    curve = PointsCurve(threshold=2.0, target=0.0, stretch=0.0, direction="lower")

    # then: 1 incident sits halfway between threshold and target; 3 is below the threshold
    assert curve.points(1.0) == pytest.approx(90.0)
    assert curve.points(0.0) == 120.0
    assert curve.points(3.0) == 0.0


def _points_by_achievement(curve: PointsCurve, actual: float) -> float:
    """The scoring rule as INDICATORS.md words it, for curves with distinct, nonzero values."""
    a = curve.achievement_of(actual)
    a_th, a_st = curve.achievement_of(curve.threshold), curve.achievement_of(curve.stretch)
    if a < a_th:
        return 0.0
    if a < 1:
        return 80 + 20 * (a - a_th) / (1 - a_th)
    return min(120.0, 100 + 20 * (a - 1) / (a_st - 1))


def _random_curve(rng: random.Random, distinct: bool) -> PointsCurve:
    direction: Direction = rng.choice(["higher", "lower"])
    values = sorted(rng.uniform(-50, 50) for _ in range(3))
    if not distinct and rng.random() < 0.5:
        join = rng.randrange(2)
        values[join] = values[join + 1]  # threshold = target or target = stretch
    if direction == "lower":
        values.reverse()
    return PointsCurve(values[0], values[1], values[2], direction)


def test_points_match_the_achievement_definition_for_random_curves() -> None:
    rng = random.Random(20240601)
    for _ in range(300):
        curve = _random_curve(rng, distinct=True)
        for _ in range(20):
            actual = rng.uniform(-150, 150)
            expected = _points_by_achievement(curve, actual)
            assert curve.points(actual) == pytest.approx(expected, abs=1e-6), (curve, actual)


_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def _curves(draw: st.DrawFn) -> PointsCurve:
    values = sorted(draw(st.lists(_finite, min_size=3, max_size=3)))
    direction: Direction = draw(st.sampled_from(["higher", "lower"]))
    if direction == "lower":
        values.reverse()
    return PointsCurve(values[0], values[1], values[2], direction)


@given(curve=_curves(), first=_finite, second=_finite)
def test_points_stay_within_0_and_120_and_never_drop_for_a_better_actual(
    curve: PointsCurve, first: float, second: float
) -> None:
    worse, better = sorted((first, second), reverse=curve.direction == "lower")
    low, high = curve.points(worse), curve.points(better)
    assert 0.0 <= low <= 120.0
    assert 0.0 <= high <= 120.0
    assert high >= low


@given(values=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2))
def test_leave_one_out_medians_match_the_brute_force(values: list[float]) -> None:
    fast = leave_one_out_medians(values)
    for index, found in enumerate(fast):
        rest = values[:index] + values[index + 1 :]
        assert found == pytest.approx(statistics.median(rest))


# --- beta distribution ---------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.0, 0.01, 0.25, 0.5, 0.9, 1.0])
def test_uniform_beta_quantile_is_the_probability(q: float) -> None:
    assert beta_quantile(q, 1.0, 1.0) == pytest.approx(q, abs=1e-12)
    assert beta_cdf(q, 1.0, 1.0) == pytest.approx(q, abs=1e-12)


def test_symmetric_beta_median_is_one_half() -> None:
    assert beta_quantile(0.5, 2.0, 2.0) == pytest.approx(0.5, abs=1e-12)
    assert beta_quantile(0.5, 37.5, 37.5) == pytest.approx(0.5, abs=1e-12)


def test_beta_2_5_quantiles_match_integration_and_the_binomial_identity() -> None:
    low, high = beta_quantile(0.025, 2.0, 5.0), beta_quantile(0.975, 2.0, 5.0)

    assert low == pytest.approx(0.04327, abs=1e-5)
    assert high == pytest.approx(0.64123, abs=1e-5)
    # I_x(2, 5) = P(Binomial(6, x) >= 2) for integer parameters.
    for x, q in ((low, 0.025), (high, 0.975)):
        assert 1 - (1 - x) ** 6 - 6 * x * (1 - x) ** 5 == pytest.approx(q, abs=1e-12)
        assert _simpson(_beta_pdf(2.0, 5.0), 0.0, x) == pytest.approx(q, abs=1e-10)


@pytest.mark.parametrize("x", [0.001, 0.1, 0.3, 0.5, 0.77, 0.999])
def test_beta_cdf_matches_the_arcsine_law_for_half_parameters(x: float) -> None:
    assert beta_cdf(x, 0.5, 0.5) == pytest.approx(2 / math.pi * math.asin(math.sqrt(x)), abs=1e-12)


@pytest.mark.parametrize("x", [0.05, 0.2, 0.4, 0.6, 0.95])
def test_beta_cdf_matches_numeric_integration_for_fractional_parameters(x: float) -> None:
    assert beta_cdf(x, 2.5, 3.5) == pytest.approx(_simpson(_beta_pdf(2.5, 3.5), 0.0, x), abs=1e-7)


def test_beta_quantile_inverts_the_cdf_for_strong_posteriors() -> None:
    for a, b in ((2_000.0, 8_000.0), (10_003.0, 40.0), (0.3, 9_000.0)):
        for q in (0.001, 0.025, 0.5, 0.975, 0.999):
            assert beta_cdf(beta_quantile(q, a, b), a, b) == pytest.approx(q, abs=1e-9)
        assert beta_cdf(0.3, a, b) + beta_cdf(0.7, b, a) == pytest.approx(1.0, abs=1e-12)


def test_beta_rejects_non_positive_parameters_and_probabilities_outside_0_1() -> None:
    with pytest.raises(ValueError, match="positive"):
        beta_cdf(0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="probability"):
        beta_quantile(1.5, 1.0, 1.0)


# --- empirical Bayes for rates -------------------------------------------------------------------


def test_beta_prior_mean_and_strength() -> None:
    prior = BetaPrior(2.0, 18.0)

    assert prior.mean == pytest.approx(0.1)
    assert prior.strength == 20.0
    with pytest.raises(ValueError, match="positive"):
        BetaPrior(0.0, 1.0)


def test_fit_beta_prior_by_hand_with_equal_trials() -> None:
    # given: m = 12/40 = 0.3; rate variance S^2 = 0.14 / 3; v = (10 S^2 - 0.21) / 9 = 0.77 / 27
    prior = fit_beta_prior([1, 2, 3, 6], [10, 10, 10, 10])

    # then: a + b = 0.21 / v - 1 = 70 / 11
    assert prior is not None
    assert prior.strength == pytest.approx(70 / 11)
    assert prior.a == pytest.approx(21 / 11)
    assert prior.b == pytest.approx(49 / 11)


def test_fit_beta_prior_recovers_a_simulated_group() -> None:
    # given: 3,000 people with true rates from Beta(2, 18) and 5-30 items each
    rng = random.Random(11)
    successes, trials = [], []
    for _ in range(3000):
        rate, n = rng.betavariate(2, 18), rng.randint(5, 30)
        successes.append(sum(rng.random() < rate for _ in range(n)))
        trials.append(n)

    prior = fit_beta_prior(successes, trials)

    assert prior is not None
    assert prior.mean == pytest.approx(0.1, abs=0.01)
    assert 15 <= prior.strength <= 27


@pytest.mark.parametrize(
    ("successes", "trials"),
    [
        ([3], [10]),
        ([3, 0], [10, 0]),
        ([], []),
        ([0, 0, 0], [5, 8, 2]),
        ([5, 8, 2], [5, 8, 2]),
    ],
)
def test_fit_beta_prior_is_none_without_a_group_or_with_a_unanimous_one(
    successes: list[float], trials: list[float]
) -> None:
    assert fit_beta_prior(successes, trials) is None


def test_no_over_dispersion_gives_the_strongest_prior_at_the_pooled_rate() -> None:
    identical = fit_beta_prior([2, 2, 2, 2, 2], [10, 10, 10, 10, 10])
    single_trials = fit_beta_prior([1, 0, 0, 1], [1, 1, 1, 1])

    assert identical is not None
    assert identical.strength == pytest.approx(MAX_PRIOR_STRENGTH)
    assert identical.mean == pytest.approx(0.2)
    assert single_trials is not None
    assert single_trials.strength == pytest.approx(MAX_PRIOR_STRENGTH)


def test_extreme_dispersion_is_floored_at_the_weakest_prior() -> None:
    prior = fit_beta_prior([0, 20, 0, 20], [20, 20, 20, 20])

    assert prior is not None
    assert prior.strength == pytest.approx(MIN_PRIOR_STRENGTH)
    assert prior.mean == pytest.approx(0.5)


def test_fit_beta_prior_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="between 0 and trials"):
        fit_beta_prior([3, 11], [10, 10])
    with pytest.raises(ValueError, match="zip"):
        fit_beta_prior([3, 1], [10])


def test_shrink_rate_by_hand() -> None:
    assert shrink_rate(1, 3, BetaPrior(2, 18)) == pytest.approx(3 / 23)
    assert shrink_rate(0, 0, BetaPrior(2, 18)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="between 0 and trials"):
        shrink_rate(4, 3, BetaPrior(2, 18))


def test_beta_interval_with_a_uniform_prior_and_no_data_is_the_central_95_percent() -> None:
    low, high = beta_interval(0, 0, BetaPrior(1, 1))

    assert (low, high) == pytest.approx((0.025, 0.975), abs=1e-12)


def test_beta_interval_is_the_posteriors_equal_tails() -> None:
    # given: 1 of 5 with a uniform prior is the posterior Beta(2, 5)
    low, high = beta_interval(1, 5, BetaPrior(1, 1))

    assert low == pytest.approx(0.04327, abs=1e-5)
    assert high == pytest.approx(0.64123, abs=1e-5)
    narrower = beta_interval(1, 5, BetaPrior(1, 1), level=0.5)
    assert low < narrower[0] < narrower[1] < high


def test_beta_interval_narrows_and_holds_the_estimate_as_data_grows() -> None:
    prior = BetaPrior(2, 18)
    small = beta_interval(1, 3, prior)
    large = beta_interval(100, 300, prior)

    assert small[0] < shrink_rate(1, 3, prior) < small[1]
    assert large[0] < shrink_rate(100, 300, prior) < large[1]
    assert large[1] - large[0] < small[1] - small[0]


# --- empirical Bayes for means -------------------------------------------------------------------


def test_shrink_mean_by_hand() -> None:
    # given: s^2/n = 100/4 = 25 = t^2, so B = 0.5
    shrunk = shrink_mean(30.0, 4, 100.0, 40.0, 25.0)

    # then: the posterior variance is (1 - B) s^2 / n = 12.5
    half = 1.96 * math.sqrt(12.5)
    assert astuple(shrunk) == pytest.approx((35.0, 0.5, 35.0 - half, 35.0 + half))


def test_more_observations_pull_less_toward_the_group() -> None:
    few = shrink_mean(30.0, 4, 100.0, 40.0, 25.0)
    many = shrink_mean(30.0, 400, 100.0, 40.0, 25.0)

    assert many.weight_on_group == pytest.approx(0.25 / 25.25)
    assert many.weight_on_group < few.weight_on_group
    assert many.high - many.low < few.high - few.low


@pytest.mark.parametrize(
    ("n", "within", "between", "weight", "interval"),
    [
        (4, 100.0, 0.0, 1.0, (40.0, 40.0)),  # no true differences: the group mean, exactly
        (4, 0.0, 25.0, 0.0, (30.0, 30.0)),  # exact measurement: the person's own mean
        (0, 100.0, 25.0, 1.0, (40.0 - 9.8, 40.0 + 9.8)),  # no data: the group and its spread
        (4, 0.0, 0.0, 0.0, (30.0, 30.0)),  # an exact measurement wins over a floored t^2
    ],
)
def test_shrink_mean_edge_cases(
    n: int, within: float, between: float, weight: float, interval: tuple[float, float]
) -> None:
    shrunk = shrink_mean(30.0, n, within, 40.0, between)

    assert shrunk.weight_on_group == weight
    assert (shrunk.low, shrunk.high) == pytest.approx(interval)


def test_shrink_mean_rejects_negative_inputs() -> None:
    with pytest.raises(ValueError, match="negative"):
        shrink_mean(30.0, -1, 100.0, 40.0, 25.0)


def test_between_variance_by_hand_and_floored_at_zero() -> None:
    # var(10, 20, 30) = 100 with k - 1; mean s^2/n = 40/4 = 10
    assert between_variance([10.0, 20.0, 30.0], [4, 4, 4], 40.0) == pytest.approx(90.0)
    assert between_variance([10.0, 11.0], [1, 1], 100.0) == 0.0


@pytest.mark.parametrize(
    ("means", "ns", "message"),
    [
        ([10.0], [4], "two people"),
        ([10.0, 20.0], [4, 0], "one observation"),
        ([1.0, 2.0], [4], "zip"),
    ],
)
def test_between_variance_rejects_what_it_cannot_estimate(
    means: list[float], ns: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        between_variance(means, ns, 40.0)


# --- medians and baselines -----------------------------------------------------------------------


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        median([])


def test_leave_one_out_medians_by_hand() -> None:
    assert leave_one_out_medians([1.0, 2.0, 3.0, 4.0]) == [3.0, 3.0, 2.0, 2.0]
    assert leave_one_out_medians([5.0, 5.0, 1.0]) == [3.0, 3.0, 5.0]
    assert leave_one_out_medians([4.0, 1.0, 3.0]) == [2.0, 3.5, 2.5]
    assert leave_one_out_medians([]) == []


def test_a_single_value_has_no_peers_to_take_a_median_of() -> None:
    (only,) = leave_one_out_medians([7.0])

    assert math.isnan(only)


def test_leave_one_out_medians_match_brute_force_with_ties() -> None:
    rng = random.Random(3)
    for _ in range(400):
        size = rng.randint(2, 25)
        if rng.random() < 0.5:
            values = [float(rng.randint(0, 4)) for _ in range(size)]
        else:
            values = [rng.uniform(-10, 10) for _ in range(size)]
        brute = [statistics.median(values[:i] + values[i + 1 :]) for i in range(size)]
        assert leave_one_out_medians(values) == pytest.approx(brute), values


def test_median_interval_ranks_by_hand() -> None:
    values = [float(v) for v in range(1, 101)]

    # j = floor(50 - 1.96 * 10 / 2) = 40, k = ceil(1 + 50 + 9.8) = 61
    assert median_interval(values) == (40.0, 61.0)
    assert median_interval([float(v) for v in range(1, 11)]) == (1.0, 10.0)
    assert median_interval([1.0, 2.0, 9.0]) == (1.0, 9.0)


def test_median_interval_needs_three_sorted_values() -> None:
    assert median_interval([1.0, 2.0]) is None
    assert median_interval([]) is None
    with pytest.raises(ValueError, match="ascending"):
        median_interval([3.0, 1.0, 2.0])


def test_median_interval_covers_the_median_at_least_95_percent_of_the_time() -> None:
    # Coverage of [X_(j), X_(k)] is P(j <= Binomial(n, 1/2) < k), exactly, for any continuous data.
    for n in range(6, 300):
        low, high = median_interval([float(v) for v in range(1, n + 1)]) or (0.0, 0.0)
        coverage = sum(comb(n, i) for i in range(int(low), int(high))) / 2**n
        assert coverage >= 0.95, n


# --- normalised gain -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pre", "post", "gain"),
    [(40.0, 44.0, 4 / 60), (80.0, 88.0, 0.4), (50.0, 40.0, -0.2), (0.0, 100.0, 1.0)],
)
def test_normalised_gain(pre: float, post: float, gain: float) -> None:
    assert normalised_gain(pre, post) == pytest.approx(gain)


def test_normalised_gain_is_undefined_from_a_perfect_start_or_off_the_scale() -> None:
    with pytest.raises(ValueError, match="perfect"):
        normalised_gain(100.0, 100.0)
    with pytest.raises(ValueError, match="0-100"):
        normalised_gain(40.0, 101.0)


# --- control charts ------------------------------------------------------------------------------


def test_p_chart_pools_the_center_and_skips_periods_without_trials() -> None:
    points = p_chart([2, 0, 5], [20, 0, 30])

    p = 7 / 50
    assert [astuple(point) for point in points] == [
        pytest.approx((0.1, p, math.sqrt(p * (1 - p) / 20))),
        pytest.approx((1 / 6, p, math.sqrt(p * (1 - p) / 30))),
    ]


def test_p_chart_with_a_given_center_and_without_data() -> None:
    (point,) = p_chart([3], [10], center=0.1)

    assert point.center == 0.1
    assert point.sigma == pytest.approx(math.sqrt(0.09 / 10))
    assert p_chart([0, 0], [0, 0]) == []
    with pytest.raises(ValueError, match="center"):
        p_chart([3], [10], center=1.5)


def test_individuals_chart_uses_the_average_moving_range() -> None:
    points = individuals_chart([10.0, 12.0, 11.0, 15.0])

    sigma = (2 + 1 + 4) / 3 / 1.128
    assert [point.value for point in points] == [10.0, 12.0, 11.0, 15.0]
    assert {point.center for point in points} == {12.0}
    assert [point.sigma for point in points] == pytest.approx([sigma] * 4)
    assert individuals_chart([10.0, 12.0], center=9.0)[0].center == 9.0
    assert individuals_chart([10.0]) == []


def _chart(*zs: float) -> list[ChartPoint]:
    """Points around center 0 with sigma 1, so each value is its own z-score."""
    return [ChartPoint(z, 0.0, 1.0) for z in zs]


def _fired(rule: str, *zs: float) -> list[Signal]:
    return [signal for signal in western_electric_signals(_chart(*zs)) if signal.rule == rule]


def test_one_point_beyond_3_sigma() -> None:
    assert _fired("beyond_3_sigma", 0.0, 3.1) == [Signal("beyond_3_sigma", "above", 1)]
    assert _fired("beyond_3_sigma", -3.1) == [Signal("beyond_3_sigma", "below", 0)]
    assert _fired("beyond_3_sigma", 0.0, 3.0, -3.0) == []


def test_two_of_three_beyond_2_sigma() -> None:
    rule = "two_of_three_beyond_2_sigma"
    assert _fired(rule, 0.0, 2.5, 0.0, 2.5) == [Signal(rule, "above", 3)]
    assert _fired(rule, -2.1, -2.1) == [Signal(rule, "below", 1)]
    assert _fired(rule, 2.5, 0.0, 0.0, 2.5) == []  # only one of the last three
    assert _fired(rule, -2.5, 0.0, 2.5) == []  # one on each side
    assert _fired(rule, 0.0, 2.0, 2.5) == []  # exactly 2 sigma is not beyond


def test_four_of_five_beyond_1_sigma() -> None:
    rule = "four_of_five_beyond_1_sigma"
    assert _fired(rule, 1.5, 1.5, 0.0, 1.5, 1.5) == [Signal(rule, "above", 4)]
    assert _fired(rule, 1.5, 1.5, -1.5, 1.5, 1.5) == [Signal(rule, "above", 4)]
    assert _fired(rule, 1.5, 0.0, 0.0, 1.5, 1.5, 1.5) == []  # three of five
    assert _fired(rule, 1.5, -1.5, 1.5, -1.5, 1.5) == []  # never four on one side
    assert _fired(rule, -1.1, -1.1, -1.1, -1.1) == [
        Signal(rule, "below", 3)
    ]  # four of the first four


def test_eight_in_a_row_on_one_side() -> None:
    rule = "eight_in_a_row"
    assert _fired(rule, *[0.5] * 8) == [Signal(rule, "above", 7)]
    assert _fired(rule, *[0.5] * 7) == []
    assert _fired(rule, *[0.5] * 3, 0.0, *[0.5] * 5) == []  # a point on the center breaks it


def test_a_rule_that_keeps_holding_is_reported_at_each_end_index() -> None:
    rule = "eight_in_a_row"
    assert _fired(rule, *[-0.2] * 10) == [Signal(rule, "below", i) for i in (7, 8, 9)]


def test_signals_come_in_end_index_order_then_rule_order() -> None:
    signals = western_electric_signals(_chart(2.5, 3.5, 0.0, -3.2))

    assert signals == [
        Signal("beyond_3_sigma", "above", 1),
        Signal("two_of_three_beyond_2_sigma", "above", 1),
        Signal("beyond_3_sigma", "below", 3),
    ]


def test_points_without_spread_signal_any_departure_from_the_center() -> None:
    flat = [ChartPoint(0.2, 0.2, 0.0), ChartPoint(0.3, 0.2, 0.0)]

    assert western_electric_signals(flat) == [Signal("beyond_3_sigma", "above", 1)]
    assert western_electric_signals(flat[:1]) == []


@pytest.mark.parametrize(
    ("values", "reference", "direction", "watch"),
    [
        ([5.0, 1.0, 1.0, 1.0], 2.0, "higher", True),
        ([1.0, 1.0, 2.0], 2.0, "higher", False),  # equal is not worse
        ([1.0, 1.0], 2.0, "higher", False),  # too short for a run
        ([3.0, 3.0, 3.0], 2.0, "lower", True),
        ([3.0, 1.0, 3.0], 2.0, "lower", False),
    ],
)
def test_run_worse(
    values: list[float], reference: float, direction: Direction, watch: bool
) -> None:
    assert run_worse(values, reference, direction) is watch


def test_run_worse_with_another_length() -> None:
    assert run_worse([1.0, 3.0, 3.0], 2.0, "lower", length=2)
    with pytest.raises(ValueError, match="at least one"):
        run_worse([1.0], 2.0, "lower", length=0)


# --- percentile within a group -------------------------------------------------------------------


def test_percentile_ranks_keep_the_input_order() -> None:
    assert percentile_ranks([30.0, 10.0, 20.0]) == [100.0, 0.0, 50.0]


def test_percentile_ranks_give_ties_their_mid_rank() -> None:
    assert percentile_ranks([10.0, 20.0, 20.0, 30.0]) == [0.0, 50.0, 50.0, 100.0]
    assert percentile_ranks([20.0, 10.0, 20.0, 20.0]) == pytest.approx(
        [200 / 3, 0.0, 200 / 3, 200 / 3]
    )
    assert percentile_ranks([5.0, 5.0, 5.0]) == [50.0, 50.0, 50.0]


def test_a_group_of_one_has_no_percentile() -> None:
    assert percentile_ranks([42.0]) == [None]
    assert percentile_ranks([]) == []
