"""Segments beyond binary classification on whole data: a regression model's errors per segment (scikit-learn
on the segment's rows), and delayed labels, where a segment's metrics come from the performance window and its
drift and rows from the drift window, equal after a sharded run and its reduce."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error

from modelmonitor.evaluator.cli import main

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _config(root: Path, spec: dict[str, Any]) -> Path:
    document = {"apiVersion": "modelmonitor.io/v1alpha1", "monitor": {"namespace": "risk", "name": "m", "uid": "u"},
                "spec": spec, "output": {"uri": str(root / "out")}}
    path = root / "config.json"
    path.write_text(json.dumps(document))
    return path


def _result(root: Path, run_id: str) -> dict[str, Any]:
    return dict(json.loads((root / "out" / run_id / "result.json").read_text()))


def _segment(result: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(entry for dimension in result["segments"]["dimensions"] for entry in dimension["segments"]
                     if entry["segment"] == name))


def test_regression_segments_and_their_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)

    def table(rows: int, noisy: str | None) -> pa.Table:
        shop = rng.choice(["a", "b", "c"], size=rows)
        size = rng.normal(50, 10, rows)
        price = 3 * size + rng.normal(0, 5, rows)
        noise = rng.normal(0, 1, rows) * np.where(shop == noisy, 15.0, 4.0)
        return pa.table({"shop": shop.tolist(), "size": size, "price": price, "pred": price + noise})

    for name, data in (("reference", table(6000, None)), ("current", table(6000, "c"))):
        (tmp_path / name).mkdir()
        pq.write_table(data, tmp_path / name / "part.parquet")
    current = pq.read_table(tmp_path / "current")
    spec = {
        "model": {"name": "m", "task": "regression"},
        "data": {"reference": {"uri": str(tmp_path / "reference")}, "current": {"uri": str(tmp_path / "current")},
                 "columns": {"target": "price", "prediction": "pred", "categorical": ["shop"]}},
        "metrics": [{"name": "mae", "max": 6.0}, {"name": "rmse", "max": 8.0}],
        "segments": {"columns": [{"column": "shop"}], "discover": {"columns": ["shop", "size"], "minSize": 100}},
    }
    assert main(["evaluate", "--config", str(_config(tmp_path, spec)), "--run-id", "r", "--quiet"]) == 0
    result = _result(tmp_path, "r")
    shop = np.asarray(current.column("shop").to_pylist())
    truth, predicted = current.column("price").to_numpy(), current.column("pred").to_numpy()
    for value in ("a", "b", "c"):
        mask = shop == value
        entry = _segment(result, f"shop={value}")
        assert entry["metrics"]["mae"] == pytest.approx(mean_absolute_error(truth[mask], predicted[mask]), rel=1e-12)
        assert entry["metrics"]["rmse"] == pytest.approx(root_mean_squared_error(truth[mask], predicted[mask]),
                                                         rel=1e-12)
    rules = {violation["rule"] for violation in result["violations"]}
    assert {"metric:mae[shop=c]", "metric:rmse[shop=c]"} <= rules
    assert not any("shop=a" in rule or "shop=b" in rule for rule in rules)
    found = {(item["slice"], item["metric"]) for item in result["segments"]["discovery"]["slices"]}
    assert {("shop=c", "mae"), ("shop=c", "rmse")} <= found


def test_delayed_labels_segments_use_both_windows_and_merge_across_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(tmp_path / "termination-log"))
    rng = np.random.default_rng(9)

    def table(rows: int, first_id: int) -> pa.Table:
        label = rng.integers(0, 2, rows)
        region = rng.choice(["north", "south"], size=rows, p=[0.6, 0.4])
        correct = rng.random(rows) < 0.8
        seconds = rng.uniform(0, 48 * 3600, rows)
        return pa.table({
            "request_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64)),
            "ts": pa.array([AS_OF - timedelta(seconds=float(s)) for s in seconds], type=pa.timestamp("us", tz="UTC")),
            "region": region.tolist(), "amount": rng.normal(100, 20, rows), "label": label,
            "pred": np.where(correct, label, 1 - label),
        })

    current = table(6000, 0)
    for name, data, parts in (("reference", table(4000, 100_000), 1), ("current", current.drop_columns(["label"]), 3),
                              ("labels", current.select(["request_id", "label"]), 2)):
        (tmp_path / name).mkdir()
        bounds = np.linspace(0, data.num_rows, parts + 1).astype(int)
        for index in range(parts):
            pq.write_table(data.slice(int(bounds[index]), int(bounds[index + 1] - bounds[index])),
                           tmp_path / name / f"part-{index}.parquet")
    spec = {
        "model": {"name": "m", "task": "binary-classification"},
        "data": {"reference": {"uri": str(tmp_path / "reference")},
                 "current": {"uri": str(tmp_path / "current"), "window": "24h", "timestampColumn": "ts"},
                 "labels": {"uri": str(tmp_path / "labels"), "joinOn": "request_id", "delay": "12h"},
                 "columns": {"target": "label", "prediction": "pred", "categorical": ["region"]}},
        "metrics": [{"name": "accuracy", "min": 0.5}],
        "drift": {"tests": ["ks", "chi2"]},
        "segments": {"columns": [{"column": "region"}], "minSize": 50},
    }
    config = _config(tmp_path, spec)
    arguments = ["--config", str(config), "--as-of", AS_OF.isoformat(), "--quiet"]
    assert main(["evaluate", *arguments, "--run-id", "single"]) == 0
    single = _result(tmp_path, "single")
    ts = current.column("ts").to_pylist()
    region = np.asarray(current.column("region").to_pylist())
    drift_window = np.array([AS_OF - timedelta(hours=24) <= moment < AS_OF for moment in ts])
    performance_window = np.array([AS_OF - timedelta(hours=36) <= moment < AS_OF - timedelta(hours=12)
                                   for moment in ts])
    label, pred = current.column("label").to_numpy(), current.column("pred").to_numpy()
    for value in ("north", "south"):
        entry = _segment(single, f"region={value}")
        assert entry["rows"] == int((drift_window & (region == value)).sum())
        mask = performance_window & (region == value)
        assert entry["labelled"] == int(mask.sum())
        assert entry["metrics"]["accuracy"] == pytest.approx(accuracy_score(label[mask], pred[mask]), abs=1e-12)
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", "3")
    for index in range(3):
        monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", str(index))
        assert main(["evaluate", *arguments, "--run-id", "sharded"]) == 0
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    assert _result(tmp_path, "sharded")["segments"] == single["segments"]
