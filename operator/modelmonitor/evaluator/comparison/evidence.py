"""The building blocks of comparison evidence: which metrics compare how, per-row losses, mergeable moments.

Every piece merges exactly (integer counts, or float sums in double-double via ``stats.exact``) and
serialises to JSON, so evidence from shards, windows and successive runs adds up to the evidence of one pass
over all the rows. A metric is compared in one of three ways: from label cell counts (accuracy, error rate,
F1), from per-row loss moments (log loss, Brier, MAE, MSE, RMSE — RMSE from the MSE moments by the delta
method), or from score histograms (ROC AUC, DeLong).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from modelmonitor.evaluator.stats.errors import StatsConfigError
from modelmonitor.evaluator.stats.exact import CompensatedSum

__all__ = [
    "COMPARABLE_METRICS",
    "MetricKind",
    "MetricRule",
    "Moments",
    "as_text",
    "count_cells",
    "metric_rule",
    "row_losses",
]

MetricKind = Literal["labels", "loss", "scores"]
Task = Literal["binary-classification", "multiclass-classification", "regression"]
FloatArray = npt.NDArray[np.float64]
_EPSILON = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class MetricRule:
    """How a metric is compared: its kind, whether higher is better, and the tasks it applies to."""

    kind: MetricKind
    higher_is_better: bool
    tasks: tuple[str, ...]
    loss: str | None = None


_CLASSIFICATION = ("binary-classification", "multiclass-classification")
COMPARABLE_METRICS: dict[str, MetricRule] = {
    "accuracy": MetricRule("labels", True, _CLASSIFICATION),
    "error_rate": MetricRule("labels", False, _CLASSIFICATION),
    "f1": MetricRule("labels", True, _CLASSIFICATION),
    "roc_auc": MetricRule("scores", True, ("binary-classification",)),
    "log_loss": MetricRule("loss", False, ("binary-classification",), "log_loss"),
    "brier": MetricRule("loss", False, ("binary-classification",), "brier"),
    "mae": MetricRule("loss", False, ("regression",), "absolute_error"),
    "mse": MetricRule("loss", False, ("regression",), "squared_error"),
    "rmse": MetricRule("loss", False, ("regression",), "squared_error"),
}


def metric_rule(metric: str, task: str) -> MetricRule:
    """The rule of a comparable metric for a task, or a config error naming ``spec.challenger.metrics``."""
    rule = COMPARABLE_METRICS.get(metric)
    if rule is None:
        known = ", ".join(sorted(COMPARABLE_METRICS))
        raise StatsConfigError(f"spec.challenger.metrics: {metric!r} cannot be compared (one of: {known})")
    if task not in rule.tasks:
        raise StatsConfigError(f"spec.challenger.metrics: {metric!r} does not apply to a {task} model")
    return rule


def row_losses(loss: str, target: FloatArray, value: FloatArray) -> FloatArray:
    """Per-row loss; for the binary losses ``target`` is 1.0 for the positive class and ``value`` a probability."""
    if loss == "log_loss":
        probability = np.clip(value, _EPSILON, 1 - _EPSILON)
        return np.asarray(-(target * np.log(probability) + (1 - target) * np.log1p(-probability)))
    if loss == "brier":
        return np.asarray((value - target) ** 2)
    if loss == "absolute_error":
        return np.asarray(np.abs(target - value))
    if loss == "squared_error":
        return np.asarray((target - value) ** 2)
    raise ValueError(f"unknown loss {loss!r}")


class Moments:
    """Count, sum and sum of squares of a stream of numbers, merged exactly."""

    __slots__ = ("count", "squares", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = CompensatedSum()
        self.squares = CompensatedSum()

    def add(self, values: FloatArray) -> None:
        if len(values) == 0:
            return
        self.count += len(values)
        self.total.add(float(np.sum(values)))
        self.squares.add(float(np.sum(values * values)))

    def merge(self, other: Moments) -> None:
        self.count += other.count
        self.total.merge(other.total)
        self.squares.merge(other.squares)

    @property
    def mean(self) -> float:
        return self.total.value / self.count if self.count else math.nan

    @property
    def variance(self) -> float:
        """The unbiased sample variance (NaN below two values)."""
        if self.count < 2:
            return math.nan
        centred = self.squares.value - self.total.value * self.total.value / self.count
        return max(centred, 0.0) / (self.count - 1)

    def to_state(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total.to_state(), "squares": self.squares.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Moments:
        moments = cls()
        moments.count = int(state["count"])
        moments.total = CompensatedSum.from_state(state["total"])
        moments.squares = CompensatedSum.from_state(state["squares"])
        return moments


def as_text(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Labels as text for comparison: arrays of Python strings (what the evaluator passes) are used as they are;
    anything else (numbers in tests and notebooks) is converted, 1 -> "1"."""
    array = np.asarray(values)
    return array if array.dtype == object else array.astype(str)


def count_cells(*columns: npt.NDArray[Any]) -> dict[tuple[str, ...], int]:
    """Counts of each distinct combination of the (text) values in the given equal-length columns."""
    if len(columns[0]) == 0:
        return {}
    texts = [np.asarray(column).astype(str) for column in columns]
    labels, codes = np.unique(np.concatenate(texts), return_inverse=True)
    width = len(labels)
    parts = np.split(codes.astype(np.int64), len(texts))
    combined = np.zeros(len(texts[0]), dtype=np.int64)
    for part in parts:
        combined = combined * width + part
    keys, counts = np.unique(combined, return_counts=True)
    cells: dict[tuple[str, ...], int] = {}
    for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
        decoded = []
        for _ in texts:
            key, code = divmod(key, width)
            decoded.append(str(labels[code]))
        cells[tuple(reversed(decoded))] = int(count)
    return cells


def merge_cells(into: dict[tuple[str, ...], int], other: dict[tuple[str, ...], int]) -> None:
    """Add the counts of ``other`` to ``into``."""
    for key, count in other.items():
        into[key] = into.get(key, 0) + count


def cells_to_state(cells: dict[tuple[str, ...], int]) -> list[list[Any]]:
    return [[*key, count] for key, count in sorted(cells.items())]


def cells_from_state(state: list[list[Any]]) -> dict[tuple[str, ...], int]:
    return {tuple(str(part) for part in row[:-1]): int(row[-1]) for row in state}
