"""A/B comparison: each request was served by one model (a column names the variant), so tests are unpaired.

Each arm keeps the same kind of exact, mergeable state as a single evaluation: (label, prediction) cell
counts for accuracy / error rate / F1, double-double moments of per-row losses, score histograms on an
``ARM_BINS`` grid for ROC AUC. The arms are compared with the two-proportion test (accuracy, error rate),
Welch's t (losses; RMSE by the delta method from the MSE), DeLong's variance per arm (AUC, independent
arms) and a per-arm bootstrap (F1). The anytime interval uses the total labelled rows of both arms as its
clock, with the unpaired standard error (Agresti–Caffo's one success and one failure added per arm for
proportions, so an arm without errors yet does not give a zero-width interval). Rows of other variants are
counted and ignored.
"""

from __future__ import annotations

import math
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
    delong_single,
    f1_from_cells,
    two_proportions,
    welch,
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

__all__ = ["ARM_BINS", "ArmEvidence", "SplitComparison"]

ARM_BINS = 1000
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_STANDARD_NORMAL = NormalDist()


class ArmEvidence:
    """One arm's (one model's) mergeable state."""

    def __init__(self, losses: list[str], scores: bool) -> None:
        self.labelled_rows = 0
        self.cells: dict[tuple[str, ...], int] = {}
        self.losses = {loss: Moments() for loss in losses}
        self.positive = np.zeros(ARM_BINS, dtype=np.int64) if scores else None
        self.negative = np.zeros(ARM_BINS, dtype=np.int64) if scores else None
        self.unlabelled_rows = 0
        self.expected_correct = CompensatedSum()

    def merge(self, other: ArmEvidence) -> None:
        self.labelled_rows += other.labelled_rows
        merge_cells(self.cells, other.cells)
        for loss, moments in self.losses.items():
            moments.merge(other.losses[loss])
        if self.positive is not None and other.positive is not None:
            self.positive += other.positive
        if self.negative is not None and other.negative is not None:
            self.negative += other.negative
        self.unlabelled_rows += other.unlabelled_rows
        self.expected_correct.merge(other.expected_correct)

    def correct(self) -> int:
        return sum(count for (truth, predicted), count in self.cells.items() if truth == predicted)

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "labelledRows": self.labelled_rows,
            "cells": cells_to_state(self.cells),
            "losses": {loss: moments.to_state() for loss, moments in self.losses.items()},
            "unlabelledRows": self.unlabelled_rows,
            "expectedCorrect": self.expected_correct.to_state(),
        }
        if self.positive is not None and self.negative is not None:
            state["positive"] = [[int(i), int(self.positive[i])] for i in np.flatnonzero(self.positive)]
            state["negative"] = [[int(i), int(self.negative[i])] for i in np.flatnonzero(self.negative)]
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], losses: list[str], scores: bool) -> ArmEvidence:
        arm = cls(losses, scores)
        arm.labelled_rows = int(state["labelledRows"])
        arm.cells = cells_from_state(state["cells"])
        arm.losses = {loss: Moments.from_state(state["losses"][loss]) for loss in losses}
        arm.unlabelled_rows = int(state["unlabelledRows"])
        arm.expected_correct = CompensatedSum.from_state(state["expectedCorrect"])
        if arm.positive is not None and arm.negative is not None:
            for index, count in state["positive"]:
                arm.positive[index] = count
            for index, count in state["negative"]:
                arm.negative[index] = count
        return arm


def _normal_test(difference: float, standard_error: float) -> TestResult:
    if not standard_error > 0:
        return TestResult(difference, standard_error, 1.0 if difference == 0 else math.nan, difference, difference)
    half = _STANDARD_NORMAL.inv_cdf(0.975) * standard_error
    p_value = 2 * (1 - _STANDARD_NORMAL.cdf(abs(difference) / standard_error))
    return TestResult(difference, standard_error, p_value, difference - half, difference + half)


