"""Fixed-sample tests of one look, in numpy only: exact McNemar, Welch, two proportions, DeLong, bootstrap F1.

These are the textbook tests, reported beside every comparison as "what one look at this sample says"; the
decisions themselves come from the anytime-valid intervals of ``sequential`` (repeating a fixed-sample test at
every run would inflate its error rate). Each is checked in the unit tests against an independent
implementation (scipy.stats, scikit-learn, an O(n²) DeLong) on real data.

- Exact McNemar: among the b + c discordant pairs, b ~ Binomial(b + c, 1/2) under "equal accuracy"; the
  two-sided p-value doubles the smaller tail (as ``scipy.stats.binomtest`` does for p = 1/2). The binomial tail
  is the regularised incomplete beta function, evaluated by its continued fraction (Lentz's method).
- Welch: t = (x̄₁ - x̄₂) / sqrt(s₁²/n₁ + s₂²/n₂) with Welch–Satterthwaite degrees of freedom; the Student t
  tail is again an incomplete beta.
- Two proportions: pooled z-test p-value, unpooled (Wald) interval.
- DeLong (1988) for correlated ROC AUCs, computed from joint score histograms on a fixed grid (scores in the
  same bin tie and count one half): the structural components V10 (for a positive: share of negatives below
  it) and V01 (for a negative: share of positives above it) depend only on the bin, so their covariances are
  quadratic forms of the joint histograms, and the statistic is exact for the binned scores.
- Paired bootstrap for F1: F1 depends only on the counts of (label, champion prediction, challenger
  prediction) cells, so resampling rows with replacement is exactly a multinomial draw over those cells:
  the row-level paired bootstrap without keeping the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = [
    "BootstrapResult",
    "TestResult",
    "binomial_lower_tail",
    "bootstrap_f1_difference",
    "delong_paired",
    "delong_single",
    "exact_mcnemar",
    "f1_from_cells",
    "student_t_quantile",
    "student_t_two_sided",
    "two_proportions",
    "welch",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_STANDARD_NORMAL = NormalDist()
BOOTSTRAP_REPLICATES = 2000


@dataclass(frozen=True)
class TestResult:
    """A fixed-sample estimate of challenger - champion with its standard error, p-value and 95% interval."""

    difference: float
    standard_error: float
    p_value: float
    low: float
    high: float


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes' betacf, Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 100_000):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 + even * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + even / c
        c = c if abs(c) > tiny else tiny
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1 + odd * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + odd / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        result *= step
        if abs(step - 1) < 1e-15:
            break
    return result


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the CDF of a Beta(a, b) variable at x."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _continued_fraction(b, a, 1 - x) / b


def binomial_lower_tail(successes: int, trials: int, probability: float) -> float:
    """P(X <= successes) for X ~ Binomial(trials, probability)."""
    if successes < 0:
        return 0.0
    if successes >= trials:
        return 1.0
    return regularized_incomplete_beta(trials - successes, successes + 1, 1 - probability)


def student_t_two_sided(statistic: float, degrees_of_freedom: float) -> float:
    """P(|T| >= |statistic|) for Student's t with the given (possibly fractional) degrees of freedom."""
    if not math.isfinite(statistic):
        return 0.0 if not math.isnan(statistic) else math.nan
    return regularized_incomplete_beta(
        degrees_of_freedom / 2, 0.5, degrees_of_freedom / (degrees_of_freedom + statistic * statistic)
    )


def _normal_interval(difference: float, standard_error: float, p_value: float) -> TestResult:
    half = _STANDARD_NORMAL.inv_cdf(0.975) * standard_error
    return TestResult(difference, standard_error, p_value, difference - half, difference + half)


def exact_mcnemar(champion_only: int, challenger_only: int, rows: int) -> TestResult:
    """Paired accuracy: b rows only the champion got right, c only the challenger; difference (c - b) / rows."""
    discordant = champion_only + challenger_only
    p_value = (
        1.0
        if discordant == 0
        else min(1.0, 2 * binomial_lower_tail(min(champion_only, challenger_only), discordant, 0.5))
    )
    difference = (challenger_only - champion_only) / rows if rows else math.nan
    variance = (discordant / rows - difference**2) / rows if rows else math.nan
    return _normal_interval(difference, math.sqrt(max(variance, 0.0)), p_value)


