"""Drift is declared only when a test is significant and the effect is large; thin samples stay inconclusive."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from modelmonitor.evaluator.stats import (
    ColumnRoles,
    DriftSettings,
    EvaluationAccumulator,
    ReferenceProfile,
    build_reference_profile,
)
from tests.unit.evaluator.stats.generated import batches_of

ROLES = ColumnRoles(target="y", prediction="y_hat")
SETTINGS = DriftSettings(
    tests=("ks", "psi", "wasserstein", "jensen_shannon", "ttest"), minimum_sample_size=100
)


def numeric_table(rows: int, seed: int, shift: float) -> pa.Table:
    generator = np.random.default_rng(seed)
    columns = {f"x{index}": generator.normal(shift if index < 3 else 0.0, 1.0, rows) for index in range(6)}
    target = generator.normal(0, 1, rows)
    return pa.table({**columns, "y": target, "y_hat": target + generator.normal(0, 0.5, rows)})


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return build_reference_profile(batches_of(numeric_table(300_000, 1, 0.0), 100_000), ROLES, "regression")


def evaluate(profile: ReferenceProfile, table: pa.Table) -> dict[str, str]:
    accumulator = EvaluationAccumulator(profile, ROLES, "regression")
    for batch in batches_of(table, 100_000)():
        accumulator.update(batch)
    drift = accumulator.finalize(SETTINGS).drift
    return {feature.feature: feature.status for feature in drift.features} | {
        "datasetDrift": str(drift.dataset_drift)
    }


def test_large_sample_with_tiny_effect_is_stable(profile: ReferenceProfile) -> None:
    accumulator = EvaluationAccumulator(profile, ROLES, "regression")
    for batch in batches_of(numeric_table(300_000, 2, 0.03), 100_000)():
        accumulator.update(batch)
    drift = accumulator.finalize(SETTINGS).drift
    shifted = next(feature for feature in drift.features if feature.feature == "x0")
    ks = shifted.tests[0]
    assert ks.test == "ks" and ks.p_value is not None and ks.p_value < 1e-6  # significant...
    assert ks.effect is not None and ks.effect < 0.1  # ...but a negligible effect
    assert all(feature.status == "stable" for feature in drift.features)
    assert drift.share == 0 and not drift.dataset_drift


def test_thin_sample_is_inconclusive_even_when_shifted(profile: ReferenceProfile) -> None:
    statuses = evaluate(profile, numeric_table(60, 3, 2.0))
    assert {statuses[f"x{index}"] for index in range(6)} == {"inconclusive"}
    assert statuses["datasetDrift"] == "False"


def test_injected_shift_is_drifted_and_marks_the_dataset(profile: ReferenceProfile) -> None:
    statuses = evaluate(profile, numeric_table(50_000, 4, 0.5))
    assert [statuses[f"x{index}"] for index in range(6)] == ["drifted"] * 3 + ["stable"] * 3
    assert statuses["datasetDrift"] == "True"  # 3 of 6 >= 0.3
