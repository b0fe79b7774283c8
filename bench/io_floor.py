"""The I/O floor: decode both Parquet files with pyarrow alone, computing nothing, as fast as pyarrow can.

    python bench/io_floor.py REFERENCE.parquet CURRENT.parquet [--exclude request_id]

Every column the evaluator reads (all but the excluded id) is decoded once per file, in batches of the
evaluator's size, with Arrow's threads, and dropped: what any tool that looks at every value must at
least pay, start-up and ``import pyarrow`` included. The evaluator's cold run decodes the reference twice
(its profile needs two passes), its warm run once.
"""

from __future__ import annotations

import argparse

import pyarrow.parquet as pq

BATCH_ROWS = 131_072  # evaluator/parquet_stream.py's


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--exclude", action="append", default=["request_id"])
    arguments = parser.parse_args()
    rows = 0
    for path in arguments.files:
        parquet = pq.ParquetFile(path)
        columns = [name for name in parquet.schema_arrow.names if name not in arguments.exclude]
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=True):
            rows += batch.num_rows
    print(rows)


if __name__ == "__main__":
    main()
