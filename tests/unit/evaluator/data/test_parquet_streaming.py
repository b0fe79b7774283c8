"""Parquet is streamed in bounded batches whatever its row groups, decoded one batch ahead in a thread.

Real files on disk, read through the evaluator's own ``TableSource``: a file written as one row group must
yield the same rows as one written in many, in batches of at most ``BATCH_ROWS``; files of one dataset that
differ (a column absent, a narrower integer type) are read in the first file's schema; an error in the
decoding thread reaches the caller as the usual named error, and a caller that stops early stops the thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmonitor.cli import EVALUATOR_ARROW_MEMORY_POOL
from modelmonitor.evaluator import data, parquet_stream
from modelmonitor.evaluator.data import BATCH_ROWS, open_source
from modelmonitor.evaluator.errors import DataError

ROWS = 2 * BATCH_ROWS + 12_345


def _table(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "x": rng.normal(size=rows),
            "n": pa.array(rng.integers(0, 1000, rows), type=pa.int64()),
            "c": pa.array([f"level-{value}" for value in rng.integers(0, 9, rows)]),
        }
    )


def _read(path: Path, columns: list[str]) -> list[pa.RecordBatch]:
    return list(open_source(str(path), None, "spec.data.current").batches(columns))


def test_one_row_group_streams_in_bounded_batches_with_the_same_rows(tmp_path: Path) -> None:
    table = _table(ROWS)
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=ROWS)
    pq.write_table(table, tmp_path / "many.parquet", row_group_size=50_000)
    assert pq.ParquetFile(tmp_path / "one.parquet").metadata.num_row_groups == 1

    one = _read(tmp_path / "one.parquet", ["x", "n", "c"])
    many = _read(tmp_path / "many.parquet", ["x", "n", "c"])

    assert len(one) >= 3 and max(batch.num_rows for batch in one) <= BATCH_ROWS
    assert pa.Table.from_batches(one).equals(table)
    assert pa.Table.from_batches(many).equals(table)


def test_a_local_file_is_read_through_a_bounded_buffer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Column chunks are read STREAM_BUFFER_BYTES at a time, not whole; the rows are the same."""
    table = _table(ROWS)
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=ROWS)
    sizes: list[int] = []
    original = pq.ParquetFile.__init__

    def recording(self: pq.ParquetFile, *args: object, **kwargs: object) -> None:
        sizes.append(int(kwargs.get("buffer_size", 0)))  # type: ignore[call-overload]
        original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", recording)
    monkeypatch.setattr(parquet_stream, "STREAM_BUFFER_BYTES", 64 * 1024)
    streamed = pa.Table.from_batches(_read(tmp_path / "one.parquet", ["x", "n", "c"]))
    assert sizes[-1] == 64 * 1024  # the reader's own (read_schema / read_metadata open files with 0)
    assert streamed.equals(table)


def test_files_that_differ_are_read_in_the_first_files_schema(tmp_path: Path) -> None:
    first = _table(1000, seed=1)
    second = _table(500, seed=2).drop_columns(["c"]).set_column(1, "n", pa.array(range(500), type=pa.int32()))
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(first, folder / "a.parquet")
    pq.write_table(second, folder / "b.parquet")

    batches = list(open_source(str(folder), None, "spec.data.current").batches(["x", "n", "c"]))

    table = pa.Table.from_batches(batches)
    assert table.schema.names == ["x", "n", "c"] and table.schema.field("n").type == pa.int64()
    assert table.num_rows == 1500
    assert table.column("c").null_count == 500
    assert table.column("n").to_pylist()[1000:1003] == [0, 1, 2]


def test_a_shards_row_groups_only(tmp_path: Path) -> None:
    table = _table(30_000)
    pq.write_table(table, tmp_path / "f.parquet", row_group_size=10_000)
    source = open_source(str(tmp_path / "f.parquet"), None, "spec.data.current")
    sliced = data.TableSource(source.files, None, "spec.data.current", parts=[(source.files.paths[0], (2,))])
    assert pa.Table.from_batches(list(sliced.batches(["x", "n", "c"]))).equals(table.slice(20_000))


def test_an_error_in_the_decoding_thread_is_raised_to_the_caller_by_name(tmp_path: Path) -> None:
    pq.write_table(_table(1000), tmp_path / "f.parquet")
    source = open_source(str(tmp_path / "f.parquet"), None, "spec.data.current")
    (tmp_path / "f.parquet").write_bytes(b"PAR1 not parquet any more PAR1")
    with pytest.raises(DataError, match="cannot parse data under") as caught:
        list(source.batches(["x"]))
    assert caught.value.reason == "UnreadableData"


def test_a_caller_that_stops_early_stops_the_decoding_thread(tmp_path: Path) -> None:
    pq.write_table(_table(ROWS), tmp_path / "f.parquet", row_group_size=20_000)
    stream = open_source(str(tmp_path / "f.parquet"), None, "spec.data.current").batches(["x"])
    assert isinstance(stream, Generator)
    next(stream)
    assert any(thread.name == "modelmonitor-decode" for thread in threading.enumerate())
    stream.close()
    assert not any(thread.name == "modelmonitor-decode" for thread in threading.enumerate())


def test_a_parquet_evaluation_imports_neither_pandas_nor_pyarrow_dataset(tmp_path: Path) -> None:
    """pyarrow.dataset imports pandas (~0.5 s of a 2 s run); Parquet needs neither."""
    pq.write_table(_table(1000), tmp_path / "f.parquet")
    script = (
        "import sys\n"
        "from modelmonitor.evaluator.data import open_source\n"
        f"source = open_source({str(tmp_path / 'f.parquet')!r}, None, 'spec.data.current')\n"
        "rows = sum(batch.num_rows for batch in source.batches(['x', 'c']))\n"
        "import modelmonitor.evaluator.run\n"
        "print(rows, 'pandas' in sys.modules, 'pyarrow.dataset' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert completed.stdout.split() == ["1000", "False", "False"]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [({}, EVALUATOR_ARROW_MEMORY_POOL), ({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}, "mimalloc")],
)
def test_the_evaluator_command_allocates_with_its_own_allocator_unless_told(
    environment: dict[str, str], expected: str
) -> None:
    script = (
        "from modelmonitor.cli import evaluator_environment\n"
        "evaluator_environment()\n"
        "import pyarrow as pa\n"
        "print(pa.default_memory_pool().backend_name)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"} | environment
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert completed.stdout.strip() == expected


@pytest.mark.parametrize(("environment", "expected"), [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2)])
def test_the_evaluator_command_runs_one_blas_thread_unless_told(environment: dict[str, str], expected: int) -> None:
    script = (
        "from modelmonitor.cli import evaluator_environment\n"
        "evaluator_environment()\n"
        "import numpy, threadpoolctl\n"
        "print(*sorted({pool['num_threads'] for pool in threadpoolctl.threadpool_info()\n"
        "               if pool['internal_api'] == 'openblas'}))\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}}
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env | environment
    )
    assert completed.stdout.split() == [str(expected)]
