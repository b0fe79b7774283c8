"""Rewrite a Parquet file as ONE row group: the layout that defeats a reader bounded by row groups.

    python bench/one_row_group.py SOURCE.parquet TARGET.parquet

Some writers (Spark with a large block size, pandas ``to_parquet(row_group_size=None)`` on older pyarrow,
a table written in one call) produce files whose single row group holds every row; the evaluator's memory
must stay flat on them too (bench/README.md, "single row group"). The rewrite holds the table in memory
once: it is a bench tool, not part of the evaluator.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    table = pq.read_table(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, row_group_size=max(table.num_rows, 1), compression="snappy")
    written = pq.ParquetFile(target).metadata
    assert written.num_row_groups == 1, written.num_row_groups
    print(f"{target}: {written.num_rows} rows in {written.num_row_groups} row group")


if __name__ == "__main__":
    main()
