"""The comparison's cost: the evaluator on 1M rows x 25 features without spec.challenger, with a shadow
challenger (paired: accuracy, f1, roc_auc, log_loss) and with an A/B split (accuracy, roc_auc), all warm (the
reference profile cached by an earlier run: a scheduled monitor's steady state). The challenger's columns are
added to the benchmark's current data once (``current-challenger.parquet``: a noisier score, its label, and a
variant column splitting the rows 50/50).

    python bench/challenger/run_challenger.py --rows 1000000 --repeat 3 [--out bench/challenger/results-1m.json]

Prints one Markdown row per contender and writes the raw measurements (wall and CPU seconds, peak RSS, the
1-minute load average) as JSON. The machine is shared: read CPU seconds and the load beside any wall time.
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
import pyarrow as pa
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

from run_bench import CONFIG as BASE  # noqa: E402  (the monitor every bench row evaluates)
from run_bench import PYTHON, ROOT, measure_repeatedly  # noqa: E402

SHADOW = """  challenger:
    version: "8"
    prediction: pred_v8
    score: score_v8
    metrics: [accuracy, f1, roc_auc, log_loss]
    minEffect: 0.005
"""
SPLIT = """  challenger:
    version: "8"
    mode: ab
    variantColumn: variant
    championVariant: v7
    challengerVariant: v8
    metrics: [accuracy, roc_auc]
"""


def with_challenger(source: Path, target: Path) -> None:
    """The current data plus a shadow challenger (the score with noise on its logit) and a 50/50 variant."""
    table = pq.read_table(source)
    rng = np.random.default_rng(8)
    score = np.clip(table.column("score").to_numpy(), 1e-9, 1 - 1e-9)
    challenger = 1 / (1 + np.exp(-(np.log(score / (1 - score)) + rng.normal(0, 0.5, len(score)))))
    labels = table.column("pred").type
    table = table.append_column("score_v8", pa.array(challenger))
    table = table.append_column("pred_v8", pa.array((challenger >= 0.5).astype(np.int64)).cast(labels))
    table = table.append_column("variant", pa.array(np.where(rng.random(len(score)) < 0.5, "v7", "v8")))
    pq.write_table(table, target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "challenger" / "results-1m.json")
    arguments = parser.parse_args()
    label = f"{arguments.rows // 1_000_000}m" if arguments.rows >= 1_000_000 else str(arguments.rows)
    data = BENCH / "data" / label
    if not (data / "current.parquet").exists():
        subprocess.run([str(PYTHON), str(BENCH / "generate.py"), "--rows", str(arguments.rows), "--out", str(data)],
                       check=True)
    current = data / "current-challenger.parquet"
    if not current.exists():
        with_challenger(data / "current.parquet", current)
    out = BENCH / "out" / "challenger"
    out.mkdir(parents=True, exist_ok=True)
    base = BASE.format(reference=data / "reference.parquet", current=current)
    variants = {"no challenger": base, "shadow (4 metrics, paired)": base + SHADOW, "A/B (2 metrics)": base + SPLIT}
    cache = out / "cache"
    results = []
    for name, config_text in variants.items():
        slug = name.split(" ")[0].replace("/", "")
        config = out / f"config-{slug}.yaml"
        config.write_text(config_text)
        output = out / f"result-{slug}"
        command = [str(ROOT / ".venv" / "bin" / "modelmonitor"), "evaluate", "--config", str(config), "--quiet",
                   "--run-id", "bench", "--profile-cache", str(cache), "--output", str(output)]
        subprocess.run(command, check=False, capture_output=True)  # warms the profile cache
        measured = measure_repeatedly(command, arguments.repeat, [str(output)])
        results.append({"contender": name, "mode": "warm", **measured})
        print(f"| {label} | {name} | {measured['seconds']:.1f} s ({measured['fastest']:.1f}-"
              f"{measured['slowest']:.1f}) | {measured['cpuSeconds']:.1f} s | {measured['peakRssMiB']:.0f} MiB | "
              f"{measured['loadLow']:.1f}-{measured['loadHigh']:.1f} |", flush=True)
    document = {"rows": arguments.rows, "features": 25, "repeat": arguments.repeat,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "results": results}
    arguments.out.write_text(json.dumps(document, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
