"""``modelmonitor evaluate --config`` refuses what the API server would refuse, and rules it could never compute.

Each refusal is exit code 2 with a summary (``config_error``) whose message names the field, and no traceback
on stderr. The cases are the symptoms of issue 17: a config without the ``spec:`` wrapper or with misspelled
keys used to run with the keys silently dropped; ``min > max`` and NaN thresholds were accepted; ``roc_auc``
without a score column was skipped without a trace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.integration.evaluator.conftest import base_config, make_table


@pytest.fixture
def paths(tmp_path: Path) -> tuple[str, str]:
    pq.write_table(make_table(500, seed=1), tmp_path / "reference.parquet")
    pq.write_table(make_table(400, seed=2), tmp_path / "current.parquet")
    return str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet")


def _bare_spec(document: dict[str, Any]) -> dict[str, Any]:
    return dict(document["spec"])


def _set(path: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> dict[str, Any]:
        node: Any = document
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[parts[-1]] = value
        return document

    return change


def _without_score(document: dict[str, Any]) -> dict[str, Any]:
    del document["spec"]["data"]["columns"]["score"]
    document["spec"]["metrics"] = [{"name": "roc_auc", "min": 0.7}]
    return document


CASES = {
    "no spec wrapper": (_bare_spec, "spec: must be set at the top level", "put it under a top-level `spec:` key"),
    "metrcs": (_set("spec.metrcs", []), "spec.metrcs: is not a field of spec", "metrics"),
    "pvalue": (_set("spec.drift.pvalue", 0.01), "spec.drift.pvalue: is not a field of spec.drift", "pValue"),
    "min above max": (_set("spec.metrics.0.max", 0.1), "spec.metrics[0]", "min must be less than or equal to max"),
    "NaN threshold": (_set("spec.metrics.1.min", float("nan")), "spec.metrics[1].min: must be a finite number"),
    "roc_auc without a score": (_without_score, "spec.data.columns.score must be set"),
    "multiclass precision": (
        lambda document: _set("spec.model.task", "multiclass-classification")(
            _set("spec.metrics", [{"name": "precision", "min": 0.5}])(document)
        ),
        "spec.metrics: spec.metrics of a multiclass-classification model must not have precision",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_config_the_api_server_would_refuse_is_a_config_error_naming_the_field(
    case: str, paths: tuple[str, str], evaluate: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    change, *fragments = CASES[case]
    run = evaluate(change(base_config(*paths)))
    assert run.exit_code == 2, run.summary
    assert run.summary["outcome"] == "config_error" and run.summary["verdict"] == "error"
    for fragment in fragments:
        assert fragment in run.summary["error"]["message"]
    assert "Traceback" not in capsys.readouterr().err


def test_the_console_script_refuses_a_misspelled_key_without_a_traceback(
    paths: tuple[str, str], tmp_path: Path
) -> None:
    document = base_config(*paths)
    document["spec"]["metrcs"] = document["spec"].pop("metrics")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(document))
    environment = dict(os.environ, MODELMONITOR_TERMINATION_LOG=str(tmp_path / "summary.json"))
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "modelmonitor"), "evaluate", "--config", str(config), "--quiet"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "spec.metrcs: is not a field of spec; did you mean metrics?" in completed.stderr
