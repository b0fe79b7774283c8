"""Print bench/README.md table rows from the raw JSON that ``run_bench.py --json`` wrote.

    python bench/table_from_json.py bench/streaming/*.json

One row per contender and file: median wall time (fastest-slowest), median CPU seconds, median peak RSS,
rows/s (reference + current rows over the median wall time) and the 1-minute load average around the runs,
so the README's numbers can be traced to, and regenerated from, the committed measurements.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(path: Path) -> list[str]:
    document = json.loads(path.read_text())
    rows_each = int(document["rowsEach"])
    label = f"{rows_each // 1_000_000}M" if rows_each >= 1_000_000 else str(rows_each)
    if "1rg" in str(document.get("data", "")):
        label += ", one row group"
    tag = f"*{document['tag']}* " if document.get("tag") else ""
    lines = []
    for result in document["results"]:
        lines.append(
            f"| {tag}{label} | {result['contender']} | {result['seconds']:.1f} s ({result['fastest']:.1f}-"
            f"{result['slowest']:.1f}) | {result['cpuSeconds']:.1f} s | {result['peakRssMiB']:.0f} MiB | "
            f"{2 * rows_each / result['seconds']:,.0f} | {result['loadLow']:.1f}-{result['loadHigh']:.1f} |"
        )
    return lines


def main() -> None:
    for name in sys.argv[1:]:
        print("\n".join(rows(Path(name))))


if __name__ == "__main__":
    main()
