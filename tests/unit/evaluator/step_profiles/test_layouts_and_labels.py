"""Stored step profiles on other layouts and label sources: text files, one file for the whole window,
labels of their own source (with and without a delay).

Each case is checked against the same evaluation read raw (``step_profiles=False``), as in test_stored_steps.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.unit.evaluator.step_profiles.test_stored_steps import (
    AS_OF,
    _assert_same,
    _document,
    _evaluate,
    _steps,
    _table,
)


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    (tmp_path / "reference").mkdir()
    pq.write_table(_table(4000, seed=1, start=AS_OF - timedelta(days=90), hours=24 * 30),
                   tmp_path / "reference" / "train.parquet")
    (tmp_path / "current").mkdir()
    return tmp_path


def _days(days: int, rows: int = 300) -> list[pa.Table]:
    return [_table(rows, seed=200 + day, start=AS_OF - timedelta(days=days - day), hours=24) for day in range(days)]


def test_csv_days_are_stored_and_merged(reference: Path) -> None:
    for day, table in enumerate(_days(31)):
        text = table.set_column(1, "ts", pa.array([None if value is None else value.isoformat()
                                                   for value in table.column("ts").to_pylist()], pa.string()))
        pacsv.write_csv(text, reference / "current" / f"day-{day:02d}.csv")
    document = _document(reference)
    document["spec"]["data"]["current"]["format"] = "csv"
    first = _evaluate(document, steps=True, run="first")
    second = _evaluate(document, steps=True, run="second")
    raw = _evaluate(document, steps=False, run="raw")
    assert len(_steps(first)["built"]) == 30 and _steps(second)["reused"] == 30
    assert _steps(second)["filesRead"] == 0
    _assert_same(first, raw)
    _assert_same(second, raw)


def test_one_file_for_the_whole_window_is_read_once_raw(reference: Path) -> None:
    """Building 30 days from one file would read it 30 times: the run reads it once, raw, and stores nothing."""
    pq.write_table(pa.concat_tables(_days(31)), reference / "current" / "everything.parquet")
    document = _document(reference)
    result = _evaluate(document, steps=True, run="one-file")
    assert result["data"]["current"]["stepProfiles"] is None
    _assert_same(result, _evaluate(document, steps=False, run="raw"))
    assert not list((reference / "out" / "profiles" / "steps").glob("*/*.json"))


def _labels(tables: list[pa.Table], share: float) -> pa.Table:
    ids = pa.concat_arrays([table.column("request_id").combine_chunks() for table in tables])
    labels = pa.concat_arrays([table.column("label").combine_chunks() for table in tables])
    keep = int(len(ids) * share)
    return pa.table({"request_id": ids.slice(0, keep), "label": labels.slice(0, keep)})


def test_labels_of_their_own_source_key_every_day(reference: Path) -> None:
    tables = []
    for day, table in enumerate(_days(31)):
        ids = pa.array(range(day * 1000, day * 1000 + table.num_rows), pa.int64())
        table = table.set_column(0, "request_id", ids)
        tables.append(table)
        pq.write_table(table.drop_columns(["label"]), reference / "current" / f"day-{day:02d}.parquet")
    (reference / "labels").mkdir()
    pq.write_table(_labels(tables, 0.5), reference / "labels" / "batch-1.parquet")
    document = _document(reference, data={"labels": {"uri": str(reference / "labels"), "joinOn": "request_id",
                                                     "format": "parquet"}})
    document["spec"]["data"]["columns"]["exclude"] = []
    first = _evaluate(document, steps=True, run="first")
    second = _evaluate(document, steps=True, run="second")
    assert _steps(second)["reused"] == 30
    _assert_same(second, _evaluate(document, steps=False, run="raw"))
    assert 0 < first["labels"]["coverage"] < 1

    pq.write_table(_labels(tables, 1.0), reference / "labels" / "batch-2.parquet")  # more labels arrived
    third = _evaluate(document, steps=True, run="third")
    assert _steps(third)["reused"] == 0 and len(_steps(third)["built"]) == 30
    assert third["labels"]["coverage"] > first["labels"]["coverage"]
    _assert_same(third, _evaluate(document, steps=False, run="raw-2"))

    delayed = _document(reference, data={"labels": {"uri": str(reference / "labels"), "joinOn": "request_id",
                                                    "format": "parquet", "delay": "2d"}})
    delayed["spec"]["data"]["columns"]["exclude"] = []
    assert _evaluate(delayed, steps=True, run="delayed")["data"]["current"]["stepProfiles"] is None


def test_a_shorter_window_reuses_the_days_a_longer_one_stored(reference: Path) -> None:
    """The window is not part of a day's state: 30d then 14d reads nothing new."""
    for day, table in enumerate(_days(31)):
        pq.write_table(table, reference / "current" / f"day-{day:02d}.parquet")
    document = _document(reference)
    _evaluate(document, steps=True, run="30d")
    document["spec"]["data"]["current"]["window"] = "14d"
    shorter = _evaluate(document, steps=True, run="14d")
    assert _steps(shorter)["reused"] == 14 and _steps(shorter)["filesRead"] == 0
    _assert_same(shorter, _evaluate(document, steps=False, run="14d-raw"))


def test_a_new_column_in_the_data_rebuilds(reference: Path) -> None:
    """The dataset's schema (its first file's) decides which columns are read: a new column rebuilds."""
    for day, table in enumerate(_days(31)):
        pq.write_table(table, reference / "current" / f"day-{day:02d}.parquet")
    document = _document(reference)
    _evaluate(document, steps=True, run="before")
    first = pq.read_table(reference / "current" / "day-00.parquet")
    widened = first.append_column("channel", pa.array(["web"] * first.num_rows))
    pq.write_table(widened, reference / "current" / "day-00.parquet")  # outside the window, first by name
    after = _evaluate(document, steps=True, run="after")
    assert _steps(after)["reused"] == 0 and len(_steps(after)["built"]) == 30
    _assert_same(after, _evaluate(document, steps=False, run="after-raw"))
