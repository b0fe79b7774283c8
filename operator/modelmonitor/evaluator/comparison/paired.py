"""Shadow comparison: both models predicted the same rows, so each row is a pair and the tests are paired.

Pairing removes the variation the two models share: with highly agreeing models only the discordant rows
carry information, and a paired test needs far fewer rows than comparing two averages (the unit tests
measure how many). The state is exact and mergeable: counts of (label, champion prediction, challenger
prediction) cells for accuracy / error rate / F1 (exact McNemar, paired bootstrap), double-double moments
of the per-row loss difference for log loss, Brier, MAE, MSE and RMSE (paired t), and joint score
histograms for ROC AUC (DeLong on a ``JOINT_BINS`` x ``JOINT_BINS`` grid: exact for the binned scores;
the binned AUC differs from the exact one by at most half the share of positive–negative pairs within
one bin, as in ``stats.performance``). Rows without a label feed only the CBPE estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from modelmonitor.evaluator.comparison.evidence import (
    Moments,
    as_text,
    cells_from_state,
    cells_to_state,
    count_cells,
    merge_cells,
    metric_rule,
    row_losses,
)
from modelmonitor.evaluator.comparison.fixed import (
    TestResult,
    bootstrap_f1_difference,
    delong_paired,
    exact_mcnemar,
    f1_from_cells,
    student_t_quantile,
    student_t_two_sided,
)
from modelmonitor.evaluator.comparison.outcome import (
    ComparisonOutcome,
    ComparisonSettings,
    EstimatedComparison,
    MetricEvidence,
    conclude,
)
from modelmonitor.evaluator.stats.errors import StateMismatchError, StatsDataError
from modelmonitor.evaluator.stats.exact import CompensatedSum

__all__ = ["JOINT_BINS", "ModelOutputs", "PairedComparison"]

JOINT_BINS = 200
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class ModelOutputs:
    """One model's outputs for a batch of rows: predicted labels / values and (binary) positive-class scores."""

    prediction: npt.NDArray[Any] | None = None
    score: FloatArray | None = None


def _binned(scores: FloatArray, bins: int) -> npt.NDArray[np.intp]:
    return np.clip((np.nan_to_num(scores, nan=0.0) * bins).astype(np.intp), 0, bins - 1)


def _test_from_moments(moments: Moments) -> TestResult:
    """Paired t-test of the mean per-row difference (``scipy.stats.ttest_rel``)."""
    rows, mean = moments.count, moments.mean
    if rows < 2:
        return TestResult(mean, math.nan, math.nan, math.nan, math.nan)
    error = math.sqrt(moments.variance / rows)
    if error == 0:
        return TestResult(mean, 0.0, 1.0 if mean == 0 else 0.0, mean, mean)
    half = student_t_quantile(0.975, rows - 1) * error
    return TestResult(mean, error, student_t_two_sided(mean / error, rows - 1), mean - half, mean + half)


def _scaled(result: TestResult, factor: float) -> TestResult:
    low, high = sorted((result.low * factor, result.high * factor))
    return TestResult(result.difference * factor, result.standard_error * abs(factor), result.p_value, low, high)


