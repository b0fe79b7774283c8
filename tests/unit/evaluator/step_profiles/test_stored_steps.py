"""A long window from stored daily step profiles gives the raw-data result, and rebuilds what it must.

Local files stand in for the S3 store (the same pyarrow filesystem code path); the run against MinIO that
counts the objects read is tests/integration/evaluator/test_step_profiles_s3.py. The reference for equality
is the same evaluation with stored steps switched off (one raw pass over the window), itself checked
against scikit-learn / scipy by the engine's own tests and, for the merged window, here.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from sklearn import metrics

from modelmonitor.evaluator.inputs import read_config_document
from modelmonitor.evaluator.run import RunOptions, run_evaluation
from modelmonitor.evaluator.step_profiles import aligned_blocks

AS_OF = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # midnight: the 30-day window is 30 whole days
DAYS = 33
COMPARED = ("metrics", "drift", "verdict", "violations", "checks", "rows", "labels", "confusionMatrix",
            "dataQuality", "estimated", "statistics", "segments", "warnings")


def _table(rows: int, seed: int, start: datetime, hours: float, drift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.normal(100.0 + 30.0 * drift, 20.0, rows)
    amount[rng.random(rows) < 0.03] = np.nan
    age = rng.integers(18, 90, rows).astype(np.float64)
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    logit = (np.nan_to_num(amount, nan=100.0) - 100.0) / 20.0 + (age - 50.0) / 30.0
    score = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0.0, 0.8, rows))))
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    seconds = rng.uniform(0, hours * 3600, rows)
    stamps: list[datetime | None] = [start + timedelta(seconds=float(s)) for s in seconds]
    for index in np.flatnonzero(rng.random(rows) < 0.01):
        stamps[int(index)] = None  # in no window: counted as null timestamps
    return pa.table({
        "request_id": pa.array(np.arange(rows, dtype=np.int64)),
        "ts": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
        "amount": amount, "age": age, "region": region.tolist(), "label": label,
        "pred": (score >= 0.5).astype(np.int64), "score": score,
    })


def _write_days(folder: Path, first_seed: int = 100) -> None:
    """One file per day (as a daily export writes them), plus one file spanning three days."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in range(DAYS):
        start = AS_OF - timedelta(days=DAYS - day)
        table = _table(400, seed=first_seed + day, start=start, hours=24, drift=0.3 * day / DAYS)
        pq.write_table(table, folder / f"day-{day:02d}.parquet")
    spanning = _table(600, seed=7, start=AS_OF - timedelta(days=12, hours=6), hours=60)
    pq.write_table(spanning, folder / "backfill.parquet")


def _document(tmp_path: Path, **spec: Any) -> dict[str, Any]:
    data_overrides = spec.pop("data", {})
    document: dict[str, Any] = {
        "apiVersion": "modelmonitor.io/v1alpha1",
        "monitor": {"namespace": "risk", "name": "credit", "uid": "u"},
        "spec": {
            "model": {"name": "credit", "version": "3", "task": "binary-classification"},
            "data": {
                "reference": {"uri": str(tmp_path / "reference"), "format": "parquet"},
                "current": {"uri": str(tmp_path / "current"), "format": "parquet", "window": "30d",
                            "timestampColumn": "ts"},
                "columns": {"target": "label", "prediction": "pred", "score": "score",
                            "categorical": ["region"], "exclude": ["request_id"]},
                **data_overrides,
            },
            "metrics": [{"name": "accuracy", "min": 0.6}, {"name": "roc_auc", "min": 0.6},
                        {"name": "log_loss", "max": 0.9}, {"name": "f1", "min": 0.2}],
            "drift": {"tests": ["ks", "chi2", "psi", "wasserstein", "classifier"],
                      "wasserstein": {"warning": 0.1, "critical": 0.3}},
            **spec,
        },
        "output": {"uri": str(tmp_path / "out")},
    }
    return document


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    (tmp_path / "reference").mkdir()
    pq.write_table(_table(5000, seed=1, start=AS_OF - timedelta(days=90), hours=24 * 30),
                   tmp_path / "reference" / "train.parquet")
    _write_days(tmp_path / "current")
    return tmp_path


def _evaluate(document: dict[str, Any], *, steps: bool, as_of: datetime = AS_OF, run: str = "r") -> dict[str, Any]:
    options = RunOptions(run_id=run, as_of=as_of, step_profiles=steps)
    result: dict[str, Any] = run_evaluation(read_config_document(document), options).result
    return result


