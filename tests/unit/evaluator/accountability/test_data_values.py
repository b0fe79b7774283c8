"""Values the task does not expect (issue 17 item 4): the right answer or a clear error naming the column.

- scores outside [0, 1] are not probabilities: left out of every score metric alike (counted, noted);
- a binary monitor whose labels or predictions hold a third value is refused, naming column and values;
- a multiclass monitor reports classes the reference never had;
- a numeric column declared categorical is tested as categories, with a warning saying so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk

from modelmonitor.evaluator.errors import DataError
from tests.unit.evaluator.accountability.scenarios import DataShape, build_scenario, run_document

BINARY = DataShape(task="binary-classification", rows=2000, score=True, seed=5)
SCORE_RULES = {
    "metrics": [
        {"name": "roc_auc", "min": 0.1},
        {"name": "pr_auc", "min": 0.1},
        {"name": "log_loss", "max": 5.0},
        {"name": "brier", "max": 1.0},
    ]
}


def _rewrite_current(folder: Path, column: str, values: pa.Array) -> pa.Table:
    current = pq.read_table(folder / "current.parquet")
    current = current.set_column(current.schema.get_field_index(column), column, values)
    pq.write_table(current, folder / "current.parquet")
    return current


def test_scores_outside_zero_one_are_left_out_of_every_score_metric(tmp_path: Path) -> None:
    document = build_scenario(tmp_path, BINARY, SCORE_RULES)
    current = pq.read_table(tmp_path / "current.parquet")
    score = current["score"].to_numpy().copy()
    outside = np.arange(len(score)) % 10 == 0
    score[outside] = np.where(np.arange(len(score))[outside] % 20 == 0, score[outside] + 1.5, -score[outside])
    score[outside & (score == 0.0)] = -0.5
    current = _rewrite_current(tmp_path, "score", pa.array(score))
    result, summary = run_document(document)
    kept = ~outside
    truth = (np.array(current["target"].to_pylist()) == "1")[kept].astype(int)
    probability = score[kept]
    assert result["metrics"]["log_loss"] == pytest.approx(sk.log_loss(truth, probability), abs=1e-9)
    assert result["metrics"]["brier"] == pytest.approx(sk.brier_score_loss(truth, probability), abs=1e-9)
    bound = result["statistics"]["metricBounds"]["roc_auc"]
    assert abs(result["metrics"]["roc_auc"] - sk.roc_auc_score(truth, probability)) <= bound + 1e-12
    assert f"{int(outside.sum())} score(s) of 'score' outside [0, 1]" in result["drift"]["note"]
    assert all(summary["checks"][f"metric:{name}"]["state"] in ("ok", "violated") for name in ("roc_auc", "brier"))


def test_only_scores_outside_zero_one_leave_the_score_metrics_pending(tmp_path: Path) -> None:
    document = build_scenario(tmp_path, BINARY, SCORE_RULES)
    current = pq.read_table(tmp_path / "current.parquet")
    _rewrite_current(tmp_path, "score", pa.array(current["score"].to_numpy() * 10 + 2))  # not probabilities
    result, _ = run_document(document)
    assert {check["state"] for check in result["checks"]} == {"pending"}
    assert "score(s) of 'score' outside [0, 1]" in result["drift"]["note"]


@pytest.mark.parametrize("column", ["target", "pred"])
def test_a_third_value_in_a_binary_monitor_is_refused_naming_column_and_value(tmp_path: Path, column: str) -> None:
    document = build_scenario(tmp_path, BINARY, {"metrics": [{"name": "accuracy", "min": 0.5}]})
    current = pq.read_table(tmp_path / "current.parquet")
    values = current[column].to_pylist()
    values[7] = "2"
    _rewrite_current(tmp_path, column, pa.array(values))
    role = "target" if column == "target" else "prediction"
    with pytest.raises(
        DataError, match=rf"spec.data.columns.{role}: column '{column}' holds '2', outside the two"
    ) as caught:
        run_document(document)
    assert caught.value.reason == "UnknownClass" and caught.value.exit_code == 3


def test_multiclass_labels_the_reference_never_had_are_reported(tmp_path: Path) -> None:
    shape = DataShape(task="multiclass-classification", rows=600, seed=2)
    document = build_scenario(tmp_path, shape, {"metrics": [{"name": "macro_f1", "min": 0.1}]})
    current = pq.read_table(tmp_path / "current.parquet")
    values = current["target"].to_pylist()
    values[:30] = ["d"] * 30
    _rewrite_current(tmp_path, "target", pa.array(values))
    result, _ = run_document(document)
    assert any("column 'target' holds classes the reference never had: 'd'" in text for text in result["warnings"])
    assert "d" in result["confusionMatrix"]["labels"]


def test_a_numeric_column_declared_categorical_gets_a_warning(tmp_path: Path) -> None:
    shape = DataShape(task="regression", rows=400, prediction=False, labels="none")
    document = build_scenario(tmp_path, shape, {"drift": {"tests": ["chi2"]}})
    document["spec"]["data"]["columns"]["categorical"] = ["x"]
    result, _ = run_document(document)
    (warning,) = result["warnings"]
    assert warning.startswith("spec.data.columns.categorical[0]: column 'x' is numeric (double)")
    feature = next(item for item in result["drift"]["features"] if item["feature"] == "x")
    assert feature["kind"] == "categorical"
