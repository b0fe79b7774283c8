"""Small generated monitors and data sets, run through the real evaluator (config loader, engine, verdict).

A scenario is a config document, as the operator would mount it (but with local paths), and the Parquet files
it names. ``run_scenario`` reads the document with the evaluator's own loader and evaluates it in-process,
returning the result document and the summary, exactly what the CLI writes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelmonitor.evaluator.inputs import read_config_document
from modelmonitor.evaluator.run import RunOptions, run_evaluation

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CLASSES = {"binary-classification": ["0", "1"], "multiclass-classification": ["a", "b", "c"]}


@dataclass
class DataShape:
    """What the generated data holds: predictions, scores, labels (and where), the size of a shift."""

    task: str
    rows: int = 300
    prediction: bool = True
    score: bool = False
    labels: str = "in-current"  # in-current | separate | separate-partial | separate-unmatched | none
    min_coverage: float = 0.0
    exclude: tuple[str, ...] = ()
    shift: float = 0.0
    seed: int = 0
    categorical_shift: float = 0.0


def _table(shape: DataShape, rows: int, seed: int, shift: float, categorical_shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, rows)
    weights = np.array([0.5, 0.3, 0.2]) * (1 - categorical_shift) + np.array([0.1, 0.2, 0.7]) * categorical_shift
    category = rng.choice(["north", "south", "west"], size=rows, p=weights / weights.sum())
    columns: dict[str, Any] = {"id": np.arange(rows, dtype=np.int64) + seed * 100_000, "x": x}
    columns["region"] = category.tolist()
    noise = rng.normal(0.0, 1.0, rows)
    if shape.task == "regression":
        columns["target"] = 2.0 * x + noise
        columns["pred"] = 2.0 * x
    else:
        classes = CLASSES[shape.task]
        if len(classes) == 2:
            probability = 1.0 / (1.0 + np.exp(-(x + noise)))
            truth = (rng.random(rows) < probability).astype(np.int64).astype(str)
            columns["score"] = probability
            columns["pred"] = np.where(probability >= 0.5, "1", "0").tolist()
        else:
            bins = np.digitize(x + noise, [-0.5, 0.5])
            truth = np.array(classes)[bins]
            columns["pred"] = np.array(classes)[np.digitize(x, [-0.5, 0.5])].tolist()
        columns["target"] = truth.tolist()
    table = pa.table(columns)
    if not shape.prediction:
        table = table.drop_columns(["pred"])
    if not shape.score and "score" in table.column_names:
        table = table.drop_columns(["score"])
    return table


def build_scenario(folder: Path, shape: DataShape, spec_rules: dict[str, Any]) -> dict[str, Any]:
    """Write the data of ``shape`` under ``folder`` and return the config document for ``spec_rules``."""
    reference = _table(shape, shape.rows, shape.seed, 0.0, 0.0)
    current = _table(shape, shape.rows, shape.seed + 1, shape.shift, shape.categorical_shift)
    pq.write_table(reference, folder / "reference.parquet")
    columns: dict[str, Any] = {"exclude": ["id", *shape.exclude]}
    if shape.prediction:
        columns["prediction"] = "pred"
    if shape.score:
        columns["score"] = "score"
    data: dict[str, Any] = {
        "reference": {"uri": str(folder / "reference.parquet")},
        "current": {"uri": str(folder / "current.parquet")},
        "columns": columns,
    }
    if shape.labels != "none":
        columns["target"] = "target"
    if shape.labels.startswith("separate"):
        labels = current.select(["id", "target"])
        if shape.labels == "separate-unmatched":
            labels = labels.set_column(0, "id", pa.array(np.arange(labels.num_rows, dtype=np.int64) - 10**9))
        elif shape.labels == "separate-partial":  # 40% of the rows have a label yet
            labels = labels.slice(0, labels.num_rows * 2 // 5)
        pq.write_table(labels, folder / "labels.parquet")
        current = current.drop_columns(["target"])
        data["labels"] = {"uri": str(folder / "labels.parquet"), "joinOn": "id", "minCoverage": shape.min_coverage}
        columns["exclude"] = list(shape.exclude)
    elif shape.labels == "none" and "target" in current.column_names:
        current = current.drop_columns(["target"])
        reference = reference.drop_columns(["target"])
        pq.write_table(reference, folder / "reference.parquet")
    pq.write_table(current, folder / "current.parquet")
    return {
        "apiVersion": "modelmonitor.io/v1alpha1",
        "monitor": {"namespace": "test", "name": "generated"},
        "spec": {"model": {"name": "generated", "task": shape.task}, "data": data, **spec_rules},
    }


def run_document(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result document and summary of one evaluation of ``document`` (nothing written)."""
    evaluation = read_config_document(document)
    run = run_evaluation(evaluation, RunOptions(run_id="generated", as_of=AS_OF, write_outputs=False))
    return run.result, run.summary


def run_scenario(shape: DataShape, spec_rules: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        return run_document(build_scenario(Path(folder), shape, spec_rules))
