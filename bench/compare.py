"""Do the evaluator, the straightforward script and Evidently agree? Drift decisions and metric values.

    python bench/compare.py OUR_RESULT.json STRAIGHTFORWARD.json [EVIDENTLY.json]

Prints, per feature, each tool's decision, and the largest metric difference against scikit-learn.
Evidently decides on p-values alone, so it is compared with the evaluator's gate test (KS / chi-square
at p < 0.05) rather than with its effect-gated decision.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def evidently_decisions(document: dict[str, Any]) -> dict[str, bool]:
    decisions: dict[str, bool] = {}
    for metric in document.get("metrics", []):
        name = str(metric.get("metric_id") or metric.get("metric_name") or "")
        if "ValueDrift" not in name:
            continue
        config = metric.get("config") or {}
        column = config.get("column") or name.split("column=")[-1].split(",")[0].rstrip(")")
        value = metric.get("value")
        threshold = config.get("threshold", 0.05)
        if isinstance(value, int | float) and column:
            decisions[str(column)] = value < threshold
    return decisions


def main() -> None:
    ours = json.loads(Path(sys.argv[1]).read_text())
    plain = json.loads(Path(sys.argv[2]).read_text())
    evidently = evidently_decisions(json.loads(Path(sys.argv[3]).read_text())) if len(sys.argv) > 3 else {}
    features = {feature["feature"]: feature for feature in ours["drift"]["features"]}
    disagreements = 0
    print("feature   ours  plain  | ours-gate evidently")
    for name in sorted(features):
        our_drift = features[name]["status"] == "drifted"
        plain_drift = bool(plain["features"][name]["drifted"])
        gate = (features[name].get("pValue") or 0.0) < 0.05
        evidently_drift = evidently.get(name)
        disagreements += our_drift != plain_drift
        flag = "" if our_drift == plain_drift and (evidently_drift is None or gate == evidently_drift) else "  <--"
        print(f"{name:9} {our_drift!s:5} {plain_drift!s:6} | {gate!s:9} {evidently_drift!s:9}{flag}")
    print(f"drift decisions differing from the straightforward script: {disagreements} of {len(features)}")
    worst = max(
        (abs(ours["metrics"][name] - value), name)
        for name, value in plain["metrics"].items()
        if ours["metrics"].get(name) is not None
    )
    print(
        f"largest metric difference vs scikit-learn: {worst[0]:.2e} ({worst[1]}; "
        f"binned bounds: {ours['statistics'].get('metricBounds')})"
    )


if __name__ == "__main__":
    main()