class SplitComparison:
    """Mergeable evidence from traffic split between champion and challenger by a variant column."""

    def __init__(
        self,
        task: str,
        metrics: list[str],
        champion_variant: str,
        challenger_variant: str,
        positive_class: str | None = None,
    ) -> None:
        self.task = task
        self.metrics = list(metrics)
        self.positive_class = positive_class
        self.variants = (champion_variant, challenger_variant)
        self.rules = {metric: metric_rule(metric, task) for metric in self.metrics}
        self.loss_names = sorted({rule.loss for rule in self.rules.values() if rule.loss is not None})
        self.needs_scores = any(rule.kind == "scores" for rule in self.rules.values())
        self.arms = (ArmEvidence(self.loss_names, self.needs_scores), ArmEvidence(self.loss_names, self.needs_scores))
        self.other_rows = 0

    def _positive(self, target: npt.NDArray[Any]) -> FloatArray:
        if self.positive_class is None:
            raise StatsDataError("spec.challenger: binary comparison needs the positive class")
        return np.asarray(as_text(target) == self.positive_class, dtype=np.float64)

    def _arm_rows(self, variant: npt.NDArray[Any]) -> list[npt.NDArray[np.bool_]]:
        text = as_text(variant)
        masks = [text == name for name in self.variants]
        self.other_rows += int(len(text) - masks[0].sum() - masks[1].sum())
        return masks

    def add_labelled(
        self,
        variant: npt.NDArray[Any],
        target: npt.NDArray[Any],
        prediction: npt.NDArray[Any] | None,
        score: FloatArray | None,
        *,
        cells: dict[tuple[str, ...], int] | None = None,
    ) -> None:
        """Add labelled rows; ``prediction`` and ``score`` are those of whichever model served the row.

        ``cells`` may carry the (variant, label, prediction) counts of these rows when the caller has them.
        """
        is_binary = self.task == "binary-classification"
        for arm, name, rows in zip(self.arms, self.variants, self._arm_rows(variant), strict=True):
            if not rows.any():
                continue
            arm_target = np.asarray(target)[rows]
            arm.labelled_rows += len(arm_target)
            if any(rule.kind == "labels" for rule in self.rules.values()):
                if prediction is None:
                    raise StatsDataError("spec.challenger: label metrics need the prediction column")
                if cells is not None:
                    counted = {key[1:]: count for key, count in cells.items() if key[0] == name}
                else:
                    counted = count_cells(arm_target, np.asarray(prediction)[rows])
                merge_cells(arm.cells, counted)
            for loss, moments in arm.losses.items():
                values = score if is_binary else prediction
                if values is None:
                    raise StatsDataError(
                        f"spec.challenger: {loss} needs the {'score' if is_binary else 'prediction'} column"
                    )
                truth = self._positive(arm_target) if is_binary else np.asarray(arm_target, dtype=np.float64)
                moments.add(row_losses(loss, truth, np.asarray(values, dtype=np.float64)[rows]))
            if arm.positive is not None and arm.negative is not None:
                if score is None:
                    raise StatsDataError("spec.challenger: roc_auc needs the score column")
                bins = np.clip((np.nan_to_num(np.asarray(score)[rows]) * ARM_BINS).astype(np.intp), 0, ARM_BINS - 1)
                is_positive = self._positive(arm_target) > 0
                arm.positive += np.bincount(bins[is_positive], minlength=ARM_BINS)
                arm.negative += np.bincount(bins[~is_positive], minlength=ARM_BINS)

    def add_unlabelled(
        self, variant: npt.NDArray[Any], prediction: npt.NDArray[Any] | None, score: FloatArray | None
    ) -> None:
        """Rows without a label yet: only the CBPE estimates (binary, with scores and predictions)."""
        masks = self._arm_rows(variant)
        if self.task != "binary-classification" or prediction is None or score is None or self.positive_class is None:
            return
        for arm, rows in zip(self.arms, masks, strict=True):
            predicted_positive = as_text(np.asarray(prediction)[rows]) == self.positive_class
            values = np.clip(np.asarray(score, dtype=np.float64)[rows], 0.0, 1.0)
            arm.unlabelled_rows += int(rows.sum())
            arm.expected_correct.add(float(np.sum(np.where(predicted_positive, values, 1 - values))))

    def merge(self, other: SplitComparison) -> None:
        if (other.task, other.metrics, other.variants, other.positive_class) != (
            self.task,
            self.metrics,
            self.variants,
            self.positive_class,
        ):
            raise StateMismatchError("split comparison states for different tasks, metrics, variants or classes")
        for mine, theirs in zip(self.arms, other.arms, strict=True):
            mine.merge(theirs)
        self.other_rows += other.other_rows

    def _evidence(self, metric: str) -> MetricEvidence:
        rule = self.rules[metric]
        champion_arm, challenger_arm = self.arms
        rows = champion_arm.labelled_rows + challenger_arm.labelled_rows
        if metric in ("accuracy", "error_rate"):
            first = (champion_arm.correct(), champion_arm.labelled_rows)
            second = (challenger_arm.correct(), challenger_arm.labelled_rows)
            fixed = two_proportions(first, second)
            adjusted = [(right + 1) / (count + 2) for right, count in (first, second)]
            error = math.sqrt(
                sum(p * (1 - p) / (count + 2) for p, (_, count) in zip(adjusted, (first, second), strict=True))
            )
            champion, challenger = first[0] / first[1], second[0] / second[1]
            if metric == "error_rate":
                fixed = TestResult(-fixed.difference, fixed.standard_error, fixed.p_value, -fixed.high, -fixed.low)
                champion, challenger = 1 - champion, 1 - challenger
            return MetricEvidence(
                metric, rule.higher_is_better, champion, challenger, fixed, "two-proportion z", rows, error
            )
        if metric == "f1":
            positive = self.positive_class if self.task == "binary-classification" else None
            tables = []
            for arm in self.arms:
                keys = sorted(arm.cells)
                counts = np.array([arm.cells[key] for key in keys], dtype=np.float64)
                tables.append((counts, [key[0] for key in keys], [key[1] for key in keys]))
            champion, challenger = (float(f1_from_cells(c[None, :], t, p, positive)[0]) for c, t, p in tables)
            boot = bootstrap_f1_difference(tables[0], tables[1], positive, None)
            difference = challenger - champion
            fixed = _normal_test(difference, boot.standard_error)
            fixed = TestResult(difference, boot.standard_error, fixed.p_value, boot.low, boot.high)
            return MetricEvidence(metric, True, champion, challenger, fixed, "bootstrap", rows, boot.standard_error)
        if rule.kind == "scores":
            assert champion_arm.positive is not None and champion_arm.negative is not None
            assert challenger_arm.positive is not None and challenger_arm.negative is not None
            champion, champion_variance = delong_single(champion_arm.positive, champion_arm.negative)
            challenger, challenger_variance = delong_single(challenger_arm.positive, challenger_arm.negative)
            fixed = _normal_test(challenger - champion, math.sqrt(champion_variance + challenger_variance))
            return MetricEvidence(
                metric, True, champion, challenger, fixed, "DeLong (independent arms)", rows, fixed.standard_error
            )
        assert rule.loss is not None
        first_moments, second_moments = (arm.losses[rule.loss] for arm in self.arms)
        if first_moments.count < 2 or second_moments.count < 2:
            nan = math.nan
            fixed = TestResult(nan, nan, nan, nan, nan)
            return MetricEvidence(metric, False, first_moments.mean, second_moments.mean, fixed, "Welch t", rows, nan)
        fixed, _, _ = welch(
            (first_moments.count, first_moments.mean, first_moments.variance),
            (second_moments.count, second_moments.mean, second_moments.variance),
        )
        champion, challenger = first_moments.mean, second_moments.mean
        if metric == "rmse":
            champion, challenger = math.sqrt(champion), math.sqrt(challenger)
            factor = 1 / (champion + challenger) if champion + challenger > 0 else 1.0
            fixed = TestResult(
                challenger - champion,
                fixed.standard_error * factor,
                fixed.p_value,
                fixed.low * factor,
                fixed.high * factor,
            )
        return MetricEvidence(metric, False, champion, challenger, fixed, "Welch t", rows, fixed.standard_error)

    def evidence(self) -> list[MetricEvidence]:
        if min(arm.labelled_rows for arm in self.arms) < 2:
            return []
        return [self._evidence(metric) for metric in self.metrics]

    def estimated(self) -> list[EstimatedComparison]:
        if min(arm.unlabelled_rows for arm in self.arms) == 0:
            return []
        champion, challenger = (arm.expected_correct.value / arm.unlabelled_rows for arm in self.arms)
        rows = sum(arm.unlabelled_rows for arm in self.arms)
        return [EstimatedComparison("accuracy", champion, challenger, challenger - champion, rows)]

    def outcome(self, settings: ComparisonSettings) -> ComparisonOutcome:
        labelled = sum(arm.labelled_rows for arm in self.arms)
        unlabelled = sum(arm.unlabelled_rows for arm in self.arms)
        return conclude("ab", self.evidence(), settings, labelled, unlabelled, self.estimated())

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "split",
            "task": self.task,
            "metrics": self.metrics,
            "positiveClass": self.positive_class,
            "variants": list(self.variants),
            "otherRows": self.other_rows,
            "arms": [arm.to_state() for arm in self.arms],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SplitComparison:
        if state.get("kind") != "split":
            raise StateMismatchError("not a split (A/B) comparison state")
        champion_variant, challenger_variant = state["variants"]
        comparison = cls(
            state["task"], list(state["metrics"]), champion_variant, challenger_variant, state.get("positiveClass")
        )
        comparison.other_rows = int(state["otherRows"])
        first, second = (
            ArmEvidence.from_state(arm, comparison.loss_names, comparison.needs_scores) for arm in state["arms"]
        )
        comparison.arms = (first, second)
        return comparison