def _compared(result: dict[str, Any]) -> dict[str, Any]:
    compared = {key: result[key] for key in COMPARED}
    compared["nullTimestamps"] = result["data"]["current"]["nullTimestamps"]
    return compared


def _exact_part(result: dict[str, Any]) -> dict[str, Any]:
    """What merges bit for bit: counts, the confusion matrix, histogram-based tests (chi-square, KS, PSI)."""
    features = [
        {
            "feature": item["feature"], "status": item["status"], "counts": [item["referenceCount"],
                                                                              item["currentCount"]],
            "distribution": item.get("distribution"),
            "tests": [test for test in item["tests"] if test["test"] in ("chi2", "ks", "psi")],
        }
        for item in result["drift"]["features"]
    ]
    return {"rows": result["rows"], "labels": result["labels"], "confusionMatrix": result["confusionMatrix"],
            "verdict": result["verdict"], "features": features, "drifted": result["drift"]["drifted"],
            "nullTimestamps": result["data"]["current"]["nullTimestamps"], "checks": [
                check["state"] for check in result["checks"]]}


def _assert_same(stepped: dict[str, Any], raw: dict[str, Any]) -> None:
    """Exactly equal where the merge is exact; sums of floats (log loss, Brier, means) to 1e-12 relative.

    A float sum's last bits depend on where batches start and end, and a step cuts a file's batches at
    midnight, so a compensated sum of per-batch sums may differ in the 16th digit, as it may between
    two raw runs with another batch size.
    """
    assert _exact_part(stepped) == _exact_part(raw)
    assert _approximately(_compared(stepped), _compared(raw)) == []


