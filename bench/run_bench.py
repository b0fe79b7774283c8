"""Run every contender on the same data and print one Markdown table row each (wall time, peak RSS, rows/s).

    python bench/run_bench.py --rows 1000000 [--repeat 3] [--script-repeat N] [--skip-evidently]
                              [--skip-straightforward] [--skip-floor] [--single-row-group]
                              [--json bench/results-....json] [--tag after]

Contenders run interleaved, round by round (cold, warm, floor, script, cold, warm, ...), so that the load of
a shared machine hits all alike; each runs ``--repeat`` times (the script ``--script-repeat`` times: at 10M
rows it needs ~9 GiB and minutes). A row gives the median wall time, median CPU seconds (user + system, all
threads: steadier than wall time under load) and median peak RSS, the spread, and the 1-minute load
average around the runs.

Contenders: the evaluator cold (reference profiled in the run; its cached profile removed before each run)
and warm (the profile the cold run before it cached), both writing result.json and the HTML report; the I/O
floor (``io_floor.py``: pyarrow decodes both files and computes nothing); the straightforward pandas + scipy
+ scikit-learn script; Evidently's data-drift + classification presets with its HTML report (in
bench/.venv-evidently). Rows/s counts reference + current rows.

``--single-row-group`` rewrites the same data with each file as ONE Parquet row group (the case where a
reader that holds a row group holds the whole file) and runs on that copy. ``--json`` writes the raw
numbers of every run (wall, CPU seconds, peak RSS, load before and after) for committing beside the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
EVIDENTLY_PYTHON = BENCH / ".venv-evidently" / "bin" / "python"
FLOOR = "I/O floor: pyarrow decodes both files, no statistics"

CONFIG = """
monitor: {{namespace: bench, name: credit}}
spec:
  model: {{name: credit, version: "7", task: binary-classification}}
  data:
    reference: {{uri: {reference}}}
    current: {{uri: {current}}}
    columns: {{target: label, prediction: pred, score: score, exclude: [request_id]}}
  metrics:
    - {{name: accuracy, min: 0.75, severity: critical}}
    - {{name: f1, min: 0.6}}
    - {{name: roc_auc, min: 0.7}}
  drift: {{tests: [psi], pValue: 0.05, psi: {{warning: 0.1, critical: 0.25}}, datasetDriftShare: 0.3}}
"""


def measure(command: list[str]) -> dict[str, float]:
    completed = subprocess.run(
        [str(PYTHON), str(BENCH / "measure.py"), "--", *command], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["exitCode"] != 0:
        raise SystemExit(f"{command} failed: {completed.stderr[-2000:]}")
    return result


def load_now() -> float:
    return os.getloadavg()[0]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall time, CPU seconds and peak RSS of the runs, their spread and the load around them."""
    seconds = [run["seconds"] for run in runs]
    loads = [value for run in runs for value in (run["loadBefore"], run["loadAfter"])]
    return {
        "seconds": statistics.median(seconds),
        "fastest": min(seconds),
        "slowest": max(seconds),
        "peakRssMiB": statistics.median(run["peakRssMiB"] for run in runs),
        "cpuSeconds": statistics.median(run["cpuSeconds"] for run in runs),
        "loadLow": min(loads),
        "loadHigh": max(loads),
        "runs": runs,
    }