class PairedComparison:
    """Mergeable evidence that a challenger (shadow) is better or worse than the champion on the same rows."""

    def __init__(self, task: str, metrics: list[str], positive_class: str | None = None) -> None:
        self.task = task
        self.metrics = list(metrics)
        self.positive_class = positive_class
        self.rules = {metric: metric_rule(metric, task) for metric in self.metrics}
        self.labelled_rows = 0
        self.cells: dict[tuple[str, ...], int] = {}
        self.losses = {
            rule.loss: (Moments(), Moments(), Moments()) for rule in self.rules.values() if rule.loss is not None
        }
        self.needs_scores = any(rule.kind == "scores" for rule in self.rules.values())
        self.joint_positive = np.zeros((JOINT_BINS, JOINT_BINS), dtype=np.int64) if self.needs_scores else None
        self.joint_negative = np.zeros((JOINT_BINS, JOINT_BINS), dtype=np.int64) if self.needs_scores else None
        self.unlabelled_rows = 0
        self.expected_correct = (CompensatedSum(), CompensatedSum())

    def _positive(self, target: npt.NDArray[Any]) -> FloatArray:
        if self.positive_class is None:
            raise StatsDataError("spec.challenger: binary comparison needs the positive class")
        return np.asarray(as_text(target) == self.positive_class, dtype=np.float64)

    def add_labelled(
        self,
        target: npt.NDArray[Any],
        champion: ModelOutputs,
        challenger: ModelOutputs,
        *,
        cells: dict[tuple[str, ...], int] | None = None,
    ) -> None:
        """Add rows that have a label: ``target`` and both models' outputs, aligned row by row.

        ``cells`` may carry the (label, champion, challenger) counts of these rows when the caller has them
        already (the evaluator counts them in Arrow, several times faster than here).
        """
        rows = len(target)
        if rows == 0:
            return
        self.labelled_rows += rows
        if any(rule.kind == "labels" for rule in self.rules.values()):
            if champion.prediction is None or challenger.prediction is None:
                raise StatsDataError("spec.challenger: label metrics need both models' prediction columns")
            counted = cells if cells is not None else count_cells(target, champion.prediction, challenger.prediction)
            merge_cells(self.cells, counted)
        is_binary = self.task == "binary-classification"
        for loss, (champion_moments, challenger_moments, difference) in self.losses.items():
            truth = self._positive(target) if is_binary else np.asarray(target, dtype=np.float64)
            champion_values = champion.score if is_binary else champion.prediction
            challenger_values = challenger.score if is_binary else challenger.prediction
            if champion_values is None or challenger_values is None:
                raise StatsDataError(
                    f"spec.challenger: {loss} needs both models' {'score' if is_binary else 'prediction'}"
                )
            first = row_losses(loss, truth, np.asarray(champion_values, dtype=np.float64))
            second = row_losses(loss, truth, np.asarray(challenger_values, dtype=np.float64))
            champion_moments.add(first)
            challenger_moments.add(second)
            difference.add(second - first)
        if self.joint_positive is not None and self.joint_negative is not None:
            if champion.score is None or challenger.score is None:
                raise StatsDataError("spec.challenger: roc_auc needs both models' score columns")
            is_positive = self._positive(target) > 0
            cell = _binned(champion.score, JOINT_BINS) * JOINT_BINS + _binned(challenger.score, JOINT_BINS)
            size = JOINT_BINS * JOINT_BINS
            self.joint_positive += np.bincount(cell[is_positive], minlength=size).reshape(JOINT_BINS, JOINT_BINS)
            self.joint_negative += np.bincount(cell[~is_positive], minlength=size).reshape(JOINT_BINS, JOINT_BINS)

    def add_unlabelled(self, champion: ModelOutputs, challenger: ModelOutputs) -> None:
        """Add rows without a label yet: they only feed the CBPE estimates (binary, with scores)."""
        if self.task != "binary-classification" or self.positive_class is None:
            return
        if (
            champion.score is None
            or challenger.score is None
            or champion.prediction is None
            or challenger.prediction is None
        ):
            return
        self.unlabelled_rows += len(champion.score)
        for total, outputs in zip(self.expected_correct, (champion, challenger), strict=True):
            assert outputs.score is not None and outputs.prediction is not None
            predicted_positive = as_text(outputs.prediction) == self.positive_class
            score = np.clip(np.asarray(outputs.score, dtype=np.float64), 0.0, 1.0)
            total.add(float(np.sum(np.where(predicted_positive, score, 1 - score))))

    def merge(self, other: PairedComparison) -> None:
        if (other.task, other.metrics, other.positive_class) != (self.task, self.metrics, self.positive_class):
            raise StateMismatchError("paired comparison states for different tasks, metrics or classes")
        self.labelled_rows += other.labelled_rows
        merge_cells(self.cells, other.cells)
        for loss, moments in self.losses.items():
            for mine, theirs in zip(moments, other.losses[loss], strict=True):
                mine.merge(theirs)
        if self.joint_positive is not None and other.joint_positive is not None:
            self.joint_positive += other.joint_positive
        if self.joint_negative is not None and other.joint_negative is not None:
            self.joint_negative += other.joint_negative
        self.unlabelled_rows += other.unlabelled_rows
        for mine_sum, theirs_sum in zip(self.expected_correct, other.expected_correct, strict=True):
            mine_sum.merge(theirs_sum)

    def _label_evidence(self, metric: str) -> MetricEvidence:
        rows = self.labelled_rows
        champion_only = sum(count for (y, a, b), count in self.cells.items() if a == y and b != y)
        challenger_only = sum(count for (y, a, b), count in self.cells.items() if a != y and b == y)
        champion_right = sum(count for (y, a, _), count in self.cells.items() if a == y)
        challenger_right = sum(count for (y, _, b), count in self.cells.items() if b == y)
        rule = self.rules[metric]
        if metric == "f1":
            keys = sorted(self.cells)
            counts = np.array([self.cells[key] for key in keys], dtype=np.float64)
            truth = [key[0] for key in keys]
            champion_cells = (counts, truth, [key[1] for key in keys])
            challenger_cells = (counts, truth, [key[2] for key in keys])
            positive = self.positive_class if self.task == "binary-classification" else None
            champion = float(f1_from_cells(counts[None, :], truth, champion_cells[2], positive)[0])
            challenger = float(f1_from_cells(counts[None, :], truth, challenger_cells[2], positive)[0])
            boot = bootstrap_f1_difference(champion_cells, challenger_cells, positive, counts.astype(np.int64))
            difference = challenger - champion
            p_value = (
                2 * (1 - _STANDARD_NORMAL.cdf(abs(difference) / boot.standard_error))
                if boot.standard_error > 0
                else 1.0
            )
            fixed = TestResult(difference, boot.standard_error, p_value, boot.low, boot.high)
            return MetricEvidence(
                metric, True, champion, challenger, fixed, "paired bootstrap", rows, boot.standard_error
            )
        fixed = exact_mcnemar(champion_only, challenger_only, rows)
        # Agresti–Min: half a row added to each cell of the paired 2x2 table before the variance.
        adjusted_rows = rows + 2
        adjusted_discordant = champion_only + challenger_only + 1
        shift = (challenger_only - champion_only) / adjusted_rows
        sequential_error = math.sqrt(max(adjusted_discordant / adjusted_rows - shift * shift, 0.0) / adjusted_rows)
        champion, challenger = champion_right / rows, challenger_right / rows
        if metric == "error_rate":
            return MetricEvidence(
                metric,
                rule.higher_is_better,
                1 - champion,
                1 - challenger,
                _scaled(fixed, -1.0),
                "exact McNemar",
                rows,
                sequential_error,
            )
        return MetricEvidence(
            metric, rule.higher_is_better, champion, challenger, fixed, "exact McNemar", rows, sequential_error
        )

    def _loss_evidence(self, metric: str) -> MetricEvidence:
        rule = self.rules[metric]
        assert rule.loss is not None
        champion_moments, challenger_moments, difference = self.losses[rule.loss]
        fixed = _test_from_moments(difference)
        champion, challenger = champion_moments.mean, challenger_moments.mean
        if metric == "rmse":
            champion, challenger = math.sqrt(champion), math.sqrt(challenger)
            # delta method: RMSE_b - RMSE_a = (MSE_b - MSE_a) / (RMSE_b + RMSE_a)
            total = champion + challenger
            scaled = _scaled(fixed, 1 / total) if total > 0 else fixed
            fixed = TestResult(challenger - champion, scaled.standard_error, scaled.p_value, scaled.low, scaled.high)
        return MetricEvidence(
            metric,
            rule.higher_is_better,
            champion,
            challenger,
            fixed,
            "paired t",
            difference.count,
            fixed.standard_error,
        )

    def _score_evidence(self, metric: str) -> MetricEvidence:
        assert self.joint_positive is not None and self.joint_negative is not None
        champion, challenger, fixed = delong_paired(self.joint_positive, self.joint_negative)
        return MetricEvidence(
            metric, True, champion, challenger, fixed, "DeLong", self.labelled_rows, fixed.standard_error
        )

    def evidence(self) -> list[MetricEvidence]:
        """Every requested metric's evidence so far (rows with labels only)."""
        if self.labelled_rows == 0:
            return []
        builders = {"labels": self._label_evidence, "loss": self._loss_evidence, "scores": self._score_evidence}
        return [builders[self.rules[metric].kind](metric) for metric in self.metrics]

    def estimated(self) -> list[EstimatedComparison]:
        if self.unlabelled_rows == 0:
            return []
        champion, challenger = (total.value / self.unlabelled_rows for total in self.expected_correct)
        return [EstimatedComparison("accuracy", champion, challenger, challenger - champion, self.unlabelled_rows)]

    def outcome(self, settings: ComparisonSettings) -> ComparisonOutcome:
        return conclude("shadow", self.evidence(), settings, self.labelled_rows, self.unlabelled_rows, self.estimated())

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "kind": "paired",
            "task": self.task,
            "metrics": self.metrics,
            "positiveClass": self.positive_class,
            "labelledRows": self.labelled_rows,
            "cells": cells_to_state(self.cells),
            "losses": {loss: [m.to_state() for m in moments] for loss, moments in self.losses.items()},
            "unlabelledRows": self.unlabelled_rows,
            "expectedCorrect": [total.to_state() for total in self.expected_correct],
        }
        if self.joint_positive is not None and self.joint_negative is not None:
            state["jointPositive"] = _sparse(self.joint_positive)
            state["jointNegative"] = _sparse(self.joint_negative)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PairedComparison:
        if state.get("kind") != "paired":
            raise StateMismatchError("not a paired comparison state")
        comparison = cls(state["task"], list(state["metrics"]), state.get("positiveClass"))
        comparison.labelled_rows = int(state["labelledRows"])
        comparison.cells = cells_from_state(state["cells"])
        for loss, moments in state["losses"].items():
            comparison.losses[loss] = tuple(Moments.from_state(item) for item in moments)  # type: ignore[assignment]
        comparison.unlabelled_rows = int(state["unlabelledRows"])
        first, second = state["expectedCorrect"]
        comparison.expected_correct = (CompensatedSum.from_state(first), CompensatedSum.from_state(second))
        if comparison.needs_scores:
            comparison.joint_positive = _dense(state["jointPositive"])
            comparison.joint_negative = _dense(state["jointNegative"])
        return comparison


def _sparse(matrix: IntArray) -> list[list[int]]:
    rows, columns = np.nonzero(matrix)
    return [[int(r), int(c), int(matrix[r, c])] for r, c in zip(rows.tolist(), columns.tolist(), strict=True)]


def _dense(cells: list[list[int]]) -> IntArray:
    matrix = np.zeros((JOINT_BINS, JOINT_BINS), dtype=np.int64)
    for row, column, count in cells:
        matrix[row, column] = count
    return matrix
