"""Each monitor in examples/ applied as a user would, with its own generator's data, reaching a verdict.

The example's `monitor.yaml` is applied with only the bucket, the endpoint and the region substituted; its data
comes from its `generate.py` writing to MinIO. Healthy data must give a Healthy monitor, drifted data
(`--drift 1`) a Degraded one, both visible in status and in `kubectl get mm`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
PLACEHOLDER_BUCKET = "s3://modelmonitor-examples/"


def generate(world: MonitorWorld, example: str, drift: float) -> None:
    env = {**world.cluster.env, **world.s3.env}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example / "generate.py"), f"s3://{world.bucket}/{example}",
         "--drift", str(drift), "--seed", "11" if drift else "7"],
        env=env, text=True, capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "current:" in result.stdout


def example_monitor(world: MonitorWorld, example: str) -> dict[str, Any]:
    body = yaml.safe_load((EXAMPLES / example / "monitor.yaml").read_text())
    text = json.dumps(body).replace(PLACEHOLDER_BUCKET, f"s3://{world.bucket}/")
    body = json.loads(text)
    body["metadata"]["namespace"] = world.namespace
    body["spec"]["data"]["store"].update(endpoint=world.s3.endpoint, region=world.s3.region)
    return dict(body)


def test_every_example_has_a_monitor_and_a_generator() -> None:
    folders = sorted(path.name for path in EXAMPLES.iterdir() if (path / "monitor.yaml").exists())
    assert folders == ["credit-scoring", "house-prices", "sensor-drift"]
    for folder in folders:
        assert (EXAMPLES / folder / "generate.py").exists()
    for folder in folders:
        body = yaml.safe_load((EXAMPLES / folder / "monitor.yaml").read_text())
        assert body["kind"] == "ModelMonitor" and body["metadata"]["name"] == folder
        assert PLACEHOLDER_BUCKET in json.dumps(body["spec"]["data"])


@pytest.mark.parametrize(("example", "task", "labels", "metrics"), [
    ("credit-scoring", "binary-classification", True, ["accuracy", "roc_auc", "f1", "log_loss"]),
    ("house-prices", "regression", False, ["mape", "mae", "r2"]),
    ("sensor-drift", "binary-classification", False, []),
])
def test_example_reaches_a_verdict_for_healthy_and_drifted_data(
    world: MonitorWorld, examples_operator: OperatorProcess, example: str, task: str, labels: bool,
    metrics: list[str],
) -> None:
    body = example_monitor(world, example)
    assert body["spec"]["model"]["task"] == task
    assert ("labels" in body["spec"]["data"]) is labels
    assert [metric["name"] for metric in body["spec"].get("metrics", [])] == metrics

    generate(world, example, drift=0.0)
    world.apply(body)
    world.run_now(example)
    monitor = world.wait_for_evaluations(example, 1, timeout=150)
    last = monitor["status"]["lastEvaluation"]
    assert last["outcome"] == "evaluated", json.dumps(last)
    assert last["verdict"] == "healthy", json.dumps(last)
    assert monitor["status"]["phase"] == "Healthy"
    assert set(metrics) <= set(last.get("metrics") or {}), last.get("metrics")
    if not metrics:
        assert not last.get("metrics"), last.get("metrics")
    if labels:
        assert 0 < last["rows"]["labelled"] < last["rows"]["current"] * 1.5, last["rows"]
    assert condition(monitor, "DataDrift")["status"] == "False"

    generate(world, example, drift=1.0)
    world.run_now(example)
    monitor = world.wait_for_evaluations(example, 2, timeout=150)
    last = monitor["status"]["lastEvaluation"]
    assert last["verdict"] == "critical", json.dumps(last)
    assert monitor["status"]["phase"] == "Degraded"
    assert condition(monitor, "DataDrift")["status"] == "True"
    assert any(violation["rule"] == "drift:dataset" for violation in last["violations"]), last["violations"]

    header, row = world.kubectl("get", "mm", example).splitlines()[:2]
    assert header.split()[:4] == ["NAME", "MODEL", "VERSION", "PHASE"]
    assert row.split()[:4] == [example, body["spec"]["model"]["name"], body["spec"]["model"]["version"], "Degraded"]
