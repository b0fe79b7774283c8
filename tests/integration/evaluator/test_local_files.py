"""``modelmonitor evaluate`` on local files: formats, folders, windows, delayed labels, and the outputs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
from sklearn import metrics

from tests.integration.evaluator.conftest import AS_OF, base_config, make_table


@pytest.fixture
def datasets(tmp_path: Path) -> tuple[Path, Path, pa.Table]:
    reference = make_table(4000, seed=1)
    current = make_table(3000, seed=2, drift=1.0, id_offset=100_000)
    reference_path = tmp_path / "reference.parquet"
    current_path = tmp_path / "current.parquet"
    pq.write_table(reference, reference_path)
    pq.write_table(current, current_path, row_group_size=700)
    return reference_path, current_path, current


def test_evaluates_parquet_and_writes_result_report_and_summary(evaluate: Any, datasets: Any) -> None:
    reference_path, current_path, current = datasets
    run = evaluate(base_config(str(reference_path), str(current_path)))
    assert run.exit_code == 0
    summary = run.summary
    assert summary["outcome"] == "evaluated" and summary["error"] is None
    assert summary["modelVersion"] == "7"
    assert summary["rows"] == {"reference": 4000, "current": 3000, "labelled": 3000}
    truth = current.column("label").to_numpy()
    predicted = current.column("pred").to_numpy()
    assert summary["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)
    assert summary["metrics"]["f1"] == pytest.approx(metrics.f1_score(truth, predicted), abs=1e-6)
    drifted = [feature["feature"] for feature in summary["drift"]["top"]]
    assert drifted[0] == "amount"
    assert any(violation["rule"] == "drift:amount" for violation in summary["violations"])
    result = json.loads((run.output / "result.json").read_text())
    assert result["schemaVersion"] == 1 and result["runId"] == summary["runId"]
    assert {feature["feature"] for feature in result["drift"]["features"]} == {"amount", "age", "region"}
    assert result["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-12)
    report = (run.output / "report.html").read_text()
    assert "<svg" in report and "amount" in report
    assert summary["reportUri"] == str(run.output / "report.html")


@pytest.mark.parametrize("data_format", ["csv", "jsonl"])
def test_folders_of_csv_and_json_lines(evaluate: Any, tmp_path: Path, data_format: str) -> None:
    reference = make_table(3000, seed=3).drop_columns(["ts"])
    current = make_table(2400, seed=4).drop_columns(["ts"])
    for name, table in (("reference", reference), ("current", current)):
        folder = tmp_path / name
        folder.mkdir()
        for part in range(3):
            chunk = table.slice(part * 1000, 1000)
            path = folder / f"part-{part}.{data_format}"
            if data_format == "csv":
                pacsv.write_csv(chunk, path)
            else:
                path.write_text("\n".join(json.dumps(row) for row in chunk.to_pylist()) + "\n")
        (folder / "_SUCCESS").write_text("")
    run = evaluate(base_config(str(tmp_path / "reference") + "/", str(tmp_path / "current") + "/"))
    assert run.exit_code == 0, run.summary
    assert run.summary["rows"]["current"] == 2400 and run.summary["rows"]["reference"] == 3000
    truth, predicted = current.column("label").to_numpy(), current.column("pred").to_numpy()
    assert run.summary["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)
    assert pajson is not None


def test_time_window_keeps_only_the_last_hours(evaluate: Any, datasets: Any) -> None:
    reference_path, current_path, current = datasets
    document = base_config(str(reference_path), str(current_path))
    document["spec"]["data"]["current"].update({"window": "6h", "timestampColumn": "ts"})
    run = evaluate(document)
    stamps = current.column("ts")
    start = pa.scalar(AS_OF - timedelta(hours=6), type=stamps.type)
    end = pa.scalar(AS_OF, type=stamps.type)
    expected = pc.sum(pc.and_(pc.greater_equal(stamps, start), pc.less(stamps, end))).as_py()
    assert run.exit_code == 0, run.summary
    assert 0 < run.summary["rows"]["current"] == expected < 3000


def test_delayed_labels_are_joined_and_counted(evaluate: Any, datasets: Any, tmp_path: Path) -> None:
    reference_path, _, current = datasets
    rng = np.random.default_rng(7)
    arrived = np.sort(rng.choice(3000, size=1800, replace=False))
    labels = current.take(pa.array(arrived)).select(["request_id", "label"])
    labels_path = tmp_path / "labels.parquet"
    pq.write_table(labels, labels_path)
    without_labels = current.drop_columns(["label"])
    unlabelled_path = tmp_path / "current-unlabelled.parquet"
    pq.write_table(without_labels, unlabelled_path)
    document = base_config(
        str(reference_path), str(unlabelled_path), labels={"uri": str(labels_path), "joinOn": "request_id"}
    )
    run = evaluate(document)
    assert run.exit_code == 0, run.summary
    assert run.summary["rows"]["labelled"] == 1800
    assert run.summary["labels"]["coverage"] == pytest.approx(0.6)
    truth = labels.column("label").to_numpy()
    predicted = current.column("pred").to_numpy()[arrived]
    assert run.summary["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)


def test_labels_below_minimum_coverage_make_metrics_pending(evaluate: Any, datasets: Any, tmp_path: Path) -> None:
    reference_path, current_path, current = datasets
    labels = current.slice(0, 100).select(["request_id", "label"])
    labels_path = tmp_path / "labels.parquet"
    pq.write_table(labels, labels_path)
    document = base_config(
        str(reference_path),
        str(current_path),
        labels={"uri": str(labels_path), "joinOn": "request_id", "minCoverage": 0.5},
    )
    document["spec"]["drift"]["tests"] = ["psi"]
    document["spec"]["metrics"] = [{"name": "accuracy", "min": 0.99, "severity": "critical"}]
    run = evaluate(document)
    assert run.exit_code == 0, run.summary
    assert run.summary["labels"]["pending"] is True
    assert run.summary["metrics"] == {}
    assert not any(violation["rule"].startswith("metric:") for violation in run.summary["violations"])
    assert run.summary["estimated"]["accuracy"]["value"] > 0


def test_label_delay_evaluates_performance_on_the_window_whose_labels_are_due(
    evaluate: Any, datasets: Any, tmp_path: Path
) -> None:
    reference_path, current_path, current = datasets
    labels_path = tmp_path / "labels.parquet"
    pq.write_table(current.select(["request_id", "label"]), labels_path)
    document = base_config(
        str(reference_path),
        str(current_path),
        labels={"uri": str(labels_path), "joinOn": "request_id", "delay": "24h"},
    )
    document["spec"]["data"]["current"].update({"window": "12h", "timestampColumn": "ts"})
    run = evaluate(document)
    assert run.exit_code == 0, run.summary
    stamps = current.column("ts")

    def count(start_hours: int, end_hours: int) -> int:
        start = pa.scalar(AS_OF - timedelta(hours=start_hours), type=stamps.type)
        end = pa.scalar(AS_OF - timedelta(hours=end_hours), type=stamps.type)
        return int(pc.sum(pc.and_(pc.greater_equal(stamps, start), pc.less(stamps, end))).as_py())

    assert run.summary["rows"]["current"] == count(12, 0)
    assert run.summary["rows"]["labelled"] == count(36, 24)


def test_baseline_prints_suggested_thresholds(
    datasets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelmonitor.evaluator.cli import main

    reference_path, _, _ = datasets
    output = tmp_path / "baseline.json"
    exit_code = main(
        [
            "baseline",
            "--task",
            "binary-classification",
            "--reference",
            str(reference_path),
            "--target",
            "label",
            "--prediction",
            "pred",
            "--score",
            "score",
            "--exclude",
            "request_id,ts",
            "--output",
            str(output),
        ]
    )
    assert exit_code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(output.read_text())
    assert printed["reference"]["rows"] == 4000
    accuracy = next(rule for rule in printed["suggestedSpec"]["metrics"] if rule["name"] == "accuracy")
    reference_accuracy = next(item for item in printed["referenceMetrics"] if item["name"] == "accuracy")
    assert accuracy["min"] == pytest.approx(reference_accuracy["reference"] * 0.95, rel=1e-3)
    assert set(printed["features"]) == {"amount", "age", "region"}
    assert printed["features"]["region"]["categories"][0] == "north"


def test_the_reference_profile_is_cached_and_invalidated_when_the_reference_changes(
    evaluate: Any, datasets: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference_path, current_path, _ = datasets
    cache = tmp_path / "cache"
    document = base_config(str(reference_path), str(current_path))
    first = evaluate(document, "--profile-cache", str(cache))
    assert len(list((cache / "profiles").glob("*.json"))) == 1
    caplog.clear()
    caplog.set_level(logging.INFO, logger="modelmonitor.evaluator")
    second = evaluate(document, "--profile-cache", str(cache))
    assert any("reusing the reference profile" in record.getMessage() for record in caplog.records)
    for key in ("metrics", "drift", "violations", "rows", "verdict"):
        assert first.summary[key] == second.summary[key]
    pq.write_table(make_table(4100, seed=1), reference_path)
    third = evaluate(document, "--profile-cache", str(cache))
    assert third.summary["rows"]["reference"] == 4100
    assert len(list((cache / "profiles").glob("*.json"))) == 2
