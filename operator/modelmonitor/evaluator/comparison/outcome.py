"""From per-metric evidence to decisions: the comparison section of the result, in one typed place.

Each accumulator (paired for shadow traffic, split for A/B) reduces its state to ``MetricEvidence``: both
models' values, the fixed-sample test of this look, and the standard error the anytime interval scales.
``conclude`` turns those into ``MetricComparison`` records with the anytime interval, a decision per metric
and one overall decision (``sequential``), and the rows still needed while inconclusive. Estimates without
labels (CBPE) ride along in ``estimated`` and never produce a decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from modelmonitor.evaluator.comparison.fixed import TestResult
from modelmonitor.evaluator.comparison.sequential import (
    PLANNED_ROWS,
    Decision,
    Interval,
    confidence_sequence_multiplier,
    decide,
    overall_decision,
    rows_needed,
)
from modelmonitor.evaluator.stats.results import to_jsonable

__all__ = [
    "ComparisonOutcome",
    "ComparisonSettings",
    "EstimatedComparison",
    "MetricComparison",
    "MetricEvidence",
    "conclude",
]

Mode = Literal["shadow", "ab"]


@dataclass(frozen=True)
class ComparisonSettings:
    """The decision settings of ``spec.challenger``: overall alpha, smallest effect that matters, power."""

    alpha: float = 0.05
    min_effect: float = 0.0
    power: float = 0.8
    planned_rows: int = PLANNED_ROWS


@dataclass(frozen=True)
class MetricEvidence:
    """One metric's evidence after one look: values, the fixed-sample test, and the interval's standard error."""

    metric: str
    higher_is_better: bool
    champion: float
    challenger: float
    fixed: TestResult
    test: str
    rows: int
    sequential_error: float


@dataclass
class MetricComparison:
    """One metric compared: difference challenger - champion in the metric's units, intervals, decision."""

    metric: str
    higher_is_better: bool
    champion: float
    challenger: float
    difference: float
    rows: int
    test: str
    p_value: float
    fixed_interval: list[float]
    interval: list[float]
    decision: Decision
    rows_needed: int | None = None


@dataclass
class EstimatedComparison:
    """Performance estimated without labels (CBPE, calibrated-score assumption): information, not evidence."""

    metric: str
    champion: float
    challenger: float
    difference: float
    rows: int
    note: str = "estimated from scores without labels (CBPE, assumes calibrated scores); never a decision"


@dataclass
class ComparisonOutcome:
    """The ``comparison`` section of an evaluation result."""

    mode: Mode
    decision: Decision
    reason: str
    method: str
    alpha: float
    min_effect: float
    labelled_rows: int
    unlabelled_rows: int
    metrics: list[MetricComparison] = field(default_factory=list)
    estimated: list[EstimatedComparison] = field(default_factory=list)
    rows_needed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(to_jsonable(self))


METHOD = (
    "anytime-valid asymptotic confidence sequence (normal mixture; Waudby-Smith et al. 2024, "
    "Howard et al. 2021), alpha split equally over metrics"
)


def _compare(evidence: MetricEvidence, settings: ComparisonSettings, alpha: float) -> MetricComparison:
    difference = evidence.fixed.difference
    half = evidence.sequential_error * confidence_sequence_multiplier(evidence.rows, alpha, settings.planned_rows)
    interval = Interval(difference - half, difference + half)
    sign = 1.0 if evidence.higher_is_better else -1.0
    improvement = Interval(
        min(sign * interval.low, sign * interval.high), max(sign * interval.low, sign * interval.high)
    )
    decision = decide(improvement, settings.min_effect, evidence.rows)
    needed = None
    if decision == "inconclusive":
        needed = rows_needed(
            sign * difference if math.isfinite(difference) else math.nan,
            evidence.sequential_error,
            evidence.rows,
            alpha=alpha,
            min_effect=settings.min_effect,
            power=settings.power,
            planned_rows=settings.planned_rows,
        )
    return MetricComparison(
        metric=evidence.metric,
        higher_is_better=evidence.higher_is_better,
        champion=evidence.champion,
        challenger=evidence.challenger,
        difference=difference,
        rows=evidence.rows,
        test=evidence.test,
        p_value=evidence.fixed.p_value,
        fixed_interval=[evidence.fixed.low, evidence.fixed.high],
        interval=[interval.low, interval.high],
        decision=decision,
        rows_needed=needed,
    )


def conclude(
    mode: Mode,
    evidence: list[MetricEvidence],
    settings: ComparisonSettings,
    labelled_rows: int,
    unlabelled_rows: int,
    estimated: list[EstimatedComparison],
) -> ComparisonOutcome:
    """Decide every metric at alpha / len(metrics) and combine (any worse: worse; any open: inconclusive)."""
    alpha = settings.alpha / max(len(evidence), 1)
    metrics = [_compare(item, settings, alpha) for item in evidence]
    decision = overall_decision([metric.decision for metric in metrics])
    open_rows = [metric.rows_needed for metric in metrics if metric.decision == "inconclusive"]
    needed = (
        None if not open_rows or any(rows is None for rows in open_rows) else max(r for r in open_rows if r is not None)
    )
    if labelled_rows == 0:
        reason = "no labelled rows yet" + ("; CBPE estimates shown, not a decision" if estimated else "")
    elif decision == "inconclusive":
        reason = "evidence does not yet separate the models" + (
            f"; about {needed} more labelled rows expected to decide" if needed is not None else ""
        )
    else:
        reason = ", ".join(f"{metric.metric}: {metric.decision}" for metric in metrics)
    return ComparisonOutcome(
        mode=mode,
        decision=decision,
        reason=reason,
        method=METHOD,
        alpha=settings.alpha,
        min_effect=settings.min_effect,
        labelled_rows=labelled_rows,
        unlabelled_rows=unlabelled_rows,
        metrics=metrics,
        estimated=estimated,
        rows_needed=needed,
    )
