"""Each drift statistic against scipy on the same data: exact ones to 1e-9, grid ones within their bound."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from scipy import stats as scipy_stats
from scipy.spatial import distance as scipy_distance

from modelmonitor.evaluator.stats import (
    DriftSettings,
    DriftTestResult,
    EvaluationAccumulator,
    FeatureDrift,
    ReferenceProfile,
)
from modelmonitor.evaluator.stats.drift import adjust_p_values, decide_features, ks_p_value
from tests.unit.evaluator.stats.generated import BINARY_ROLES, batches_of, binary_table

ALL_TESTS = ("ks", "chi2", "psi", "ttest", "wasserstein", "jensen_shannon")


@pytest.fixture(scope="module")
def current() -> pa.Table:
    table = binary_table(150_000, seed=9, shift=0.2)
    region = table["region"].to_numpy(zero_copy_only=False).copy()
    region[:300] = "atlantis"  # a category the reference never saw
    return table.set_column(table.schema.get_field_index("region"), "region", pa.array(region))


@pytest.fixture(scope="module")
def features(binary_profile: ReferenceProfile, current: pa.Table) -> dict[str, FeatureDrift]:
    accumulator = EvaluationAccumulator(binary_profile, BINARY_ROLES, "binary-classification")
    for batch in batches_of(current, 35_000)():
        accumulator.update(batch)
    drift = accumulator.finalize(DriftSettings(tests=ALL_TESTS)).drift
    return {feature.feature: feature for feature in drift.features}


def result(feature: FeatureDrift, test: str) -> DriftTestResult:
    return next(item for item in feature.tests if item.test == test)


def finite(table: pa.Table, column: str) -> npt.NDArray[np.float64]:
    values = np.asarray(table[column].to_numpy(), dtype=np.float64)
    return np.asarray(values[np.isfinite(values)], dtype=np.float64)


@pytest.mark.parametrize("column", ["age", "income"])
def test_ks_statistic_within_grid_bound_and_p_value_as_scipy(
    features: dict[str, FeatureDrift], binary_reference: pa.Table, current: pa.Table, column: str
) -> None:
    reference_values, current_values = finite(binary_reference, column), finite(current, column)
    exact = scipy_stats.ks_2samp(reference_values, current_values, method="asymp")
    ks = result(features[column], "ks")
    assert ks.bound is not None and ks.bound < 0.01
    assert ks.statistic <= exact.statistic + 1e-12
    assert exact.statistic <= ks.statistic + ks.bound + 1e-12
    assert ks_p_value(exact.statistic, len(reference_values), len(current_values)) == pytest.approx(
        exact.pvalue, rel=1e-9, abs=1e-300
    )


@pytest.mark.parametrize("column", ["age", "income"])
def test_welch_t_test_from_moments_matches_scipy(
    features: dict[str, FeatureDrift], binary_reference: pa.Table, current: pa.Table, column: str
) -> None:
    expected = scipy_stats.ttest_ind(
        finite(binary_reference, column), finite(current, column), equal_var=False
    )
    ttest = result(features[column], "ttest")
    assert ttest.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert ttest.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("column", ["age", "income"])
def test_wasserstein_within_bound(
    features: dict[str, FeatureDrift], binary_reference: pa.Table, current: pa.Table, column: str
) -> None:
    reference_values, current_values = finite(binary_reference, column), finite(current, column)
    exact = scipy_stats.wasserstein_distance(reference_values, current_values) / np.std(reference_values)
    wasserstein = result(features[column], "wasserstein")
    assert wasserstein.bound is not None and wasserstein.bound < 0.05
    assert abs(wasserstein.statistic - exact) <= wasserstein.bound


@pytest.mark.parametrize("column", ["age", "income"])
def test_numeric_psi_and_jensen_shannon_on_the_reported_bins(
    features: dict[str, FeatureDrift], binary_reference: pa.Table, current: pa.Table, column: str
) -> None:
    distribution = features[column].distribution
    assert distribution is not None
    inner_edges = np.asarray(distribution.bins[1:-1])

    def shares(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        counts = np.bincount(
            np.searchsorted(inner_edges, values, side="left"), minlength=len(inner_edges) + 1
        )
        return np.asarray(counts / counts.sum(), dtype=np.float64)

    reference_shares, current_shares = (
        shares(finite(binary_reference, column)),
        shares(finite(current, column)),
    )
    assert len(reference_shares) == 10
    np.testing.assert_allclose(distribution.reference, reference_shares, atol=1e-12)
    np.testing.assert_allclose(distribution.current, current_shares, atol=1e-12)
    psi = np.sum((current_shares - reference_shares) * np.log(current_shares / reference_shares))
    assert result(features[column], "psi").statistic == pytest.approx(psi, abs=1e-9)
    js = scipy_distance.jensenshannon(reference_shares, current_shares, base=2)
    assert result(features[column], "jensen_shannon").statistic == pytest.approx(js, abs=1e-9)


def test_categorical_chi_square_psi_and_js_match_scipy(
    features: dict[str, FeatureDrift], binary_reference: pa.Table, current: pa.Table
) -> None:
    region = features["region"]
    assert region.distribution is not None
    assert region.distribution.bins == ["north", "south", "east", "west", "__unseen__"]
    names = ["north", "south", "east", "west", "atlantis"]
    reference_values = binary_reference["region"].to_numpy(zero_copy_only=False)
    current_values = current["region"].to_numpy(zero_copy_only=False)
    reference_counts = np.array([np.sum(reference_values == name) for name in names])
    current_counts = np.array([np.sum(current_values == name) for name in names])
    expected = scipy_stats.chi2_contingency(np.vstack([reference_counts, current_counts]), correction=False)
    chi2 = result(region, "chi2")
    assert chi2.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert chi2.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    reference_shares = reference_counts / reference_counts.sum()
    current_shares = current_counts / current_counts.sum()
    js = scipy_distance.jensenshannon(reference_shares, current_shares, base=2)
    assert result(region, "jensen_shannon").statistic == pytest.approx(js, abs=1e-12)
    padded = np.where(reference_shares > 0, reference_shares, 1e-4)
    psi = np.sum((current_shares - padded) * np.log(current_shares / padded))
    assert result(region, "psi").statistic == pytest.approx(psi, abs=1e-12)


def test_bonferroni_and_benjamini_hochberg_against_hand_computation() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005]
    assert adjust_p_values(p_values, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # sorted 0.005, 0.01, 0.03, 0.04 -> p*m/rank 0.02, 0.02, 0.04, 0.04 -> running minimum from the top
    assert adjust_p_values(p_values, "benjamini_hochberg") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_p_values([0.9, 0.8], "benjamini_hochberg") == pytest.approx([0.9, 0.9])
    assert adjust_p_values(p_values, "none") == p_values


def test_correction_changes_the_decision() -> None:
    def feature(name: str, p_value: float) -> FeatureDrift:
        return FeatureDrift(
            name,
            "feature",
            "numeric",
            "stable",
            [DriftTestResult("ks", 0.2, p_value, 0.3, 0.1, False)],
            500,
            500,
        )

    uncorrected = [feature("a", 0.03), feature("b", 0.04)]
    decide_features(uncorrected, DriftSettings(tests=("ks",)))
    assert [item.status for item in uncorrected] == ["drifted", "drifted"]
    corrected = [feature("a", 0.03), feature("b", 0.04)]
    decide_features(corrected, DriftSettings(tests=("ks",), correction="bonferroni"))
    assert [item.status for item in corrected] == ["stable", "stable"]
    assert [item.tests[0].adjusted_p_value for item in corrected] == pytest.approx([0.06, 0.08])
