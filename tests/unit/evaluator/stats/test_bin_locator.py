"""The fast bin lookup gives exactly ``np.searchsorted(..., side="left")``: ties, tails and skewed columns."""

from __future__ import annotations

import numpy as np
import pytest

from modelmonitor.evaluator.stats.baseline import quantile_edges
from modelmonitor.evaluator.stats.columns import BinLocator


@pytest.mark.parametrize("shape", ["normal", "lognormal", "integers", "uniform"])
def test_locator_equals_searchsorted(shape: str) -> None:
    generator = np.random.default_rng(5)

    def draw(rows: int) -> np.ndarray:
        if shape == "normal":
            return generator.normal(0, 1, rows)
        if shape == "lognormal":
            return generator.lognormal(0, 1, rows)
        if shape == "integers":
            return generator.integers(0, 20, rows).astype(np.float64)
        return generator.uniform(-1, 1, rows)

    reference = draw(100_000)
    edges = quantile_edges(reference, float(reference.min()), float(reference.max()), 1000)
    values = np.concatenate([draw(100_000) * 1.3, edges, edges + 1e-12, edges - 1e-12, [-1e300, 1e300]])
    locator = BinLocator(edges)
    np.testing.assert_array_equal(locator.locate(values), np.searchsorted(edges, values, side="left"))
