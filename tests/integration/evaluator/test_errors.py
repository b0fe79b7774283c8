"""Errors a user will meet: each gets a message naming the thing, its exit code and a summary saying so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.integration.evaluator.conftest import base_config, make_table


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    reference = make_table(2000, seed=1)
    current = make_table(1500, seed=2, id_offset=50_000)
    paths = {"reference": tmp_path / "reference.parquet", "current": tmp_path / "current.parquet"}
    pq.write_table(reference, paths["reference"])
    pq.write_table(current, paths["current"])
    single_class = current.set_column(
        current.schema.get_field_index("label"), "label", pa.array([1] * current.num_rows, type=pa.int64())
    )
    paths["single-class"] = tmp_path / "single-class.parquet"
    pq.write_table(single_class, paths["single-class"])
    text_score = current.set_column(
        current.schema.get_field_index("score"), "score", pc.cast(current.column("score"), pa.string())
    )
    paths["text-score"] = tmp_path / "text-score.parquet"
    pq.write_table(text_score, paths["text-score"])
    paths["labels-elsewhere"] = tmp_path / "labels.parquet"
    pq.write_table(
        pa.table({"request_id": pa.array([1, 2, 3], type=pa.int64()), "label": [0, 1, 0]}), paths["labels-elsewhere"]
    )
    paths["unlabelled"] = tmp_path / "unlabelled.parquet"
    pq.write_table(current.drop_columns(["label"]), paths["unlabelled"])
    (tmp_path / "empty-folder").mkdir()
    paths["empty-folder"] = tmp_path / "empty-folder"
    return {name: str(path) for name, path in paths.items()}


def expect(run: Any, exit_code: int, outcome: str, reason: str, *fragments: str) -> None:
    assert run.exit_code == exit_code, run.summary
    assert run.summary["outcome"] == outcome
    assert run.summary["verdict"] == "error"
    assert run.summary["error"]["reason"] == reason
    for fragment in fragments:
        assert fragment in run.summary["error"]["message"]


def test_a_configured_column_that_is_absent(evaluate: Any, files: dict[str, str]) -> None:
    document = base_config(files["reference"], files["current"])
    document["spec"]["data"]["columns"]["prediction"] = "predicted_class"
    expect(
        evaluate(document),
        2,
        "config_error",
        "ColumnMissing",
        "spec.data.columns.prediction",
        "'predicted_class'",
        files["current"],
    )


def test_an_unknown_metric(evaluate: Any, files: dict[str, str]) -> None:
    document = base_config(files["reference"], files["current"])
    document["spec"]["metrics"] = [{"name": "acuracy", "min": 0.5}]
    expect(evaluate(document), 2, "config_error", "ConfigError", "spec.metrics[0].name", "'acuracy'")


def test_a_wrong_type(evaluate: Any, files: dict[str, str]) -> None:
    expect(
        evaluate(base_config(files["reference"], files["text-score"])),
        3,
        "data_error",
        "WrongType",
        "spec.data.columns.score",
        "'score'",
        "string",
    )


def test_empty_data_in_the_window(evaluate: Any, files: dict[str, str]) -> None:
    document = base_config(files["reference"], files["current"])
    document["spec"]["data"]["current"].update({"window": "1h", "timestampColumn": "ts"})
    run = evaluate(document, "--as-of", "2020-01-01T00:00:00Z")
    expect(run, 3, "data_error", "EmptyData", "no rows", files["current"], "2019-12-31T23:00:00Z")


def test_no_labels_matched_yet_leaves_metrics_pending_and_drift_judged(evaluate: Any, files: dict[str, str]) -> None:
    """Labels of their own source that match no current row yet: metrics pending (with the reason), drift judged."""
    document = base_config(
        files["reference"], files["unlabelled"], labels={"uri": files["labels-elsewhere"], "joinOn": "request_id"}
    )
    run = evaluate(document)
    assert run.exit_code == 0, run.summary
    assert run.summary["labels"]["pending"] is True and run.summary["metrics"] == {}
    assert run.summary["verdict"] in ("pending", "warning", "critical")
    checks = run.summary["checks"]
    assert checks["metric:accuracy"]["state"] == "pending"
    assert "labels have not arrived" in checks["metric:accuracy"]["reason"]
    assert {checks[f"drift-test:{test}"]["state"] for test in ("ks", "chi2", "psi")} <= {"ok", "violated"}
    assert run.summary["drift"]["features"] == 3


def test_a_target_column_empty_throughout_is_a_data_error(evaluate: Any, files: dict[str, str], tmp_path: Path) -> None:
    current = pq.read_table(files["current"])
    empty = current.set_column(
        current.schema.get_field_index("label"), "label", pa.nulls(current.num_rows, type=pa.int64())
    )
    pq.write_table(empty, tmp_path / "no-labels.parquet")
    document = base_config(files["reference"], str(tmp_path / "no-labels.parquet"))
    expect(evaluate(document), 3, "data_error", "AllLabelsMissing", "no labels", "'label'")


def test_a_single_class(evaluate: Any, files: dict[str, str]) -> None:
    expect(
        evaluate(base_config(files["reference"], files["single-class"])),
        3,
        "data_error",
        "SingleClass",
        "only one class ('1')",
    )


def test_a_missing_path(evaluate: Any, files: dict[str, str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere" / "current.parquet")
    expect(
        evaluate(base_config(files["reference"], missing)),
        4,
        "storage_error",
        "NoSuchFile",
        "spec.data.current.uri",
        missing,
    )


def test_a_folder_without_files(evaluate: Any, files: dict[str, str]) -> None:
    expect(
        evaluate(base_config(files["reference"], files["empty-folder"])),
        3,
        "data_error",
        "NoFiles",
        "spec.data.current.uri",
        files["empty-folder"],
    )


def test_a_file_that_is_not_what_it_claims(evaluate: Any, files: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("request_id,label\n1,0\n")
    expect(evaluate(base_config(files["reference"], str(fake))), 3, "data_error", "UnreadableData", str(fake))


def test_the_console_script_exits_with_the_code_and_writes_the_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    environment = dict(os.environ, MODELMONITOR_TERMINATION_LOG=str(summary), MODELMONITOR_RUN_ID="job-1")
    script = Path(sys.executable).parent / "modelmonitor"
    completed = subprocess.run(
        [str(script), "evaluate", "--config", str(tmp_path / "absent.yaml")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    written = json.loads(summary.read_text())
    assert written["runId"] == "job-1" and written["outcome"] == "config_error"
    assert written["error"]["reason"] == "ConfigFileMissing"
    assert json.loads(completed.stdout.strip()) == written