def welch(first: tuple[int, float, float], second: tuple[int, float, float]) -> tuple[TestResult, float, float]:
    """Welch's test of mean(second) - mean(first) from (count, mean, unbiased variance); also t and its df."""
    (n1, mean1, var1), (n2, mean2, var2) = first, second
    share1, share2 = var1 / n1, var2 / n2
    standard_error = math.sqrt(share1 + share2)
    difference = mean2 - mean1
    if standard_error == 0:
        return TestResult(difference, 0.0, 1.0 if difference == 0 else 0.0, difference, difference), math.nan, math.nan
    statistic = difference / standard_error
    freedom = (share1 + share2) ** 2 / (share1**2 / (n1 - 1) + share2**2 / (n2 - 1))
    p_value = student_t_two_sided(statistic, freedom)
    half = student_t_quantile(0.975, freedom) * standard_error
    return TestResult(difference, standard_error, p_value, difference - half, difference + half), statistic, freedom


def student_t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """The upper ``probability`` quantile of Student's t: Newton's method from the normal quantile."""
    freedom = degrees_of_freedom
    target = 2 * (1 - probability)
    log_density_constant = math.lgamma((freedom + 1) / 2) - math.lgamma(freedom / 2) - 0.5 * math.log(freedom * math.pi)
    z = _STANDARD_NORMAL.inv_cdf(probability)
    # Cornish-Fisher start (Abramowitz & Stegun 26.7.5), then Newton on the two-sided tail
    value = z + (z**3 + z) / (4 * freedom) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * freedom**2)
    for _ in range(50):
        density = math.exp(log_density_constant - (freedom + 1) / 2 * math.log1p(value * value / freedom))
        step = (student_t_two_sided(value, freedom) - target) / (2 * density)
        value = max(value + step, value / 2)
        if abs(step) < 1e-13 * max(1.0, value):
            break
    return value


def two_proportions(first: tuple[int, int], second: tuple[int, int]) -> TestResult:
    """second - first for (successes, rows) pairs: pooled z-test p-value, Wald interval."""
    (x1, n1), (x2, n2) = first, second
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    pooled_error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    difference = p2 - p1
    p_value = 1.0 if pooled_error == 0 else 2 * (1 - _STANDARD_NORMAL.cdf(abs(difference) / pooled_error))
    standard_error = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return _normal_interval(difference, standard_error, p_value)


def _components(positive: IntArray, negative: IntArray) -> tuple[FloatArray, FloatArray, float]:
    """Per-bin DeLong components V10 (positives) and V01 (negatives), and the AUC, from 1-D histograms."""
    positives, negatives = float(positive.sum()), float(negative.sum())
    below = np.cumsum(negative) - negative
    above = np.cumsum(positive[::-1])[::-1] - positive
    v10 = (below + 0.5 * negative) / negatives
    v01 = (above + 0.5 * positive) / positives
    return v10, v01, float(np.dot(positive, v10) / positives)


def delong_single(positive: IntArray, negative: IntArray) -> tuple[float, float]:
    """ROC AUC and its DeLong variance from per-bin counts of positives and negatives (ascending score)."""
    positives, negatives = int(positive.sum()), int(negative.sum())
    if positives < 2 or negatives < 2:
        return math.nan, math.nan
    v10, v01, auc = _components(positive, negative)
    s10 = (float(np.dot(positive, v10 * v10)) - positives * auc * auc) / (positives - 1)
    s01 = (float(np.dot(negative, v01 * v01)) - negatives * auc * auc) / (negatives - 1)
    return auc, s10 / positives + s01 / negatives