def _approximately(left: Any, right: Any, path: str = "") -> list[str]:
    if isinstance(left, float) and isinstance(right, float):
        same = left == right or (math.isnan(left) and math.isnan(right)) or math.isclose(left, right, rel_tol=1e-12)
        return [] if same else [f"{path}: {left!r} != {right!r}"]
    if isinstance(left, dict) and isinstance(right, dict):
        if sorted(left) != sorted(right):
            return [f"{path}: keys {sorted(left)} != {sorted(right)}"]
        return [problem for key in left for problem in _approximately(left[key], right[key], f"{path}.{key}")]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{path}: {len(left)} items != {len(right)}"]
        return [problem for index, (one, other) in enumerate(zip(left, right, strict=True))
                for problem in _approximately(one, other, f"{path}[{index}]")]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def _steps(result: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = result["data"]["current"]["stepProfiles"]
    return info


def test_stored_steps_equal_the_raw_window_exactly(dataset: Path) -> None:
    document = _document(dataset)
    raw = _evaluate(document, steps=False)
    assert raw["data"]["current"]["stepProfiles"] is None
    first = _evaluate(document, steps=True, run="first")
    second = _evaluate(document, steps=True, run="second")
    _assert_same(first, raw)
    _assert_same(second, raw)  # counts, chi-square, KS, confusion matrix exactly; float sums to 1e-12
    assert len(_steps(first)["built"]) == 30 and _steps(first)["reused"] == 0
    assert _steps(second) | {"built": []} == _steps(second)
    assert _steps(second)["reused"] == 30 and _steps(second)["filesRead"] == 0
    assert raw["rows"]["current"] > 10_000  # the window holds 30 days of rows


def test_the_merged_window_matches_scikit_learn_and_scipy(dataset: Path) -> None:
    document = _document(dataset)
    _evaluate(document, steps=True, run="build")
    result = _evaluate(document, steps=True, run="merged")
    assert _steps(result)["reused"] == 30
    table = pa.concat_tables(pq.read_table(path) for path in sorted((dataset / "current").glob("*.parquet")))
    stamps = table.column("ts").to_pylist()
    start = AS_OF - timedelta(days=30)
    keep = np.array([stamp is not None and start <= stamp < AS_OF for stamp in stamps])
    truth = table.column("label").to_numpy()[keep]
    predicted = table.column("pred").to_numpy()[keep]
    assert result["rows"]["current"] == int(keep.sum())
    assert result["data"]["current"]["nullTimestamps"] == sum(stamp is None for stamp in stamps)
    assert result["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-12)
    assert result["metrics"]["f1"] == pytest.approx(metrics.f1_score(truth, predicted), abs=1e-12)
    matrix = metrics.confusion_matrix(truth, predicted, labels=[0, 1]).tolist()
    assert result["confusionMatrix"]["matrix"] == matrix
    reference = pq.read_table(dataset / "reference" / "train.parquet")
    region = next(item for item in result["drift"]["features"] if item["feature"] == "region")
    categories = ["north", "south", "east", "west"]
    current_counts = [int(np.sum(np.asarray(table.column("region").to_pylist(), dtype=object)[keep] == c))
                      for c in categories]
    reference_counts = [reference.column("region").to_pylist().count(c) for c in categories]
    chi2 = stats.chi2_contingency(np.array([reference_counts, current_counts]), correction=False)
    chi2_test = next(test for test in region["tests"] if test["test"] == "chi2")
    assert chi2_test["pValue"] == pytest.approx(chi2.pvalue, rel=1e-9, abs=1e-300)


def test_a_later_day_reads_only_the_new_day(dataset: Path) -> None:
    document = _document(dataset)
    _evaluate(document, steps=True, run="day-1")
    later = AS_OF + timedelta(days=1)
    table = _table(400, seed=999, start=AS_OF, hours=24)
    pq.write_table(table, dataset / "current" / "day-new.parquet")
    result = _evaluate(document, steps=True, as_of=later, run="day-2")
    raw = _evaluate(document, steps=False, as_of=later, run="day-2-raw")
    _assert_same(result, raw)
    assert _steps(result)["reused"] == 29 and _steps(result)["built"] == ["2026-11-23T000000Z"]
    assert _steps(result)["filesRead"] == 1
    assert _steps(result)["bytesRead"] == (dataset / "current" / "day-new.parquet").stat().st_size


def test_late_data_and_a_rewritten_file_rebuild_their_steps_only(dataset: Path) -> None:
    document = _document(dataset)
    _evaluate(document, steps=True, run="before")
    late = _table(50, seed=31, start=AS_OF - timedelta(days=5), hours=10)  # arrives late for one old day
    pq.write_table(late, dataset / "current" / "late.parquet")
    rewritten = _table(300, seed=32, start=AS_OF - timedelta(days=20), hours=24)
    pq.write_table(rewritten, dataset / "current" / "day-13.parquet")  # the day 20 days ago, re-exported
    result = _evaluate(document, steps=True, run="after")
    raw = _evaluate(document, steps=False, run="after-raw")
    _assert_same(result, raw)
    assert sorted(_steps(result)["built"]) == ["2026-11-03T000000Z", "2026-11-18T000000Z"]
    assert _steps(result)["reused"] == 28


def test_a_partial_first_and_open_last_step_are_read_raw(dataset: Path) -> None:
    document = _document(dataset)
    noon = AS_OF - timedelta(hours=12)
    result = _evaluate(document, steps=True, as_of=noon, run="noon")
    raw = _evaluate(document, steps=False, as_of=noon, run="noon-raw")
    _assert_same(result, raw)
    assert len(_steps(result)["readRaw"]) == 2 and len(_steps(result)["built"]) == 29
    again = _evaluate(document, steps=True, as_of=noon, run="noon-2")
    assert _steps(again)["reused"] == 29 and _steps(again)["built"] == []
    _assert_same(again, raw)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"drift": {"tests": ["ks", "chi2", "psi", "isolation_forest"]}}, id="drift-tests"),
        pytest.param({"drift": {"tests": ["ks", "chi2", "psi"], "features": ["amount", "region"]}},
                     id="drift-features"),
        pytest.param({"data": {"columns": {"target": "label", "prediction": "pred", "score": "score",
                                           "categorical": ["region", "age"], "exclude": ["request_id"]}}},
                     id="categorical-columns"),
        pytest.param({"data": {"columns": {"target": "label", "prediction": "pred", "score": "score",
                                           "categorical": ["region"], "exclude": ["request_id", "age"]}}},
                     id="excluded-columns"),
        pytest.param({"metrics": [{"name": "accuracy", "min": 0.6}]}, id="metric-names"),
        pytest.param({"segments": {"columns": [{"column": "region"}, {"column": "age", "bins": [40, 60]}],
                                   "minSize": 50}}, id="segments"),
    ],
)
def test_a_changed_setting_rebuilds_every_step(dataset: Path, change: dict[str, Any]) -> None:
    document = _document(dataset)
    first = _evaluate(document, steps=True, run="original")
    changed = _document(dataset, **json.loads(json.dumps(change)))
    result = _evaluate(changed, steps=True, run="changed")
    raw = _evaluate(changed, steps=False, run="changed-raw")
    assert _steps(result)["reused"] == 0 and len(_steps(result)["built"]) == 30
    assert _steps(result)["location"] != _steps(first)["location"]
    _assert_same(result, raw)
    again = _evaluate(document, steps=True, run="original-again")  # the original settings' steps still hold
    assert _steps(again)["reused"] == 30


