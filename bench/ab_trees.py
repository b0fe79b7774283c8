"""Cold and warm evaluations of two source trees, interleaved (A, B, A, B, ...): what one change bought.

    mkdir -p /tmp/mine/before && git archive <commit> operator | tar -x -C /tmp/mine/before
    python bench/ab_trees.py --before /tmp/mine/before/operator --data 1m --repeat 3 --json bench/streaming/ab-....json

(a folder of your own: a shared name like /tmp/before may be overwritten by another session's tree.)

``--before`` is put first on ``PYTHONPATH`` of the *before* runs (the same virtualenv, so only the project's
source differs); the *after* runs use this checkout. Each round runs before-cold, after-cold, before-warm,
after-warm (a cold run removes its cached profile first, and the warm run after it reuses it), so the
machine's load hits both trees alike; the medians of wall time, CPU seconds and peak RSS are printed and,
with every run, written to ``--json``. The result.json of both trees are compared (``same_result.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from run_bench import BENCH, PYTHON, ROOT, measure, summarise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the before tree's source root (operator/)")
    parser.add_argument("--data", default="1m", help="bench/out/config-<data>.yaml, written by run_bench.py")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    config = BENCH / "out" / f"config-{arguments.data}.yaml"
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(arguments.repeat):
        for mode in ("cold", "warm"):
            for tree in ("before", "after"):
                cache = BENCH / "out" / f"ab-cache-{tree}"
                if mode == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                prefix = f"PYTHONPATH={arguments.before.resolve()}" if tree == "before" else ""
                command = ["env", *([prefix] if prefix else []), str(PYTHON), "-m", "modelmonitor.cli", "evaluate",
                           "--config", str(config), "--quiet", "--run-id", "bench", "--profile-cache", str(cache),
                           "--output", str(BENCH / "out" / f"ab-{tree}-{mode}")]
                load_before = os.getloadavg()[0]
                run = measure(command)
                runs.setdefault(f"{tree} {mode}", []).append(
                    {**run, "loadBefore": round(load_before, 2), "loadAfter": round(os.getloadavg()[0], 2)})
    results = {name: summarise(items) for name, items in runs.items()}
    for name, result in results.items():
        print(f"{name}: {result['seconds']:.2f} s wall ({result['fastest']:.2f}-{result['slowest']:.2f}), "
              f"{result['cpuSeconds']:.2f} CPU s, {result['peakRssMiB']:.0f} MiB, load "
              f"{result['loadLow']:.1f}-{result['loadHigh']:.1f}")
    for mode in ("cold", "warm"):
        subprocess.run([str(PYTHON), str(BENCH / "same_result.py"), str(BENCH / "out" / f"ab-before-{mode}" /
                        "result.json"), str(BENCH / "out" / f"ab-after-{mode}" / "result.json")], check=False)
    if arguments.json is not None:
        document = {
            "before": str(arguments.before), "data": arguments.data, "repeat": arguments.repeat,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True, check=False).stdout.strip(),
            "results": [{"contender": name, **result} for name, result in results.items()],
        }
        arguments.json.write_text(json.dumps(document, indent=1) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
