"""Peak memory of streaming a Parquet file through the evaluator's accumulator, by way of reading it.

    python bench/reader_memory.py bench/data/10m/current.parquet PROFILE.json {scanner,row-groups,iter-batches}

``scanner`` is what ``evaluator.data.TableSource`` does today: ``Dataset.scanner(...).to_batches()`` with
pre-buffering off and read-ahead 1. When the consumer is slower than the decoder (always, here) the scanner
keeps decoding ahead into its queue, so Arrow's allocation grows with the rows until the scanner's own
back-pressure limit: that, not the accumulator, is what makes peak RSS grow from 1M to 10M rows.
``row-groups`` decodes one row group at a time on demand (``fragment.split_by_row_group()`` and
``to_table``); ``iter-batches`` uses ``ParquetFile.iter_batches``. Both stay flat in rows. Prints one JSON
line: wall and CPU seconds, peak RSS and the Arrow pool's peak, in MiB.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from modelmonitor.evaluator.stats.accumulator import EvaluationAccumulator
from modelmonitor.evaluator.stats.profile import ReferenceProfile

BATCH_ROWS = 131_072


def batches(path: str, columns: list[str], mode: str) -> Iterator[pa.RecordBatch]:
    options = ds.ParquetFragmentScanOptions(pre_buffer=False)
    dataset = ds.dataset(path, format=ds.ParquetFileFormat(default_fragment_scan_options=options))
    if mode == "scanner":
        yield from dataset.scanner(
            columns=columns, batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1, use_threads=True
        ).to_batches()
    elif mode == "row-groups":
        for fragment in dataset.get_fragments():
            for row_group in fragment.split_by_row_group():
                yield from row_group.to_table(columns=columns, use_threads=True).to_batches(BATCH_ROWS)
    elif mode == "iter-batches":
        yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(
            batch_size=BATCH_ROWS, columns=columns, use_threads=True
        )
    else:
        raise SystemExit(f"unknown mode {mode!r}")


def main() -> None:
    path, profile_path, mode = sys.argv[1:4]
    profile = ReferenceProfile.from_dict(json.loads(Path(profile_path).read_text()))
    columns = [name for name in pq.read_schema(path).names if name in profile.schema and name != "request_id"]
    accumulator = EvaluationAccumulator(profile, sample_size=0)
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches(path, columns, mode):
        accumulator.update(batch)
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": round(time.perf_counter() - started, 2),
                "cpuSeconds": round(time.process_time() - cpu, 2),
                "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                "arrowPeakMiB": pa.default_memory_pool().max_memory() >> 20,
            }
        )
    )


if __name__ == "__main__":
    main()
