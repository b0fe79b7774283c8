"""N shards and a reduce, through the ``modelmonitor`` command on local files, give the single run's result.

Local files stand in for the S3 store here (the same code path through pyarrow's filesystems); the run
through the real control plane and MinIO is in tests/integration/sharding.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmonitor.evaluator.cli import main

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
COMPARED = ("metrics", "drift", "verdict", "violations", "rows", "labels", "confusionMatrix", "dataQuality",
            "estimated", "statistics")


def _table(rows: int, seed: int, drift: float = 0.0, first_id: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0 + 30.0 * drift, 20.0, rows)
    amount[rng.random(rows) < 0.03] = np.nan
    age = rng.integers(18, 90, rows).astype(np.float64)
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    logit = (np.nan_to_num(amount, nan=100.0) - 100.0) / 20.0 + (age - 50.0) / 30.0
    score = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0.0, 0.8, rows))))
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    seconds = rng.uniform(0, 48 * 3600, rows)
    return pa.table({
        "request_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64)),
        "ts": pa.array([AS_OF - timedelta(seconds=float(s)) for s in seconds], type=pa.timestamp("us", tz="UTC")),
        "amount": amount, "age": age, "region": region.tolist(), "label": label,
        "pred": (score >= 0.5).astype(np.int64), "score": score,
    })


def _write_parts(folder: Path, table: pa.Table, files: int, row_group_size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, table.num_rows, files + 1).astype(int)
    for index in range(files):
        part = table.slice(int(bounds[index]), int(bounds[index + 1] - bounds[index]))
        pq.write_table(part, folder / f"part-{index:02d}.parquet", row_group_size=row_group_size)


def _config(tmp_path: Path, **spec: Any) -> Path:
    document = {
        "apiVersion": "modelmonitor.io/v1alpha1",
        "monitor": {"namespace": "risk", "name": "credit", "uid": "u"},
        "spec": {
            "model": {"name": "credit", "version": "3", "task": "binary-classification"},
            "data": {
                "reference": {"uri": str(tmp_path / "reference"), "format": "parquet"},
                "current": {"uri": str(tmp_path / "current"), "format": "parquet", "window": "36h",
                            "timestampColumn": "ts"},
                "columns": {"target": "label", "prediction": "pred", "score": "score",
                            "categorical": ["region"], "exclude": ["request_id"]},
            },
            "metrics": [{"name": "accuracy", "min": 0.6}, {"name": "roc_auc", "min": 0.6},
                        {"name": "log_loss", "max": 0.9}],
            "drift": {"tests": ["ks", "chi2", "psi", "wasserstein", "classifier"]},
            **spec,
        },
        "output": {"uri": str(tmp_path / "out")},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    _write_parts(tmp_path / "reference", _table(6000, seed=1), files=2, row_group_size=1000)
    _write_parts(tmp_path / "current", _table(9000, seed=2, drift=0.4), files=3, row_group_size=700)
    return tmp_path


def _evaluate(config: Path, run_id: str, *extra: str) -> int:
    return main(["evaluate", "--config", str(config), "--run-id", run_id, "--as-of", AS_OF.isoformat(),
                 "--quiet", *extra])


def _sharded(config: Path, run_id: str, shards: int, monkeypatch: pytest.MonkeyPatch,
             summaries: Path) -> list[dict[str, Any]]:
    partial_summaries = []
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", str(shards))
    for index in range(shards):
        monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", str(index))
        summary = summaries / f"shard-{index}.json"
        assert _evaluate(config, run_id, "--summary", str(summary)) == 0
        partial_summaries.append(json.loads(summary.read_text()))
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    return partial_summaries


def _result(root: Path, run_id: str) -> dict[str, Any]:
    return dict(json.loads((root / "out" / run_id / "result.json").read_text()))


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_sharded_run_equals_the_single_run(dataset: Path, shards: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 files: 2 and 3 shards split by files, 5 shards by row groups (a slice spans two files)."""
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(dataset / "termination-log"))
    config = _config(dataset)
    assert _evaluate(config, "single") == 0
    summaries = _sharded(config, "sharded", shards, monkeypatch, dataset)
    assert {summary["outcome"] for summary in summaries} == {"partial"}
    assert sum(summary["rows"]["current"] for summary in summaries) == _result(dataset, "single")["rows"]["current"]
    assert all(summary["peakRssBytes"] > 10_000_000 for summary in summaries)
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet",
                 "--summary", str(dataset / "reduce.json")]) == 0
    single, sharded = _result(dataset, "single"), _result(dataset, "sharded")
    for key in COMPARED:
        assert sharded[key] == single[key], key
    assert sharded["runId"] == "sharded"
    reduce_summary = json.loads((dataset / "reduce.json").read_text())
    assert reduce_summary["outcome"] == "evaluated" and reduce_summary["shards"] == shards
    assert reduce_summary["resultUri"].endswith("out/sharded/result.json")
    plan = json.loads((dataset / "out" / "sharded" / "partials" / "plan.json").read_text())
    assert plan["asOf"].startswith("2026-11-23T12:00:00")
    if shards == 5:
        assert any(groups is not None for parts in plan["slices"] for _, groups in parts)


