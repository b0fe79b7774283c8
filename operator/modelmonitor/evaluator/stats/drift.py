"""Drift tests on histograms and category counts, and the rule that turns them into a verdict per feature.

Numeric columns are compared on the reference profile's fine grid (edges at reference quantiles, so each
reference bin holds about 1/1000 of the reference):

- KS: the supremum of |F_ref - F_cur| over the edges, where both empirical CDFs are exact. It can only
  under-estimate the true statistic; within a bin both CDFs are monotone, so the true statistic is at most
  ``max_b max(F_ref(hi) - F_cur(lo), F_cur(hi) - F_ref(lo))``, and the difference is reported as ``bound``.
  The p-value is scipy's asymptotic one for large samples: ``kstwo.sf(D, round(n*m/(n+m)))``.
- Wasserstein-1: the integral of |F_ref - F_cur|; beyond the reference range it is exact (sums of distances
  of the current values outside it), inside each bin it is the trapezoid of the endpoint differences, off
  by at most the bin's width times the spread the bin's masses allow (``bound``). Normed by the reference
  standard deviation (ddof=0), as Evidently does, to give an effect size.
- PSI and Jensen–Shannon distance (base 2) on ``bins`` coarse bins at reference quantiles (open-ended end
  bins); PSI replaces empty shares by 1e-4 (Evidently's choice), JS needs no such fix.
- Welch's t-test from the exact moments (scipy's ``ttest_ind_from_stats``, ``equal_var=False``).

Categorical columns: chi-square test of homogeneity on the 2 x k table of reference and current counts
(``scipy.stats.chi2_contingency`` without Yates' correction; categories absent from both dropped), PSI and
JS distance on the category shares. Current categories never seen in the reference are pooled as one
category ``__unseen__``; with more reference categories than the profile keeps, the rest pool as ``__other__``
(their names are kept, so a new category is unseen and drifts, never hidden among the rare ones).

Decision: hypothesis tests (ks, chi2, ttest) and the model-free effect sizes (psi, wasserstein,
jensen_shannon) are both needed. A hypothesis test says drifted when its (optionally corrected) p-value is
below ``p_value`` *and* the column's effect size passes its threshold (normed Wasserstein for numeric,
JS distance for categorical). An effect-size test says drifted when it passes its threshold *and* the
column's gate test (ks for numeric, chi2 for categorical: always computed) is significant. Large samples
make every p-value tiny and small shifts do not pass the effect gate; thin samples fail significance. Below
``minimum_sample_size`` values on either side the status is ``inconclusive``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelmonitor.api.metrics import DEFAULT_EFFECT_GATE, DRIFT_TESTS, HYPOTHESIS_TESTS
from modelmonitor.api.model import DriftCorrection, DriftSpec
from modelmonitor.evaluator.stats.columns import CategoricalColumnState, FloatArray, NumericColumnState
from modelmonitor.evaluator.stats.distributions import (
    chi_square_sf,
    kolmogorov_two_sided_sf,
    rel_entr,
    student_t_two_sided,
)
from modelmonitor.evaluator.stats.errors import StatsConfigError
from modelmonitor.evaluator.stats.results import Distribution, DriftStatus, DriftTestResult, FeatureDrift

__all__ = [
    "DRIFT_TESTS",
    "HYPOTHESIS_TESTS",
    "OTHER_CATEGORY",
    "PSI_EPSILON",
    "UNSEEN_CATEGORY",
    "Correction",
    "DriftSettings",
    "adjust_p_values",
    "categorical_tables",
    "chi_square_homogeneity",
    "coarse_bin_boundaries",
    "decide_features",
    "evaluate_categorical_column",
    "evaluate_numeric_column",
    "jensen_shannon_distance",
    "ks_from_histograms",
    "ks_p_value",
    "population_stability_index",
    "wasserstein_from_histograms",
    "welch_t_test",
]

Correction = DriftCorrection
PSI_EPSILON = 1e-4
UNSEEN_CATEGORY = "__unseen__"
OTHER_CATEGORY = "__other__"
IntArray = npt.NDArray[np.int64]


_SPEC = DriftSpec()  # the spec's defaults (``modelmonitor.api``): the settings of a declared ``drift: {}``


@dataclass(frozen=True)
class DriftSettings:
    """How drift is tested and decided: ``from_drift_spec`` reads the monitor's ``spec.drift``.

    The fields a spec sets default to the spec's own defaults (from ``modelmonitor.api``, never restated here);
    the rest (``bins`` and the model-based tests' settings) are the engine's. ``tests`` empty: no drift test
    at all (a monitor without ``spec.drift``). ``*_critical`` are the declared critical levels (``None``: the
    test has no critical level).
    """

    tests: tuple[str, ...] = tuple(_SPEC.tests)
    p_value: float = _SPEC.p_value
    psi_warning: float = _SPEC.psi.warning
    psi_critical: float = _SPEC.psi.critical
    wasserstein_threshold: float = DEFAULT_EFFECT_GATE
    wasserstein_critical: float | None = None
    jensen_shannon_threshold: float = DEFAULT_EFFECT_GATE
    jensen_shannon_critical: float | None = None
    minimum_sample_size: int = _SPEC.min_sample_size
    correction: Correction = _SPEC.correction
    dataset_drift_share: float = _SPEC.dataset_drift_share
    bins: int = 10
    classifier_auc_threshold: float = 0.55
    isolation_forest_threshold: float = 0.05
    model_sample_size: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [name for name in self.tests if name not in DRIFT_TESTS]
        if unknown:
            raise StatsConfigError(
                f"drift.tests has unknown test(s) {', '.join(map(repr, unknown))}; known: {', '.join(DRIFT_TESTS)}",
                reason="UnknownDriftTest",
            )
        if self.bins < 2:
            raise StatsConfigError(f"drift.bins must be at least 2, got {self.bins}", reason="InvalidSetting")

    @classmethod
    def from_drift_spec(cls, drift: DriftSpec | None) -> DriftSettings:
        """Settings of a typed ``spec.drift``; ``None`` (no ``spec.drift``) runs no drift test."""
        if drift is None:
            return cls(tests=())
        wasserstein, jensen_shannon = drift.wasserstein, drift.jensen_shannon
        return cls(
            tests=tuple(drift.tests),
            p_value=drift.p_value,
            psi_warning=drift.psi.warning,
            psi_critical=drift.psi.critical,
            wasserstein_threshold=DEFAULT_EFFECT_GATE if wasserstein is None else wasserstein.warning,
            wasserstein_critical=None if wasserstein is None else wasserstein.critical,
            jensen_shannon_threshold=DEFAULT_EFFECT_GATE if jensen_shannon is None else jensen_shannon.warning,
            jensen_shannon_critical=None if jensen_shannon is None else jensen_shannon.critical,
            minimum_sample_size=drift.min_sample_size,
            correction=drift.correction,
            dataset_drift_share=drift.dataset_drift_share,
        )

    def critical_level(self, test: str) -> float | None:
        """The effect from which ``test``'s drift is critical (psi, wasserstein, jensen_shannon), else ``None``."""
        return {
            "psi": self.psi_critical,
            "wasserstein": self.wasserstein_critical,
            "jensen_shannon": self.jensen_shannon_critical,
        }.get(test)


# --- pure statistics -------------------------------------------------------------------------------------


def _cdf_at_edges(histogram: IntArray) -> FloatArray:
    """F(edge_i) for every edge, from a left-open histogram (len(edges) + 1 bins)."""
    cumulative = np.cumsum(histogram[:-1]).astype(np.float64)
    return cumulative / float(histogram.sum())


def ks_from_histograms(reference: IntArray, current: IntArray) -> tuple[float, float]:
    """The KS statistic on the grid (a lower bound of the exact one) and the largest possible excess."""
    reference_cdf = _cdf_at_edges(reference)
    current_cdf = _cdf_at_edges(current)
    statistic = float(np.max(np.abs(reference_cdf - current_cdf))) if len(reference_cdf) else 0.0
    reference_low = np.concatenate([[0.0], reference_cdf])
    reference_high = np.concatenate([reference_cdf, [1.0]])
    current_low = np.concatenate([[0.0], current_cdf])
    current_high = np.concatenate([current_cdf, [1.0]])
    upper = float(np.max(np.maximum(reference_high - current_low, current_high - reference_low)))
    return statistic, max(upper - statistic, 0.0)


def ks_p_value(statistic: float, reference_count: int, current_count: int) -> float:
    """Two-sided KS p-value as scipy's ``ks_2samp(method='asymp')`` computes it."""
    larger, smaller = sorted([float(reference_count), float(current_count)], reverse=True)
    effective = larger * smaller / (larger + smaller)
    return kolmogorov_two_sided_sf(statistic, float(np.round(effective)))


def wasserstein_from_histograms(
    edges: FloatArray,
    reference: IntArray,
    current: IntArray,
    current_below_distance: float,
    current_above_distance: float,
) -> tuple[float, float]:
    """Wasserstein-1 distance and its bound; the reference lies within [edges[0], edges[-1]]."""
    current_count = float(current.sum())
    reference_cdf = _cdf_at_edges(reference)
    current_cdf = _cdf_at_edges(current)
    widths = np.diff(edges)
    difference = np.abs(reference_cdf - current_cdf)
    estimate_per_bin = 0.5 * (difference[:-1] + difference[1:])
    upper = np.maximum(reference_cdf[1:] - current_cdf[:-1], current_cdf[1:] - reference_cdf[:-1])
    lower = np.maximum.reduce(
        [np.zeros_like(upper), reference_cdf[:-1] - current_cdf[1:], current_cdf[:-1] - reference_cdf[1:]]
    )
    inside = float(np.dot(widths, estimate_per_bin))
    bound = float(np.dot(widths, np.maximum(upper - estimate_per_bin, estimate_per_bin - lower)))
    outside = (current_below_distance + current_above_distance) / current_count
    return inside + outside, bound


def population_stability_index(reference_shares: FloatArray, current_shares: FloatArray) -> float:
    """PSI = sum((q - p) * ln(q / p)), empty shares replaced by ``PSI_EPSILON``."""
    reference_shares = np.where(reference_shares > 0, reference_shares, PSI_EPSILON)
    current_shares = np.where(current_shares > 0, current_shares, PSI_EPSILON)
    return float(np.sum((current_shares - reference_shares) * np.log(current_shares / reference_shares)))


def jensen_shannon_distance(reference_shares: FloatArray, current_shares: FloatArray) -> float:
    """Jensen–Shannon distance with base-2 logarithms (in [0, 1]), as ``scipy.spatial.distance`` computes it."""
    p = np.asarray(reference_shares, dtype=np.float64)
    q = np.asarray(current_shares, dtype=np.float64)
    p = p / np.sum(p, axis=0, keepdims=True)
    q = q / np.sum(q, axis=0, keepdims=True)
    m = (p + q) / 2.0
    divergence = np.sum(rel_entr(p, m), axis=0) + np.sum(rel_entr(q, m), axis=0)
    return float(np.sqrt(divergence / np.log(2) / 2.0))


def chi_square_homogeneity(reference: IntArray, current: IntArray) -> tuple[float, float]:
    """Chi-square test that both samples come from one categorical distribution."""
    present = (reference + current) > 0
    table = np.vstack([reference[present], current[present]])
    if table.shape[1] < 2:
        return 0.0, 1.0
    # scipy.stats.chi2_contingency(table, correction=False), step by step: expected counts from the margins,
    # Pearson's statistic, chi-square tail with (rows - 1) * (columns - 1) degrees of freedom.
    observed = table.astype(np.float64)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, chi_square_sf(statistic, float(table.shape[1] - 1))


def welch_t_test(
    reference_mean: float,
    reference_variance: float,
    reference_count: int,
    current_mean: float,
    current_variance: float,
    current_count: int,
) -> tuple[float, float]:
    """Welch's unequal-variance t-test from moments (variances with ddof=1)."""
    if reference_count < 2 or current_count < 2 or reference_variance + current_variance <= 0:
        return math.nan, math.nan
    # scipy.stats.ttest_ind_from_stats(..., equal_var=False), step by step (it takes standard deviations).
    reference_share = math.sqrt(reference_variance) ** 2 / reference_count
    current_share = math.sqrt(current_variance) ** 2 / current_count
    degrees_of_freedom = (reference_share + current_share) ** 2 / (
        reference_share**2 / (reference_count - 1) + current_share**2 / (current_count - 1)
    )
    if math.isnan(degrees_of_freedom):
        degrees_of_freedom = 1.0
    statistic = (reference_mean - current_mean) / math.sqrt(reference_share + current_share)
    return statistic, student_t_two_sided(statistic, degrees_of_freedom)


def adjust_p_values(p_values: Sequence[float], method: Correction) -> list[float]:
    """Bonferroni (p * m, capped at 1) or Benjamini–Hochberg step-up adjusted p-values, in input order."""
    values = np.asarray(p_values, dtype=np.float64)
    count = len(values)
    if method == "none" or count == 0:
        return [float(value) for value in values]
    if method == "bonferroni":
        return [float(value) for value in np.minimum(values * count, 1.0)]
    order = np.argsort(values, kind="stable")
    ranked = values[order] * count / np.arange(1, count + 1)
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(count)
    adjusted[order] = np.minimum(monotone, 1.0)
    return [float(value) for value in adjusted]


def coarse_bin_boundaries(reference: IntArray, bins: int) -> list[int]:
    """Fine-bin positions that split the reference into ``bins`` groups of about equal mass.

    Returns boundaries b_0 = 0 < ... < b_k = len(reference); group g holds fine bins b_g .. b_{g+1} - 1.
    """
    cumulative = np.cumsum(reference) / max(float(reference.sum()), 1.0)
    cuts = np.searchsorted(cumulative, np.arange(1, bins) / bins, side="left") + 1
    boundaries = sorted({0, len(reference), *[int(cut) for cut in cuts if 0 < cut < len(reference)]})
    return boundaries


def _group(histogram: IntArray, boundaries: list[int]) -> IntArray:
    return np.add.reduceat(histogram, boundaries[:-1]).astype(np.int64)


def _shares(counts: IntArray) -> FloatArray:
    total = float(counts.sum())
    return counts / total if total else np.zeros(len(counts))


def categorical_tables(
    reference: CategoricalColumnState, current: CategoricalColumnState
) -> tuple[list[str], IntArray, IntArray]:
    """Aligned category counts: reference categories, then ``__other__`` and ``__unseen__`` when present.

    ``__other__`` pools the reference's rare categories (past the profile's limit) on both sides;
    ``__unseen__`` holds current values of categories the reference never had, so new categories are never
    hidden among rare ones and drift as they should. Current values past the current side's tracking limit
    (names not kept) count as unseen.
    """
    names = sorted(reference.counts, key=lambda name: (-reference.counts[name], name))
    known = set(names)
    reference_counts = [reference.counts[name] for name in names]
    current_counts = [current.counts.get(name, 0) for name in names]
    pooled = sum(count for name, count in current.counts.items() if name not in known and name in reference.pooled)
    unseen = current.overflow + sum(
        count for name, count in current.counts.items() if name not in known and name not in reference.pooled
    )
    if reference.overflow:
        names.append(OTHER_CATEGORY)
        reference_counts.append(reference.overflow)
        current_counts.append(pooled)
    if unseen:
        names.append(UNSEEN_CATEGORY)
        reference_counts.append(0)
        current_counts.append(unseen)
    return names, np.asarray(reference_counts, dtype=np.int64), np.asarray(current_counts, dtype=np.int64)


# --- per-column evaluation ---------------------------------------------------------------------------------


def _inconclusive_reason(reference_count: int, current_count: int, settings: DriftSettings) -> str | None:
    if min(reference_count, current_count) >= settings.minimum_sample_size:
        return None
    return (
        f"too few values to decide: {reference_count} in the reference and {current_count} in the current "
        f"data, at least {settings.minimum_sample_size} needed on each side"
    )


def evaluate_numeric_column(
    name: str,
    role: str,
    edges: FloatArray,
    reference: NumericColumnState,
    current: NumericColumnState,
    settings: DriftSettings,
) -> FeatureDrift:
    """All configured tests on one numeric column; ``decide_features`` sets the final statuses."""
    assert reference.histogram is not None and current.histogram is not None
    reference_count, current_count = reference.count, current.count
    reason = _inconclusive_reason(reference_count, current_count, settings)
    if current_count == 0 or reference_count == 0:
        return FeatureDrift(
            name, role, "numeric", "inconclusive", [], reference_count, current_count, None, reason
        )
    statistic, bound = ks_from_histograms(reference.histogram, current.histogram)
    wasserstein, wasserstein_bound = wasserstein_from_histograms(
        edges,
        reference.histogram,
        current.histogram,
        current.below_distance.value,
        current.above_distance.value,
    )
    reference_std = math.sqrt(reference.variance(0)) if reference.count > 0 else math.nan
    normed_wasserstein = (
        wasserstein / reference_std if reference_std > 0 else (0.0 if wasserstein == 0 else math.inf)
    )
    boundaries = coarse_bin_boundaries(reference.histogram, settings.bins)
    reference_shares = _shares(_group(reference.histogram, boundaries))
    current_shares = _shares(_group(current.histogram, boundaries))
    results = [
        DriftTestResult(
            "ks",
            statistic,
            ks_p_value(statistic, reference_count, current_count),
            normed_wasserstein,
            settings.wasserstein_threshold,
            False,
            bound=bound,
        )
    ]
    for test in settings.tests:
        if test == "ttest":
            t_statistic, p_value = welch_t_test(
                reference.mean,
                reference.variance(),
                reference_count,
                current.mean,
                current.variance(),
                current_count,
            )
            results.append(
                DriftTestResult(
                    "ttest",
                    t_statistic,
                    p_value,
                    normed_wasserstein,
                    settings.wasserstein_threshold,
                    False,
                    bound=0.0,
                )
            )
        elif test == "psi":
            value = population_stability_index(reference_shares, current_shares)
            results.append(DriftTestResult("psi", value, None, value, settings.psi_warning, False, bound=0.0))
        elif test == "wasserstein":
            bound_normed = wasserstein_bound / reference_std if reference_std > 0 else None
            results.append(
                DriftTestResult(
                    "wasserstein",
                    normed_wasserstein,
                    None,
                    normed_wasserstein,
                    settings.wasserstein_threshold,
                    False,
                    bound=bound_normed,
                )
            )
        elif test == "jensen_shannon":
            value = jensen_shannon_distance(reference_shares, current_shares)
            results.append(
                DriftTestResult(
                    "jensen_shannon", value, None, value, settings.jensen_shannon_threshold, False, bound=0.0
                )
            )
    plot_edges = [min(float(edges[0]), current.minimum)] + [
        float(edges[position - 1]) for position in boundaries[1:-1]
    ]
    plot_edges.append(max(float(edges[-1]), current.maximum))
    distribution = Distribution("numeric", plot_edges, reference_shares.tolist(), current_shares.tolist())
    status: DriftStatus = "inconclusive" if reason else "stable"
    return FeatureDrift(
        name, role, "numeric", status, results, reference_count, current_count, distribution, reason
    )


def evaluate_categorical_column(
    name: str,
    role: str,
    reference: CategoricalColumnState,
    current: CategoricalColumnState,
    settings: DriftSettings,
) -> FeatureDrift:
    """All configured tests on one categorical column; ``decide_features`` sets the final statuses."""
    reference_count, current_count = reference.count, current.count
    reason = _inconclusive_reason(reference_count, current_count, settings)
    if current_count == 0 or reference_count == 0:
        return FeatureDrift(
            name, role, "categorical", "inconclusive", [], reference_count, current_count, None, reason
        )
    names, reference_counts, current_counts = categorical_tables(reference, current)
    reference_shares, current_shares = _shares(reference_counts), _shares(current_counts)
    js_distance = jensen_shannon_distance(reference_shares, current_shares)
    statistic, p_value = chi_square_homogeneity(reference_counts, current_counts)
    results = [
        DriftTestResult(
            "chi2", statistic, p_value, js_distance, settings.jensen_shannon_threshold, False, bound=0.0
        )
    ]
    for test in settings.tests:
        if test == "psi":
            value = population_stability_index(reference_shares, current_shares)
            results.append(DriftTestResult("psi", value, None, value, settings.psi_warning, False, bound=0.0))
        elif test == "jensen_shannon":
            results.append(
                DriftTestResult(
                    "jensen_shannon",
                    js_distance,
                    None,
                    js_distance,
                    settings.jensen_shannon_threshold,
                    False,
                    bound=0.0,
                )
            )
    distribution = Distribution("categorical", names, reference_shares.tolist(), current_shares.tolist())
    status: DriftStatus = "inconclusive" if reason else "stable"
    return FeatureDrift(
        name, role, "categorical", status, results, reference_count, current_count, distribution, reason
    )


def decide_features(features: list[FeatureDrift], settings: DriftSettings) -> None:
    """Apply the multiple-testing correction across ``features`` and set every test's and column's verdict.

    The gate test (ks / chi2, always first in ``tests``) is always reported; it decides the status only when
    configured. A column no configured test applies to (``ks`` alone and a categorical column) is not judged:
    it is ``inconclusive``, with the reason, and out of the correction's family.
    """
    hypothesis = [
        result
        for feature in features
        if feature.status != "inconclusive" and any(result.test in settings.tests for result in feature.tests)
        for result in feature.tests
        if result.test in HYPOTHESIS_TESTS and result.p_value is not None and not math.isnan(result.p_value)
    ]
    for result, adjusted in zip(
        hypothesis,
        adjust_p_values([result.p_value or 0.0 for result in hypothesis], settings.correction),
        strict=True,
    ):
        result.adjusted_p_value = adjusted
    for feature in features:
        gate = feature.tests[0] if feature.tests else None
        gate_significant = bool(
            gate is not None
            and gate.adjusted_p_value is not None
            and gate.adjusted_p_value < settings.p_value
        )
        for result in feature.tests:
            effect_passes = (
                result.effect is not None
                and result.threshold is not None
                and result.effect >= result.threshold
            )
            if result.test in HYPOTHESIS_TESTS:
                significant = (
                    result.adjusted_p_value is not None and result.adjusted_p_value < settings.p_value
                )
                result.drifted = bool(significant and effect_passes)
            else:
                result.drifted = bool(gate_significant and effect_passes)
            if result.test == "psi" and result.effect is not None:
                if result.effect >= settings.psi_critical:
                    result.severity = "critical"
                elif result.effect >= settings.psi_warning:
                    result.severity = "warning"
            elif result.test in ("wasserstein", "jensen_shannon") and effect_passes and result.effect is not None:
                critical = settings.critical_level(result.test)
                result.severity = "critical" if critical is not None and result.effect >= critical else "warning"
        if feature.status == "inconclusive":
            for result in feature.tests:
                result.drifted = False
            continue
        configured = [result for result in feature.tests if result.test in settings.tests]
        if not configured:  # the gate test alone is not a declared test: it reports, it does not decide
            feature.status = "inconclusive"
            feature.reason = (
                f"no declared drift test applies to a {feature.kind} column (spec.drift.tests: "
                f"{', '.join(settings.tests)})"
            )
            for result in feature.tests:
                result.drifted = False
            continue
        feature.status = "drifted" if any(result.drifted for result in configured) else "stable"