def test_a_changed_reference_or_schema_rebuilds(dataset: Path) -> None:
    document = _document(dataset)
    _evaluate(document, steps=True, run="original")
    pq.write_table(_table(5000, seed=2, start=AS_OF - timedelta(days=90), hours=24 * 30),
                   dataset / "reference" / "train.parquet")  # new reference data: a new profile, new bins
    result = _evaluate(document, steps=True, run="new-reference")
    assert _steps(result)["reused"] == 0
    _assert_same(result, _evaluate(document, steps=False, run="new-reference-raw"))


def test_a_stored_step_that_does_not_fit_is_rebuilt_not_mixed(dataset: Path) -> None:
    document = _document(dataset)
    first = _evaluate(document, steps=True, run="original")
    location = Path(_steps(first)["location"])
    for block in location.glob("block-*.json"):
        block.unlink()  # the merged blocks would cover the days: look at the days themselves
    victim = location / "2026-11-10T000000Z.json"
    stored = json.loads(victim.read_text())
    stored["tally"]["accumulator"]["profile"] = "0123456789abcdef"  # state of another reference profile
    victim.write_text(json.dumps(stored))
    (location / "2026-11-11T000000Z.json").write_text("{not json")
    other = location / "2026-11-12T000000Z.json"
    moved = json.loads(other.read_text())
    moved["settings"] = "another-digest"
    other.write_text(json.dumps(moved))
    result = _evaluate(document, steps=True, run="repaired")
    assert sorted(_steps(result)["built"]) == ["2026-11-10T000000Z", "2026-11-11T000000Z", "2026-11-12T000000Z"]
    _assert_same(result, _evaluate(document, steps=False, run="raw"))


def test_merged_blocks_cover_the_window_and_a_bad_one_is_rebuilt_from_its_halves(dataset: Path) -> None:
    document = _document(dataset)
    first = _evaluate(document, steps=True, run="original")
    location = Path(_steps(first)["location"])
    blocks = sorted(path.name for path in location.glob("block-*.json"))
    assert _steps(first)["blocksWritten"] == len(blocks) > 0
    second = _evaluate(document, steps=True, run="second")
    assert _steps(second)["reused"] == 30 and _steps(second)["documentsRead"] <= 10
    largest = max(blocks, key=lambda name: int(name.split("-")[1]))
    stored = json.loads((location / largest).read_text())
    day = next(iter(stored["files"]))
    stored["files"][day] = [["/elsewhere/part.parquet", "1:1"]]  # made from other files than today's
    (location / largest).write_text(json.dumps(stored))
    third = _evaluate(document, steps=True, run="third")
    assert _steps(third)["built"] == [] and _steps(third)["filesRead"] == 0
    assert _steps(third)["blocksWritten"] >= 1 and _steps(third)["reused"] == 30
    _assert_same(third, _evaluate(document, steps=False, run="raw"))


def test_aligned_blocks_cover_each_step_once() -> None:
    for first in range(0, 70):
        for length in range(1, 100):
            blocks = aligned_blocks(first, first + length)
            covered = [step for level, start in blocks for step in range(start, start + (1 << level))]
            assert covered == list(range(first, first + length))
            assert all(start % (1 << level) == 0 for level, start in blocks)
            assert len(blocks) <= 2 * 7


def test_short_windows_read_raw(dataset: Path) -> None:
    short = _document(dataset)
    short["spec"]["data"]["current"]["window"] = "36h"
    assert _evaluate(short, steps=True)["data"]["current"]["stepProfiles"] is None


def test_the_command_line_switch_reads_raw(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelmonitor.evaluator.cli import main

    config = dataset / "config.json"
    config.write_text(json.dumps(_document(dataset)))
    monkeypatch.setenv("MODELMONITOR_TERMINATION_LOG", str(dataset / "summary.json"))
    results = {}
    for name, extra in (("raw", ["--no-step-profiles"]), ("steps", []), ("again", [])):
        arguments = ["evaluate", "--config", str(config), "--as-of", AS_OF.isoformat(), "--quiet",
                     "--output", str(dataset / name), "--profile-cache", str(dataset / "cache"), *extra]
        assert main(arguments) == 0
        results[name] = json.loads((dataset / name / "result.json").read_text())
        if name == "raw":  # the switch neither reads nor writes step profiles
            assert not (dataset / "cache" / "profiles" / "steps").exists()
    assert results["raw"]["data"]["current"]["stepProfiles"] is None
    assert len(_steps(results["steps"])["built"]) == 30
    assert _steps(results["again"])["reused"] == 30
    _assert_same(results["again"], results["raw"])
