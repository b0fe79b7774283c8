"""spec.data.columns.version: the evaluator counts rows per served version in the evaluated window (issue 14).

The counts are checked against pandas ``value_counts`` on the same rows (the window applied by pandas too), the
version column must not become a feature, and a missing version column is refused naming the field.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelmonitor.evaluator.served_versions import MAX_VERSIONS, OTHER, ServedVersions
from tests.integration.evaluator.conftest import AS_OF, base_config, make_table


def _with_versions(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    versions = rng.choice(["7", "8", "9"], size=table.num_rows, p=[0.7, 0.25, 0.05]).astype(object)
    versions[rng.random(table.num_rows) < 0.02] = None
    return table.append_column("served_by", pa.array(versions.tolist(), type=pa.string()))


def test_counts_equal_pandas_value_counts_in_the_window(evaluate: Any, tmp_path: Path) -> None:
    reference = make_table(3000, seed=11)
    current = _with_versions(make_table(4000, seed=12), seed=13)
    pq.write_table(reference, tmp_path / "reference.parquet")
    pq.write_table(current, tmp_path / "current.parquet", row_group_size=500)
    document = base_config(str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet"))
    document["spec"]["data"]["columns"]["version"] = "served_by"
    document["spec"]["data"]["current"]["timestampColumn"] = "ts"
    document["spec"]["data"]["current"]["window"] = "24h"
    run = evaluate(document)
    assert run.exit_code == 0, run.summary

    frame = current.to_pandas()
    start = AS_OF - timedelta(hours=24)
    inside = frame[(frame["ts"] >= start) & (frame["ts"] < AS_OF)]
    expected = {str(name): int(count) for name, count in inside["served_by"].value_counts().items()}
    nulls = int(inside["served_by"].isna().sum())
    assert nulls > 0  # the seeded data has empty version cells in the window
    expected["(null)"] = nulls
    assert 0 < len(inside) < len(frame)  # the window matters
    assert run.summary["servedVersions"] == expected
    assert sum(expected.values()) == run.summary["rows"]["current"]
    assert run.summary["window"]["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = json.loads((run.output / "result.json").read_text())
    assert result["servedVersions"] == expected
    features = {feature["feature"] for feature in result["drift"]["features"]}
    assert "served_by" not in features and features == {"amount", "age", "region"}


def test_a_missing_version_column_is_refused_naming_the_field(evaluate: Any, tmp_path: Path) -> None:
    pq.write_table(make_table(500, seed=1), tmp_path / "reference.parquet")
    pq.write_table(make_table(500, seed=2), tmp_path / "current.parquet")
    document = base_config(str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet"))
    document["spec"]["data"]["columns"]["version"] = "served_by"
    run = evaluate(document)
    assert run.exit_code != 0
    assert "spec.data.columns.version" in json.dumps(run.summary["error"])


def test_distinct_versions_are_bounded_and_the_rest_counted_as_other() -> None:
    counter = ServedVersions("v")
    names = [str(index % (MAX_VERSIONS + 5)) for index in range(1000)]
    batch = pa.record_batch({"v": pa.array(names), "x": pa.array(range(1000))})
    passed = list(counter.watch(iter([batch, batch])))
    assert [b.schema.names for b in passed] == [["x"], ["x"]]  # the version column is not passed on
    counts = counter.to_dict()
    assert len(counts) == MAX_VERSIONS + 1 and sum(counts.values()) == 2000
    kept = [name for name in counts if name != OTHER]
    assert counts[OTHER] == sum(2 * names.count(str(index)) for index in range(MAX_VERSIONS + 5)
                                if str(index) not in kept)
