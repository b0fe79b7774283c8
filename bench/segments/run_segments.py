"""Segments' cost: the evaluator on 1M rows x 25 features, without segments; with 50 segments of one column
(num_05 in 50 reference-quantile bins); with 52 segments over two columns (cat_5's 40 values and cat_3's 12:
every row is in two segments); warm (the reference profile, and the segments' reference states, cached by an
earlier run: a scheduled monitor's steady state) and cold (both built in the run). Optionally with discovery.

    python bench/segments/run_segments.py --rows 1000000 --repeat 3 [--out bench/segments/results-1m.json]

Writes the raw measurements (wall and CPU seconds, peak RSS, the 1-minute load average before and after each
contender) as JSON, and prints one Markdown row per contender. The machine is shared: read CPU seconds and
the load beside any wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

from run_bench import CONFIG as BASE  # noqa: E402  (the monitor every bench row evaluates)
from run_bench import PYTHON, ROOT, measure_repeatedly  # noqa: E402

ONE_COLUMN = """  segments:
    columns: [{{column: num_05, bins: {edges}}}]
    maxSegments: 60
    minSize: 100
"""
SEGMENTS = """  segments:
    columns: [{column: cat_5}, {column: cat_3}]
    maxSegments: 40
    minSize: 100
"""
DISCOVERY = """    discover: {fdr: 0.05, minSize: 200, pairs: true}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "segments" / "results-1m.json")
    parser.add_argument("--with-discovery", action="store_true")
    arguments = parser.parse_args()
    label = f"{arguments.rows // 1_000_000}m" if arguments.rows >= 1_000_000 else str(arguments.rows)
    data = BENCH / "data" / label
    if not (data / "current.parquet").exists():
        subprocess.run([str(PYTHON), str(BENCH / "generate.py"), "--rows", str(arguments.rows), "--out", str(data)],
                       check=True)
    out = BENCH / "out" / "segments"
    out.mkdir(parents=True, exist_ok=True)
    base = BASE.format(reference=data / "reference.parquet", current=data / "current.parquet")
    edges = np.nanquantile(pq.read_table(data / "reference.parquet", columns=["num_05"]).column(0).to_numpy(),
                           np.linspace(0.02, 0.98, 49))
    variants = {"unsegmented": base, "50 segments (one column)": base + ONE_COLUMN.format(
        edges=json.dumps([round(float(edge), 6) for edge in edges])), "52 segments": base + SEGMENTS}
    if arguments.with_discovery:
        variants["52 segments + discovery (25 columns, pairs)"] = base + SEGMENTS + DISCOVERY
    results = []
    for name, config_text in variants.items():
        slug = name.split(" ")[0] + ("-one" if "one column" in name else "") + (
            "-discovery" if "discovery" in name else "")
        config = out / f"config-{slug}.yaml"
        config.write_text(config_text)
        cache = out / f"cache-{slug}"
        command = [str(ROOT / ".venv" / "bin" / "modelmonitor"), "evaluate", "--config", str(config), "--quiet",
                   "--run-id", "bench", "--profile-cache", str(cache), "--output", str(out / f"result-{slug}")]
        cold = measure_repeatedly(command, arguments.repeat, [str(cache)])
        warm = measure_repeatedly(command, arguments.repeat)
        for mode, measured in (("cold", cold), ("warm", warm)):
            results.append({"contender": name, "mode": mode, **measured})
            print(f"| {label} | {name} ({mode}) | {measured['seconds']:.1f} s ({measured['fastest']:.1f}-"
                  f"{measured['slowest']:.1f}) | {measured['cpuSeconds']:.1f} s | {measured['peakRssMiB']:.0f} MiB | "
                  f"{measured['loadLow']:.1f}-{measured['loadHigh']:.1f} |", flush=True)
    document = {"rows": arguments.rows, "features": 25, "repeat": arguments.repeat,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "results": results}
    arguments.out.write_text(json.dumps(document, indent=1) + "\n")
    shutil.rmtree(out / "result-unsegmented", ignore_errors=True)


if __name__ == "__main__":
    main()
