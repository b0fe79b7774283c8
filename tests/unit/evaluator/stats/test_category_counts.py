"""Category counts are the same however a column arrives: text, integers, booleans or a dictionary.

Integer and boolean columns (labels, predictions) are counted on their raw values and only the distinct
values converted to text; a dictionary column is counted by its codes. Each must give the counts, the order
of first appearance and the missing count that counting the column's text gives.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.stats.columns import CategoricalColumnState


def _counted(array: pa.Array) -> tuple[list[tuple[str, int]], int]:
    state = CategoricalColumnState()
    state.update(array)
    return list(state.counts.items()), state.missing


def test_integers_booleans_and_dictionaries_count_as_their_text_does() -> None:
    rng = np.random.default_rng(3)
    integers = pa.array([None if value == 0 else int(value) - 50 for value in rng.integers(0, 100, 5000)])
    booleans = pa.array([None if value == 2 else bool(value) for value in rng.integers(0, 3, 5000)])
    for array in (integers, booleans, pa.array([-(2**63), 2**63 - 1, 0, -(2**63)], type=pa.int64())):
        text = pc.cast(array, pa.string())
        assert _counted(array) == _counted(text)
        encoded = text.dictionary_encode()
        assert sorted(_counted(encoded)[0]) == sorted(_counted(text)[0])
        assert _counted(encoded)[1] == _counted(text)[1]
    assert _counted(integers)[1] == integers.null_count > 0