def delong_paired(joint_positive: IntArray, joint_negative: IntArray) -> tuple[float, float, TestResult]:
    """Both AUCs and DeLong's test of challenger - champion from joint histograms [champion bin, challenger bin]."""
    positives, negatives = int(joint_positive.sum()), int(joint_negative.sum())
    if positives < 2 or negatives < 2:
        nan = math.nan
        return nan, nan, TestResult(nan, nan, nan, nan, nan)
    champion_v10, champion_v01, champion_auc = _components(joint_positive.sum(axis=1), joint_negative.sum(axis=1))
    challenger_v10, challenger_v01, challenger_auc = _components(joint_positive.sum(axis=0), joint_negative.sum(axis=0))

    def covariance(joint: IntArray, first: FloatArray, second: FloatArray, mean1: float, mean2: float) -> float:
        """Covariance over rows of first[champion bin] and second[challenger bin], rows counted by ``joint``."""
        count = float(joint.sum())
        return (float(first @ joint.astype(np.float64) @ second) - count * mean1 * mean2) / (count - 1)

    def variance_of(marginal: IntArray, component: FloatArray, mean: float) -> float:
        count = float(marginal.sum())
        return (float(np.dot(marginal, component * component)) - count * mean * mean) / (count - 1)

    s10_champion = variance_of(joint_positive.sum(axis=1), champion_v10, champion_auc)
    s10_challenger = variance_of(joint_positive.sum(axis=0), challenger_v10, challenger_auc)
    s10_both = covariance(joint_positive, champion_v10, challenger_v10, champion_auc, challenger_auc)
    s01_champion = variance_of(joint_negative.sum(axis=1), champion_v01, champion_auc)
    s01_challenger = variance_of(joint_negative.sum(axis=0), challenger_v01, challenger_auc)
    s01_both = covariance(joint_negative, champion_v01, challenger_v01, champion_auc, challenger_auc)
    variance = (s10_champion + s10_challenger - 2 * s10_both) / positives + (
        s01_champion + s01_challenger - 2 * s01_both
    ) / negatives
    difference = challenger_auc - champion_auc
    standard_error = math.sqrt(max(variance, 0.0))
    if standard_error == 0:
        p_value = 1.0 if difference == 0 else 0.0
    else:
        p_value = 2 * (1 - _STANDARD_NORMAL.cdf(abs(difference) / standard_error))
    return champion_auc, challenger_auc, _normal_interval(difference, standard_error, p_value)


def f1_from_cells(counts: FloatArray, truth: list[str], predicted: list[str], positive: str | None) -> FloatArray:
    """F1 (binary: of ``positive``; otherwise macro over the labels seen) for each row of cell counts.

    ``counts`` is (replicates, cells); cell j holds rows with label ``truth[j]`` predicted ``predicted[j]``.
    """
    labels = [positive] if positive is not None else sorted(set(truth) | set(predicted))
    truth_array, predicted_array = np.array(truth, dtype=object), np.array(predicted, dtype=object)
    scores = []
    for label in labels:
        is_true, is_predicted = truth_array == label, predicted_array == label
        true_positive = counts @ (is_true & is_predicted).astype(np.float64)
        denominator = counts @ is_true.astype(np.float64) + counts @ is_predicted.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores.append(np.where(denominator > 0, 2 * true_positive / denominator, 0.0))
    return np.asarray(np.mean(scores, axis=0), dtype=np.float64)


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap standard error and 95% percentile interval of an F1 difference."""

    standard_error: float
    low: float
    high: float


def bootstrap_f1_difference(
    champion_cells: tuple[FloatArray, list[str], list[str]],
    challenger_cells: tuple[FloatArray, list[str], list[str]],
    positive: str | None,
    paired_counts: IntArray | None,
    seed: int = 20240,
) -> BootstrapResult:
    """Paired (one multinomial over joint cells) or unpaired (one per arm) bootstrap of F1 challenger - champion.

    Paired: both ``*_cells`` share the rows of ``paired_counts`` (the joint table); unpaired: each tuple's
    counts are its own arm's table. The seed is fixed so a report is reproducible.
    """
    generator = np.random.default_rng(seed)

    def draw(counts: FloatArray) -> FloatArray:
        total = int(counts.sum())
        return generator.multinomial(total, counts / total, size=BOOTSTRAP_REPLICATES).astype(np.float64)

    if paired_counts is not None:
        replicates = draw(paired_counts.astype(np.float64))
        champion = f1_from_cells(replicates, champion_cells[1], champion_cells[2], positive)
        challenger = f1_from_cells(replicates, challenger_cells[1], challenger_cells[2], positive)
    else:
        champion = f1_from_cells(draw(champion_cells[0]), champion_cells[1], champion_cells[2], positive)
        challenger = f1_from_cells(draw(challenger_cells[0]), challenger_cells[1], challenger_cells[2], positive)
    differences = challenger - champion
    low, high = np.quantile(differences, [0.025, 0.975])
    return BootstrapResult(float(np.std(differences, ddof=1)), float(low), float(high))
