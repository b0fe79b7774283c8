"""The lazily cut reservoir holds exactly the bottom-k rows by key, sorted, however the rows arrived."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from modelmonitor.evaluator.stats.reservoir import RowReservoir, position_keys


@pytest.mark.parametrize(("capacity", "batch_rows", "rows"), [(1000, 700, 20_000), (100, 5000, 60_000), (50, 10, 30)])
def test_reservoir_is_the_bottom_k_by_key(capacity: int, batch_rows: int, rows: int) -> None:
    generator = np.random.default_rng(0)
    reservoir = RowReservoir(capacity, 0, ["x"], ["c"])
    keys, numbers, texts = [], [], []
    for first in range(0, rows, batch_rows):
        count = min(batch_rows, rows - first)
        batch_keys = position_keys(first, count, 0)
        values = generator.normal(size=count)
        categories = [str(value) for value in generator.integers(0, 9, count)]
        reservoir.update({"x": values}, {"c": pa.array(categories)}, count, batch_keys)
        keys.append(batch_keys)
        numbers.append(values)
        texts.extend(categories)
    all_keys = np.concatenate(keys)
    order = np.argsort(all_keys, kind="stable")[:capacity]
    assert len(reservoir) == min(capacity, rows)
    np.testing.assert_array_equal(reservoir.keys, all_keys[order])
    np.testing.assert_array_equal(reservoir.numeric["x"], np.concatenate(numbers)[order])
    assert list(reservoir.categorical["c"]) == [texts[index] for index in order]
    restored = RowReservoir.from_state(reservoir.to_state())
    np.testing.assert_array_equal(restored.head(10).keys, all_keys[order][:10])
