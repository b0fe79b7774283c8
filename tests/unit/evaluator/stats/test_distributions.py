"""The tail probabilities and the calibration computed without scipy.stats / scikit-learn equal theirs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import special, stats
from sklearn.isotonic import IsotonicRegression

from modelmonitor.evaluator.stats.distributions import chi_square_sf, kolmogorov_two_sided_sf, rel_entr, smirnov_sf
from modelmonitor.evaluator.stats.drift import chi_square_homogeneity, jensen_shannon_distance, welch_t_test
from modelmonitor.evaluator.stats.estimation import calibration_from_histograms, isotonic_fit_predict

# n * x**2 values that reach every branch of the two-sided Kolmogorov tail (Durbin, Pelz-Good, Smirnov, 0)
SCALED_SQUARES = [0.05, 0.3, 0.75, 1.0, 1.5, 2.1, 2.3, 3.0, 5.0, 10.0, 50.0, 100.0, 300.0, 371.0]


@pytest.mark.parametrize("n", [50, 141, 3000, 20_000, 99_999, 100_001, 2_000_000])
def test_kolmogorov_tail_equals_scipy_kstwo(n: int) -> None:
    for scaled in SCALED_SQUARES:
        statistic = (scaled / n) ** 0.5
        expected = float(np.clip(stats.kstwo.sf(statistic, float(n)), 0.0, 1.0))
        assert kolmogorov_two_sided_sf(statistic, float(n)) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert kolmogorov_two_sided_sf(0.0, float(n)) == 1.0
    assert kolmogorov_two_sided_sf(1.0, float(n)) == 0.0


@pytest.mark.parametrize(
    ("n", "scaled_squares"),
    [(20_001, (2.2, 4.0, 20.0, 150.0, 360.0)), (123_457, (2.2, 20.0, 360.0)), (1_000_000, (3.0,))],
)
def test_float64_smirnov_series_equals_scipy_double_double(n: int, scaled_squares: tuple[float, ...]) -> None:
    """scipy's exact double-double sum is the slow reference here (~0.5 s a call at n = 1e6)."""
    for scaled in scaled_squares:
        statistic = (scaled / n) ** 0.5
        assert smirnov_sf(n, statistic) == pytest.approx(float(special.smirnov(n, statistic)), rel=1e-12)


@pytest.mark.parametrize("degrees_of_freedom", [1, 2, 3, 4, 7, 10, 11, 39, 40, 199, 999])
def test_closed_form_chi_square_tail_equals_scipy(degrees_of_freedom: int) -> None:
    k = float(degrees_of_freedom)
    for statistic in (1e-6, 0.3, 1.0, k / 2, k - 1, k, k + 3, 2 * k, 5 * k + 20, 300.0, 1500.0):
        expected = float(special.chdtrc(k, statistic))
        assert chi_square_sf(statistic, k) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert chi_square_sf(0.0, k) == 1.0


def test_rel_entr_equals_scipy_at_every_convention() -> None:
    left = np.array([0.0, 0.1, 0.5, 0.0, 0.2, np.nan, -1.0, 0.3])
    right = np.array([0.0, 0.2, 0.0, 0.5, 0.2, 1.0, 1.0, -0.1])
    np.testing.assert_array_equal(rel_entr(left, right), special.rel_entr(left, right))


def test_chi_square_welch_and_jensen_shannon_equal_scipy() -> None:
    generator = np.random.default_rng(3)
    reference = generator.integers(0, 5000, 12).astype(np.int64)
    current = generator.integers(0, 5000, 12).astype(np.int64)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    statistic, p_value = chi_square_homogeneity(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12)

    welch = stats.ttest_ind_from_stats(1.0, np.sqrt(2.5), 900, 1.1, np.sqrt(3.1), 1200, equal_var=False)
    assert welch_t_test(1.0, 2.5, 900, 1.1, 3.1, 1200) == pytest.approx((welch.statistic, welch.pvalue), rel=1e-12)

    from scipy.spatial import distance

    shares, others = reference / reference.sum(), current / current.sum()
    assert jensen_shannon_distance(shares, others) == pytest.approx(distance.jensenshannon(shares, others, base=2))


def test_isotonic_calibration_equals_scikit_learn() -> None:
    generator = np.random.default_rng(11)
    bins = 10_000
    scores = np.clip(generator.beta(2, 3, 200_000), 0, 1 - 1e-12)
    labels = generator.random(200_000) < scores**0.8
    index = (scores * bins).astype(np.intp)
    positive = np.bincount(index[labels], minlength=bins).astype(np.int64)
    negative = np.bincount(index[~labels], minlength=bins).astype(np.int64)
    centres = (np.arange(bins) + 0.5) / bins
    totals = (positive + negative).astype(np.float64)
    occupied = totals > 0
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(centres[occupied], positive[occupied] / totals[occupied], sample_weight=totals[occupied])
    np.testing.assert_allclose(calibration_from_histograms(positive, negative), model.predict(centres), rtol=1e-12)

    x = np.array([0.1, 0.2, 0.3, 0.4])
    y = np.array([0.9, 0.1, 0.5, 0.2])
    at = np.array([0.0, 0.15, 0.35, 1.0])
    expected = IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=[1, 2, 1, 3]).predict(at)
    np.testing.assert_allclose(isotonic_fit_predict(x, y, np.array([1.0, 2, 1, 3]), at, -np.inf, np.inf), expected)


def test_evaluating_imports_neither_scikit_learn_nor_scipy_stats() -> None:
    """The import cost the evaluator avoids (~1.5 s): scikit-learn and scipy.stats stay unloaded.

    (A default evaluation at scale loads no scipy at all; that is checked by the benchmark, not here.)
    """
    code = (
        "import sys, modelmonitor.evaluator.run, modelmonitor.evaluator.stats;"
        "print(sorted(name for name in ('sklearn', 'scipy.stats') if name in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert completed.stdout.strip() == "[]"