def measure_interleaved(contenders: list[tuple[str, list[str], list[str], int]]) -> list[tuple[str, dict[str, Any]]]:
    """Run the contenders round by round (A, B, C, A, B, C, ...) so that the machine's load hits all alike.

    Each contender is (name, command, paths removed before each of its runs, how many runs); a contender
    with fewer runs drops out of the later rounds.
    """
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _, _ in contenders}
    for round_index in range(max(repeat for _, _, _, repeat in contenders)):
        for name, command, before, repeat in contenders:
            if round_index >= repeat:
                continue
            for path in before:
                shutil.rmtree(path, ignore_errors=True)
            load_before = load_now()
            run = measure(command)
            runs[name].append({**run, "loadBefore": round(load_before, 2), "loadAfter": round(load_now(), 2)})
            print(f"  {name}: {run['seconds']:.2f} s, {run['cpuSeconds']:.2f} CPU s, {run['peakRssMiB']:.0f} MiB, "
                  f"load {load_before:.1f}", file=sys.stderr, flush=True)
    return [(name, summarise(runs[name])) for name, _, _, _ in contenders]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-straightforward", action="store_true")
    parser.add_argument("--skip-modelmonitor", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--script-repeat", type=int, default=None, help="runs of the script (default: --repeat)")
    parser.add_argument("--skip-floor", action="store_true", help="without the I/O floor (bench/io_floor.py)")
    parser.add_argument("--single-row-group", action="store_true", help="each file as one Parquet row group")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers of every run here")
    parser.add_argument("--tag", default="", help="a free-form note stored in the JSON (e.g. before / after)")
    arguments = parser.parse_args()
    label = f"{arguments.rows // 1_000_000}m" if arguments.rows >= 1_000_000 else str(arguments.rows)
    data = BENCH / "data" / label
    out = BENCH / "out"
    out.mkdir(parents=True, exist_ok=True)
    if not (data / "current.parquet").exists():
        subprocess.run(
            [str(PYTHON), str(BENCH / "generate.py"), "--rows", str(arguments.rows), "--out", str(data)], check=True
        )
    if arguments.single_row_group:
        single = BENCH / "data" / f"{label}-1rg"
        for name in ("reference.parquet", "current.parquet"):
            if not (single / name).exists():
                subprocess.run([str(PYTHON), str(BENCH / "one_row_group.py"), str(data / name), str(single / name)],
                               check=True)
        data, label = single, f"{label}-1rg"
    reference, current = data / "reference.parquet", data / "current.parquet"
    config = out / f"config-{label}.yaml"
    config.write_text(CONFIG.format(reference=reference, current=current))
    cache = out / f"profile-cache-{label}"
    shutil.rmtree(cache, ignore_errors=True)
    total_rows = 2 * arguments.rows
    evaluate = [
        str(ROOT / ".venv" / "bin" / "modelmonitor"),
        "evaluate",
        "--config",
        str(config),
        "--quiet",
        "--run-id",
        "bench",
        "--profile-cache",
        str(cache),
    ]
    repeat = arguments.repeat
    script_repeat = repeat if arguments.script_repeat is None else arguments.script_repeat
    contenders: list[tuple[str, list[str], list[str], int]] = []
    if not arguments.skip_modelmonitor:
        output = ["--output", str(out / f"modelmonitor-{label}")]
        # cold first in each round: it removes the cache and writes it again, for the warm run after it
        contenders.append(("modelmonitor evaluate (cold: profiles the reference)", [*evaluate, *output],
                           [str(cache)], repeat))
        contenders.append(("modelmonitor evaluate (warm: cached reference profile)", [*evaluate, *output], [],
                           repeat))
    if not arguments.skip_floor:
        contenders.append((FLOOR, [str(PYTHON), str(BENCH / "io_floor.py"), str(reference), str(current)], [],
                           repeat))
    if not arguments.skip_straightforward and script_repeat > 0:
        contenders.append(("pandas + scipy + scikit-learn script",
                           [str(PYTHON), str(BENCH / "straightforward.py"), str(reference), str(current),
                            str(out / f"straightforward-{label}.json")], [], script_repeat))
    if not arguments.skip_evidently and EVIDENTLY_PYTHON.exists():
        contenders.append(("Evidently DataDrift + Classification presets",
                           [str(EVIDENTLY_PYTHON), str(BENCH / "run_evidently.py"), str(reference), str(current),
                            str(out / f"evidently-{label}.json")], [], repeat))
    rows = measure_interleaved(contenders)
    if arguments.json is not None:
        document = {
            "tag": arguments.tag,
            "rowsEach": arguments.rows,
            "data": label,
            "rowGroups": "one per file" if arguments.single_row_group else "generate.py's (250,000 rows)",
            "repeat": repeat,
            "interleaved": True,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, check=False).stdout.strip(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "results": [{"contender": name, **result} for name, result in rows],
        }
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(document, indent=1) + "\n")
    for name, result in rows:
        print(
            f"| {label} | {name} | {result['seconds']:.1f} s ({result['fastest']:.1f}-{result['slowest']:.1f}) | "
            f"{result['cpuSeconds']:.1f} s | {result['peakRssMiB']:.0f} MiB | {total_rows / result['seconds']:,.0f} | "
            f"{result['loadLow']:.1f}-{result['loadHigh']:.1f} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
