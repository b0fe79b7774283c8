"""Regression errors match scikit-learn, also far from the origin where naive sums of squares cancel."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from modelmonitor.evaluator.stats import ColumnRoles, EvaluationAccumulator, build_reference_profile
from tests.unit.evaluator.stats.generated import batches_of

EXACT = 1e-9


def regression_table(rows: int, seed: int, offset: float) -> pa.Table:
    generator = np.random.default_rng(seed)
    size = generator.gamma(3, 30, rows)
    price = offset + 2.5 * size + generator.normal(0, 20, rows)
    estimate = offset + 2.4 * size + generator.normal(3, 25, rows)
    label_missing = generator.random(rows) < 0.2
    return pa.table({"size": size, "price": pa.array(price, mask=label_missing), "estimate": estimate})


@pytest.mark.parametrize("offset", [100.0, 1e7])
def test_regression_metrics_match_sklearn(offset: float) -> None:
    roles = ColumnRoles(target="price", prediction="estimate")
    reference = regression_table(100_000, seed=5, offset=offset)
    current = regression_table(160_000, seed=6, offset=offset)
    profile = build_reference_profile(batches_of(reference, 30_000), roles, "regression")
    accumulator = EvaluationAccumulator(profile, roles, "regression")
    for batch in batches_of(current, 20_000)():
        accumulator.update(batch)
    stats = accumulator.finalize()

    labelled = current.filter(current["price"].is_valid())
    truth, predicted = labelled["price"].to_numpy(), labelled["estimate"].to_numpy()
    assert stats.rows["labelled"] == labelled.num_rows
    assert stats.metrics["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted), rel=EXACT)
    assert stats.metrics["rmse"] == pytest.approx(sk.root_mean_squared_error(truth, predicted), rel=EXACT)
    assert stats.metrics["mape"] == pytest.approx(
        sk.mean_absolute_percentage_error(truth, predicted), rel=EXACT
    )
    assert stats.metrics["r2"] == pytest.approx(sk.r2_score(truth, predicted), abs=EXACT)
    assert stats.confusion_matrix is None