def test_delayed_labels_merge_both_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(tmp_path / "termination-log"))
    current = _table(6000, seed=3, first_id=0)
    _write_parts(tmp_path / "reference", _table(4000, seed=4, first_id=100_000), files=1, row_group_size=1000)
    _write_parts(tmp_path / "current", current.drop_columns(["label"]), files=3, row_group_size=1000)
    labels = current.select(["request_id", "label"]).filter(pa.array(np.arange(6000) % 3 != 0))
    _write_parts(tmp_path / "labels", labels, files=2, row_group_size=1000)
    config = _config(tmp_path)
    document = json.loads(config.read_text())
    document["spec"]["data"]["labels"] = {"uri": str(tmp_path / "labels"), "joinOn": "request_id", "delay": "6h"}
    config.write_text(json.dumps(document))
    assert _evaluate(config, "single") == 0
    _sharded(config, "sharded", 3, monkeypatch, tmp_path)
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    single, sharded = _result(tmp_path, "single"), _result(tmp_path, "sharded")
    assert single["rows"]["labelled"] > 0 and single["rows"]["current"] != single["labels"]["performanceRows"]
    for key in COMPARED:
        assert sharded[key] == single[key], key


def test_a_retried_shard_replaces_its_partial(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(dataset / "termination-log"))
    config = _config(dataset)
    assert _evaluate(config, "single") == 0
    _sharded(config, "sharded", 3, monkeypatch, dataset)
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", "3")
    monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", "1")
    assert _evaluate(config, "sharded") == 0  # the second attempt of index 1
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    assert _result(dataset, "sharded")["rows"] == _result(dataset, "single")["rows"]


def test_the_plan_pins_the_files_that_arrive_during_the_run(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(dataset / "termination-log"))
    config = _config(dataset)
    assert _evaluate(config, "single") == 0
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", "2")
    monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", "0")
    assert _evaluate(config, "sharded") == 0
    pq.write_table(_table(500, seed=9), dataset / "current" / "part-99.parquet")  # lands mid-run
    monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", "1")
    assert _evaluate(config, "sharded") == 0
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    assert _result(dataset, "sharded")["metrics"] == _result(dataset, "single")["metrics"]


def test_reduce_names_the_shard_whose_partial_is_missing(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    termination_log = dataset / "termination-log"
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(termination_log))
    config = _config(dataset)
    _sharded(config, "sharded", 3, monkeypatch, dataset)
    (dataset / "out" / "sharded" / "partials" / "partial-2.json").unlink()
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 4
    summary = json.loads(termination_log.read_text())
    assert summary["error"]["reason"] == "PartialMissing"
    assert "shard 2 of 3" in summary["error"]["message"]


def test_the_reference_profile_is_built_once_and_reused(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(dataset / "termination-log"))
    config = _config(dataset)
    _sharded(config, "first", 2, monkeypatch, dataset)
    profiles = list((dataset / "out" / "profiles").glob("*.json"))
    assert len(profiles) == 1
    cached_at = profiles[0].stat().st_mtime_ns
    plan = json.loads((dataset / "out" / "first" / "partials" / "plan.json").read_text())
    assert plan["profile"]["uri"] == str(profiles[0])
    _sharded(config, "second", 2, monkeypatch, dataset)
    assert main(["reduce", "--config", str(config), "--run-id", "second", "--quiet"]) == 0
    assert [p.stat().st_mtime_ns for p in (dataset / "out" / "profiles").glob("*.json")] == [cached_at]
