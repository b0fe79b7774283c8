"""spec.segments through the ``modelmonitor`` command on local files: per-segment metrics equal scikit-learn's
on the segment's rows, violations name their segment, a segment's drift is judged against the same segment
of the reference, the number of segments is bounded, discovery finds the weak slice, and N shards plus a
reduce give the single run's segments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from modelmonitor.evaluator.cli import main

REGIONS = ["R0", "R1", "R2", "R3", "R4"]
SHARES = [0.05, 0.35, 0.2, 0.2, 0.2]


def _table(rows: int, seed: int, *, weak_region: str | None = None, drifted_region: str | None = None) -> pa.Table:
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, size=rows, p=SHARES)
    age = rng.integers(18, 90, rows).astype(np.float64)
    amount = rng.normal(100.0, 20.0, rows)
    if drifted_region is not None:
        amount = np.where(region == drifted_region, amount + 25.0, amount)
    label = rng.integers(0, 2, rows)
    correct = rng.random(rows) < np.where(region == weak_region, 0.65, 0.85)
    pred = np.where(correct, label, 1 - label)
    score = np.clip(np.where(pred == 1, 0.7, 0.3) + rng.normal(0, 0.15, rows), 0, 1)
    customer = rng.integers(0, 400, rows).astype(str)  # a high-cardinality column
    return pa.table({"region": region.tolist(), "age": age, "amount": amount, "customer": customer.tolist(),
                     "label": label, "pred": pred, "score": score})


def _write(folder: Path, table: pa.Table, files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, table.num_rows, files + 1).astype(int)
    for index in range(files):
        pq.write_table(table.slice(int(bounds[index]), int(bounds[index + 1] - bounds[index])),
                       folder / f"part-{index}.parquet", row_group_size=2000)


SEGMENTS: dict[str, Any] = {
    "columns": [{"column": "region"}, {"column": "age", "bins": [50, 30]}, {"column": "customer"}],
    "combinations": [{"columns": ["region", "age"]}],
    "minSize": 150,
    "maxSegments": 6,
    "overrides": [
        {"segment": "region=R1", "metrics": [{"name": "accuracy", "min": 0.99, "severity": "critical"}]},
        {"segment": "region=R9", "metrics": [{"name": "accuracy", "min": 0.5}]},
        {"segment": "age=__missing__", "metrics": [{"name": "accuracy", "min": 0.5}]},  # tracked, but no rows
    ],
    "discover": {"maxSlices": 5, "fdr": 0.05, "minSize": 150, "columns": ["region", "age", "amount"]},
}


def _config(root: Path, segments: dict[str, Any]) -> Path:
    document = {
        "apiVersion": "modelmonitor.io/v1alpha1",
        "monitor": {"namespace": "risk", "name": "credit", "uid": "u"},
        "spec": {
            "model": {"name": "credit", "version": "3", "task": "binary-classification"},
            "data": {
                "reference": {"uri": str(root / "reference")},
                "current": {"uri": str(root / "current")},
                "columns": {"target": "label", "prediction": "pred", "score": "score",
                            "categorical": ["region"], "exclude": ["customer"]},
            },
            "metrics": [{"name": "accuracy", "min": 0.7}, {"name": "roc_auc", "min": 0.6}],
            "drift": {"tests": ["ks", "chi2", "psi"]},
            "segments": segments,
        },
        "output": {"uri": str(root / "out")},
    }
    path = root / "config.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    root = tmp_path_factory.mktemp("segments")
    current = _table(20_000, seed=2, weak_region="R0", drifted_region="R2")
    _write(root / "reference", _table(20_000, seed=1), files=1)
    _write(root / "current", current, files=3)
    return root, current


def _evaluate(config: Path, run_id: str) -> dict[str, Any]:
    assert main(["evaluate", "--config", str(config), "--run-id", run_id, "--quiet"]) == 0
    return dict(json.loads((config.parent / "out" / run_id / "result.json").read_text()))


@pytest.fixture(scope="module")
def single(dataset: tuple[Path, pa.Table]) -> dict[str, Any]:
    root, _ = dataset
    return _evaluate(_config(root, SEGMENTS), "single")


def _segment(result: dict[str, Any], dimension: str, name: str) -> dict[str, Any]:
    section = next(item for item in result["segments"]["dimensions"] if item["name"] == dimension)
    return dict(next(entry for entry in section["segments"] if entry["segment"] == name))


def test_each_segments_metrics_are_scikit_learns_on_its_rows(
    single: dict[str, Any], dataset: tuple[Path, pa.Table]
) -> None:
    _, current = dataset
    region = np.asarray(current.column("region").to_pylist())
    age = current.column("age").to_numpy()
    label, pred, score = (current.column(name).to_numpy() for name in ("label", "pred", "score"))
    for value in REGIONS:
        mask = region == value
        entry = _segment(single, "region", f"region={value}")
        assert entry["labelled"] == int(mask.sum())
        assert entry["metrics"]["accuracy"] == pytest.approx(accuracy_score(label[mask], pred[mask]), abs=1e-12)
        bound = 0.5 / 1000 * 2  # binned AUC on SEGMENT_SCORE_BINS bins: stated bound, loosely
        assert entry["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(label[mask], score[mask]), abs=bound)
    mask = (region == "R1") & (age >= 30) & (age < 50)
    pair = _segment(single, "region&age", "region=R1&age=[30,50)")
    assert pair["labelled"] == int(mask.sum())
    assert pair["metrics"]["accuracy"] == pytest.approx(accuracy_score(label[mask], pred[mask]), abs=1e-12)


def test_violations_name_their_segment_and_every_override_is_accounted_for(single: dict[str, Any]) -> None:
    rules = {violation["rule"]: violation for violation in single["violations"]}
    assert rules["metric:accuracy[region=R1]"]["severity"] == "critical"
    assert rules["metric:accuracy[region=R0]"]["threshold"] == 0.7  # inherited from spec.metrics
    assert "metric:accuracy" not in rules  # the whole is fine: the average hides R0
    assert single["verdict"] == "critical"
    checks = {check["rule"]: check for check in single["checks"]}
    assert checks["metric:accuracy[region=R1]"]["state"] == "violated"
    assert checks["metric:accuracy[region=R9]"]["state"] == "pending"
    assert checks["metric:accuracy[age=__missing__]"]["state"] == "pending"
    unmatched = [item["segment"] for item in single["segments"]["unmatchedOverrides"]]
    assert unmatched == ["region=R9", "age=__missing__"]


def test_segment_drift_is_judged_against_the_same_segment_of_the_reference(single: dict[str, Any]) -> None:
    drifted = _segment(single, "region", "region=R2")
    assert "amount" in drifted["drift"]["features"]
    for value in ("R1", "R3", "R4"):
        assert "amount" not in _segment(single, "region", f"region={value}")["drift"]["features"]
    # region itself is constant within a region segment: it never counts as drift there
    assert "region" not in drifted["drift"]["features"]


def test_segments_are_bounded_and_small_ones_inconclusive(single: dict[str, Any]) -> None:
    customers = next(item for item in single["segments"]["dimensions"] if item["name"] == "customer")
    names = [entry["segment"] for entry in customers["segments"]]
    assert len(names) == 7 and "customer=__other__" in names  # maxSegments 6, the rest merged
    small = [entry for entry in customers["segments"] if entry["segment"] != "customer=__other__"]
    assert all(entry["state"] == "inconclusive" for entry in small)  # ~50 rows each < minSize 150
    assert all(check["state"] == "pending" for entry in small for check in entry["checks"])


def test_discovery_finds_the_weak_region(single: dict[str, Any]) -> None:
    discovery = single["segments"]["discovery"]
    found = {item["slice"] for item in discovery["slices"]}
    assert "region=R0" in found
    assert any(violation["rule"] == "discovered:accuracy[region=R0]" for violation in single["violations"])
    assert next(check for check in single["checks"] if check["rule"] == "segments:discovery")["state"] == "violated"


def test_sharded_segments_equal_the_single_run(
    dataset: tuple[Path, pa.Table], single: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = dataset
    config = _config(root, SEGMENTS)
    monkeypatch.setenv("MODELMONITOR_SHARD_COUNT", "3")
    for index in range(3):
        monkeypatch.setenv("MODELMONITOR_SHARD_INDEX", str(index))
        assert main(["evaluate", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    monkeypatch.delenv("MODELMONITOR_SHARD_INDEX")
    monkeypatch.delenv("MODELMONITOR_SHARD_COUNT")
    assert main(["reduce", "--config", str(config), "--run-id", "sharded", "--quiet"]) == 0
    sharded = json.loads((root / "out" / "sharded" / "result.json").read_text())
    assert sharded["segments"] == single["segments"]
    assert sharded["violations"] == single["violations"]


def test_a_missing_segment_column_is_a_config_error_naming_the_field(
    dataset: tuple[Path, pa.Table], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = dataset
    config = _config(root, {"columns": [{"column": "regoin"}]})
    assert main(["evaluate", "--config", str(config), "--run-id", "bad"]) == 2
    assert "spec.segments.columns[0].column" in capsys.readouterr().out


def test_the_segments_reference_is_cached_beside_the_profile_and_reused(
    dataset: tuple[Path, pa.Table], single: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    root, _ = dataset
    cached = list((root / "out" / "profiles").glob("*.segments-*.json"))
    assert len(cached) == 1
    with caplog.at_level("INFO", logger="modelmonitor.evaluator"):
        again = _evaluate(_config(root, SEGMENTS), "again")
    assert any("reusing the segments' reference states" in record.getMessage() for record in caplog.records)
    assert again["segments"] == single["segments"]
    changed = dict(SEGMENTS, maxSegments=3)  # another spec: another cache entry, not a stale one
    assert len(_evaluate(_config(root, changed), "changed")["segments"]["dimensions"][2]["segments"]) == 4
    assert len(list((root / "out" / "profiles").glob("*.segments-*.json"))) == 2
