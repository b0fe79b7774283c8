"""Text features decoded as dictionaries count the same categories and report the file's type.

``TableSource.batches(dictionary_columns=...)`` hands categories out as dictionary arrays (cheaper to decode
and to count); the accumulator must see the very same counts and missing values as from plain strings, report
the column's type as the file's ``string`` (not the reader's choice of encoding), and a dataset whose files
differ (one stores the column as ``large_string``, one lacks it) still reads in one dictionary type.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelmonitor.evaluator.data import BATCH_ROWS, open_source
from modelmonitor.evaluator.stats.baseline import build_reference_profile
from modelmonitor.evaluator.stats.columns import CategoricalColumnState, type_name
from modelmonitor.evaluator.stats.roles import ColumnRoles

ROWS = BATCH_ROWS + 5_000


def _write(path: Path, rows: int, seed: int, text_type: pa.DataType | None = None, with_c: bool = True) -> None:
    rng = np.random.default_rng(seed)
    levels = [None if value == 0 else f"level-{value}" for value in rng.integers(0, 7, rows)]
    columns: dict[str, pa.Array] = {"x": pa.array(rng.normal(size=rows))}
    if with_c:
        columns["c"] = pa.array(levels, type=text_type or pa.string())
    pq.write_table(pa.table(columns), path, row_group_size=50_000)


def _counts(tmp_path: Path, dictionary: bool) -> tuple[dict[str, int], int, set[str]]:
    source = open_source(str(tmp_path), None, "spec.data.current")
    state = CategoricalColumnState()
    types = set()
    for batch in source.batches(["x", "c"], dictionary_columns={"c"} if dictionary else ()):
        state.update(batch.column("c"))
        types.add(type_name(batch.schema.field("c")))
        assert pa.types.is_dictionary(batch.schema.field("c").type) == dictionary
    return state.counts, state.missing, types


def test_dictionary_columns_count_as_strings_do_and_report_the_file_type(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", ROWS, 1)
    _write(tmp_path / "b.parquet", 20_000, 2, text_type=pa.large_string())
    _write(tmp_path / "c.parquet", 3_000, 3, with_c=False)
    plain, plain_missing, plain_types = _counts(tmp_path, dictionary=False)
    encoded, encoded_missing, encoded_types = _counts(tmp_path, dictionary=True)
    assert encoded == plain and sum(plain.values()) > 0
    assert encoded_missing == plain_missing and plain_missing > 3_000  # nulls written, plus the absent column
    assert encoded_types == plain_types == {"string"}


def test_a_profile_from_dictionary_columns_equals_the_one_from_strings(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", ROWS, 4)
    source = open_source(str(tmp_path), None, "spec.data.reference")
    roles = ColumnRoles()
    plain = build_reference_profile(lambda: source.batches(["x", "c"]), roles, "regression")
    encoded = build_reference_profile(lambda: source.batches(["x", "c"], dictionary_columns={"c"}), roles,
                                      "regression")
    assert encoded.to_dict() == plain.to_dict()
    assert encoded.schema["c"] == "string" and encoded.columns["c"].arrow_type == "string"
