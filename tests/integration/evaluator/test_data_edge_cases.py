"""Data edge cases of issue 17 through ``modelmonitor evaluate``: the right answer, or a clear error naming the place.

Text that is not UTF-8 names file, column and row; rows without a timestamp are counted and reported.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.integration.evaluator.conftest import AS_OF, base_config, make_table


@pytest.mark.parametrize("data_format", ["csv", "jsonl"])
def test_text_that_is_not_utf8_is_a_data_error_naming_file_column_and_row(
    evaluate: Any, tmp_path: Path, data_format: str
) -> None:
    reference = make_table(300, seed=1).drop_columns(["ts"])
    current = make_table(200, seed=2).drop_columns(["ts"])
    for name, table in (("reference", reference), ("current", current)):
        folder = tmp_path / name
        folder.mkdir()
        if data_format == "csv":
            pacsv.write_csv(table, folder / "part-0.csv")
        else:
            (folder / "part-0.jsonl").write_text("\n".join(json.dumps(row) for row in table.to_pylist()) + "\n")
    bad = tmp_path / "current" / f"part-1.{data_format}"
    rows = current.slice(0, 3).to_pylist()
    if data_format == "csv":
        buffer = pa.BufferOutputStream()
        pacsv.write_csv(current.slice(0, 3), buffer)
        text = buffer.getvalue().to_pybytes().replace(b"north", b"caf\xe9")
    else:
        text = ("\n".join(json.dumps(row) for row in rows) + "\n").encode("utf-8").replace(b"north", b"caf\xe9")
    assert b"caf\xe9" in text
    bad.write_bytes(text)
    run = evaluate(base_config(str(tmp_path / "reference") + "/", str(tmp_path / "current") + "/"))
    assert run.exit_code == 3, run.summary
    assert run.summary["error"]["reason"] == "NotUtf8"
    message = run.summary["error"]["message"]
    assert str(bad) in message and "'region'" in message and "row" in message and "UTF-8" in message


def test_rows_without_a_timestamp_are_counted_and_left_out_of_the_window(evaluate: Any, tmp_path: Path) -> None:
    reference = make_table(2000, seed=1)
    current = make_table(1500, seed=2, start=AS_OF - timedelta(hours=20))
    nulls = np.zeros(current.num_rows, dtype=bool)
    nulls[::10] = True
    with_nulls = current.set_column(
        current.schema.get_field_index("ts"),
        "ts",
        pa.array(current["ts"].to_pylist(), mask=nulls, type=current["ts"].type),
    )
    pq.write_table(reference, tmp_path / "reference.parquet")
    pq.write_table(with_nulls, tmp_path / "current.parquet")
    document = base_config(str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet"))
    document["spec"]["data"]["current"].update({"timestampColumn": "ts", "window": "24h"})
    run = evaluate(document)
    assert run.exit_code == 0, run.summary
    result = json.loads((run.output / "result.json").read_text())
    assert result["data"]["current"]["nullTimestamps"] == int(nulls.sum()) == 150
    assert result["dataQuality"]["nullTimestamps"] == 150
    stamps = current["ts"].to_pylist()
    in_window = sum(
        1
        for stamp, null in zip(stamps, nulls, strict=True)
        if not null and AS_OF - timedelta(hours=24) <= stamp < AS_OF
    )
    assert result["rows"]["current"] == in_window


def test_epoch_milliseconds_with_their_declared_unit(evaluate: Any, tmp_path: Path) -> None:
    reference = make_table(1000, seed=1)
    current = make_table(800, seed=2)
    milliseconds = pa.array([int(stamp.timestamp() * 1000) for stamp in current["ts"].to_pylist()], type=pa.int64())
    pq.write_table(reference, tmp_path / "reference.parquet")
    pq.write_table(
        current.set_column(current.schema.get_field_index("ts"), "ts", milliseconds), tmp_path / "ms.parquet"
    )
    pq.write_table(current, tmp_path / "timestamps.parquet")
    runs = {}
    for name, unit in (("ms", "ms"), ("timestamps", None)):
        document = base_config(str(tmp_path / "reference.parquet"), str(tmp_path / f"{name}.parquet"))
        document["spec"]["data"]["current"].update({"timestampColumn": "ts", "window": "24h"})
        if unit is not None:
            document["spec"]["data"]["current"]["timestampUnit"] = unit
        runs[name] = evaluate(document)
        assert runs[name].exit_code == 0, runs[name].summary
    assert runs["ms"].summary["rows"] == runs["timestamps"].summary["rows"]
    assert 0 < runs["ms"].summary["rows"]["current"] < 800
    document = base_config(str(tmp_path / "reference.parquet"), str(tmp_path / "ms.parquet"))
    document["spec"]["data"]["current"].update({"timestampColumn": "ts", "window": "24h"})  # unit s by default
    wrong = evaluate(document)
    assert wrong.exit_code == 3 and "spec.data.current.timestampUnit (s)" in wrong.summary["error"]["message"]
