"""The domain classifier sees shifted data and not sampling noise; CBPE tracks realised accuracy unlabelled."""

from __future__ import annotations

import pytest

from modelmonitor.evaluator.stats import DriftSettings, EvaluationAccumulator, ReferenceProfile
from tests.unit.evaluator.stats.generated import BINARY_ROLES, batches_of, binary_table

MODEL_SETTINGS = DriftSettings(tests=("ks", "classifier", "isolation_forest"), model_sample_size=2000)


def evaluate(profile: ReferenceProfile, shift: float, label_share: float, seed: int) -> EvaluationAccumulator:
    accumulator = EvaluationAccumulator(profile, BINARY_ROLES, "binary-classification", sample_size=2000)
    for batch in batches_of(binary_table(60_000, seed, shift=shift, label_share=label_share), 20_000)():
        accumulator.update(batch)
    return accumulator


def test_domain_classifier_is_near_chance_on_the_same_distribution(binary_profile: ReferenceProfile) -> None:
    results = {
        item.test: item
        for item in evaluate(binary_profile, 0.0, 1.0, 31).finalize(MODEL_SETTINGS).drift.model_based
    }
    classifier = results["classifier"]
    assert 0.45 <= classifier.statistic <= 0.56
    assert not classifier.drifted
    assert not results["isolation_forest"].drifted


def test_domain_classifier_and_isolation_forest_see_a_shift(binary_profile: ReferenceProfile) -> None:
    results = {
        item.test: item
        for item in evaluate(binary_profile, 1.5, 1.0, 32).finalize(MODEL_SETTINGS).drift.model_based
    }
    assert results["classifier"].statistic > 0.75
    assert results["classifier"].drifted
    forest = results["isolation_forest"]
    assert forest.effect is not None and forest.effect >= MODEL_SETTINGS.isolation_forest_threshold
    assert results["isolation_forest"].drifted


@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_estimated_performance_tracks_realised_on_calibrated_scores(
    binary_profile: ReferenceProfile, shift: float
) -> None:
    stats = evaluate(binary_profile, shift, 1.0, 40 + int(shift * 10)).finalize()
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        estimate = stats.estimated[name]
        assert estimate.low <= estimate.value <= estimate.high
        assert abs(estimate.value - stats.metrics[name]) <= max(4 * estimate.standard_error, 0.01), name


def test_estimates_exist_without_any_label(binary_profile: ReferenceProfile) -> None:
    stats = evaluate(binary_profile, 0.5, 0.0, 50).finalize()
    assert stats.rows["labelled"] == 0
    assert stats.metrics == {}
    assert set(stats.estimated) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert stats.to_dict()["estimated"]["accuracy"]["standardError"] > 0
