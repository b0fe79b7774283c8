"""Realised classification metrics match scikit-learn on the labelled rows (binned AUCs within their bound)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk

from modelmonitor.evaluator.stats import (
    ColumnRoles,
    EvaluationAccumulator,
    ReferenceProfile,
    build_reference_profile,
)
from tests.unit.evaluator.stats.generated import BINARY_ROLES, batches_of, binary_table

EXACT = 1e-9


def test_binary_metrics_match_sklearn_on_labelled_rows(binary_profile: ReferenceProfile) -> None:
    current = binary_table(150_000, seed=7, shift=0.3, label_share=0.7)
    accumulator = EvaluationAccumulator(binary_profile, BINARY_ROLES, "binary-classification")
    for batch in batches_of(current, 40_000)():
        accumulator.update(batch)
    stats = accumulator.finalize()

    labelled = current.filter(current["label"].is_valid())
    truth = labelled["label"].to_numpy()
    score = labelled["proba"].to_numpy()
    predicted = (score >= 0.5).astype(np.int64)
    assert stats.rows == {"reference": 200_000, "current": 150_000, "labelled": labelled.num_rows}
    assert stats.metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), abs=EXACT)
    assert stats.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted), abs=EXACT)
    assert stats.metrics["recall"] == pytest.approx(sk.recall_score(truth, predicted), abs=EXACT)
    assert stats.metrics["f1"] == pytest.approx(sk.f1_score(truth, predicted), abs=EXACT)
    assert stats.metrics["log_loss"] == pytest.approx(sk.log_loss(truth, score), abs=EXACT)
    assert stats.metrics["brier"] == pytest.approx(sk.brier_score_loss(truth, score), abs=EXACT)
    assert stats.confusion_matrix is not None
    assert stats.confusion_matrix.labels == ["0", "1"]
    assert stats.confusion_matrix.matrix == sk.confusion_matrix(truth, predicted).tolist()

    roc_bound = stats.metric_bounds["roc_auc"]
    assert 0 < roc_bound < 1e-3
    assert abs(stats.metrics["roc_auc"] - sk.roc_auc_score(truth, score)) <= roc_bound
    pr_bound = stats.metric_bounds["pr_auc"]
    assert pr_bound < 5e-3
    assert abs(stats.metrics["pr_auc"] - sk.average_precision_score(truth, score)) <= pr_bound


def test_binned_auc_is_exact_when_scores_fall_one_value_per_bin() -> None:
    generator = np.random.default_rng(3)
    rows = 50_000
    score = np.round(generator.random(rows), 3)  # 1001 distinct values, each alone in its bin
    truth = (generator.random(rows) < score).astype(np.int64)
    table = pa.table({"x": generator.normal(size=rows), "label": truth, "proba": score})
    roles = ColumnRoles(target="label", score="proba")
    profile = build_reference_profile(batches_of(table, 10_000), roles, "binary-classification")
    accumulator = EvaluationAccumulator(profile, roles, "binary-classification")
    for batch in batches_of(table, 10_000)():
        accumulator.update(batch)
    stats = accumulator.finalize()
    # ties sit in one bin and count one half, exactly as scikit-learn counts them
    assert stats.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, score), abs=EXACT)
    assert stats.metrics["pr_auc"] == pytest.approx(sk.average_precision_score(truth, score), abs=EXACT)
    assert profile.metrics["roc_auc"] == pytest.approx(stats.metrics["roc_auc"], abs=EXACT)


def test_multiclass_metrics_match_sklearn() -> None:
    generator = np.random.default_rng(11)
    rows = 120_000
    classes = ["cat", "dog", "emu"]
    features = generator.normal(size=(rows, 2))
    logits = np.column_stack([features[:, 0], features[:, 1], -features[:, 0] - features[:, 1] + 0.3])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth_index = (probabilities.cumsum(axis=1) < generator.random((rows, 1))).sum(axis=1)  # a draw per row
    truth = np.array(classes)[np.minimum(truth_index, 2)]
    table = pa.table(
        {
            "f0": features[:, 0],
            "f1": features[:, 1],
            "species": truth,
            **{f"p_{name}": probabilities[:, position] for position, name in enumerate(classes)},
        }
    )
    roles = ColumnRoles(target="species", class_scores={name: f"p_{name}" for name in classes})
    profile = build_reference_profile(batches_of(table, 30_000), roles, "multiclass-classification")
    accumulator = EvaluationAccumulator(profile, roles, "multiclass-classification")
    for batch in batches_of(table, 25_000)():
        accumulator.update(batch)
    stats = accumulator.finalize()

    predicted = np.array(classes)[probabilities.argmax(axis=1)]
    assert stats.metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), abs=EXACT)
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = sk.precision_recall_fscore_support(truth, predicted, average=average)
        assert stats.metrics[f"{average}_precision"] == pytest.approx(precision, abs=EXACT)
        assert stats.metrics[f"{average}_recall"] == pytest.approx(recall, abs=EXACT)
        assert stats.metrics[f"{average}_f1"] == pytest.approx(f1, abs=EXACT)
    assert stats.metrics["log_loss"] == pytest.approx(
        sk.log_loss(truth, probabilities, labels=classes), abs=EXACT
    )
    assert "roc_auc" not in stats.metrics
