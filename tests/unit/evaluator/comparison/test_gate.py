"""``modelmonitor compare``: the stored evidence as an exit code for a rollout gate (Argo Rollouts Job metric)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmonitor.cli import main
from modelmonitor.evaluator.comparison import ModelOutputs, PairedComparison, accumulate


def _config(path: Path, version: str = "8") -> Path:
    document = {
        "monitor": {"namespace": "risk", "name": "credit"},
        "spec": {
            "model": {"name": "credit", "version": "7", "task": "binary-classification"},
            "data": {
                "reference": {"uri": "s3://ml/ref.parquet"},
                "current": {"uri": "s3://ml/cur/"},
                "columns": {"target": "label", "prediction": "pred"},
            },
            "metrics": [{"name": "accuracy", "min": 0.5}],
            "challenger": {"version": version, "prediction": "pred_v8", "metrics": ["accuracy"], "minEffect": 0.005},
        },
    }
    config = path / f"config-{version}.json"
    config.write_text(json.dumps(document))
    return config


def _state(path: Path, only_champion: float, only_challenger: float, rows: int) -> Path:
    generator = np.random.default_rng(1)
    draw = generator.random(rows)
    champion_right = (draw < 0.8) | ((draw >= 0.8) & (draw < 0.8 + only_champion))
    challenger_right = (draw < 0.8) | ((draw >= 0.8 + only_champion) & (draw < 0.8 + only_champion + only_challenger))
    truth = generator.integers(0, 2, rows)
    comparison = PairedComparison("binary-classification", ["accuracy"], positive_class="1")
    comparison.add_labelled(
        truth.astype(str),
        ModelOutputs(np.where(champion_right, truth, 1 - truth).astype(str)),
        ModelOutputs(np.where(challenger_right, truth, 1 - truth).astype(str)),
    )
    state = path / f"state-{only_champion}-{only_challenger}-{rows}.json"
    state.write_text(json.dumps(accumulate(None, comparison, "7", "8", "2026-12-01T00:00:00Z").to_state()))
    return state


@pytest.mark.parametrize(
    ("only_champion", "only_challenger", "rows", "exit_code", "decision"),
    [
        (0.04, 0.07, 20_000, 0, "challenger-better"),
        (0.07, 0.04, 20_000, 1, "challenger-worse"),
        (0.05, 0.05, 200, 2, "inconclusive"),
    ],
)
def test_exit_code_follows_the_decision(
    tmp_path: Path,
    capsys: Any,
    only_champion: float,
    only_challenger: float,
    rows: int,
    exit_code: int,
    decision: str,
) -> None:
    state = _state(tmp_path, only_champion, only_challenger, rows)
    assert main(["compare", "--config", str(_config(tmp_path)), "--state", str(state)]) == exit_code
    printed = json.loads(capsys.readouterr().out)
    assert printed["decision"] == decision
    assert printed["metrics"][0]["metric"] == "accuracy"


def test_no_evidence_or_evidence_about_other_versions_is_inconclusive(tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "absent.json"
    assert main(["compare", "--config", str(_config(tmp_path)), "--state", str(missing)]) == 2
    assert "no comparison evidence" in json.loads(capsys.readouterr().out)["reason"]
    state = _state(tmp_path, 0.04, 0.07, 20_000)
    assert main(["compare", "--config", str(_config(tmp_path, version="9")), "--state", str(state)]) == 2
    assert "'8'" in json.loads(capsys.readouterr().out)["reason"]


def test_a_bad_config_or_state_is_an_error_exit_naming_it(tmp_path: Path, capsys: Any) -> None:
    assert main(["compare", "--config", str(tmp_path / "nope.yaml")]) == 3
    assert "nope.yaml" in json.loads(capsys.readouterr().out)["error"]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["compare", "--config", str(_config(tmp_path)), "--state", str(broken)]) == 3
    assert "cannot be read" in json.loads(capsys.readouterr().out)["error"]


def test_waiting_rereads_the_evidence_until_it_decides(tmp_path: Path, capsys: Any) -> None:
    import threading

    state = tmp_path / "state.json"
    decided = _state(tmp_path, 0.07, 0.04, 20_000)
    timer = threading.Timer(0.5, lambda: state.write_bytes(decided.read_bytes()))  # a scheduled run lands
    timer.start()
    try:
        code = main(
            ["compare", "--config", str(_config(tmp_path)), "--state", str(state), "--wait", "10", "--interval", "0.1"]
        )
    finally:
        timer.cancel()
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["waiting"] and lines[-1]["decision"] == "challenger-worse"


def test_the_argo_rollouts_example_runs_compare_on_the_operators_config_map() -> None:
    import yaml

    from modelmonitor.manifests import CONFIG_FILE, CONFIG_MOUNT_PATH, config_map_name

    example = Path(__file__).resolve().parents[4] / "examples" / "argo-rollouts" / "analysis-template.yaml"
    template = yaml.safe_load(example.read_text())
    job = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["command"][:4] == ["modelmonitor", "compare", "--config", CONFIG_FILE]
    assert container["volumeMounts"][0]["mountPath"] == CONFIG_MOUNT_PATH
    assert job["volumes"][0]["configMap"]["name"] == config_map_name("{{args.monitor}}")
