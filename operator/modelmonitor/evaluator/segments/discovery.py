"""Weak-slice discovery: the slices whose metric fell against the same slice of the reference, at a stated FDR.

No segment needs declaring: every candidate column (categorical values; numeric columns in quantile bins of
the reference) and, optionally, every pair of them splits the labelled rows into slices. For each slice and
metric the question is one-sided, "is it worse now than in the reference?":

- accuracy (classification): the pooled two-proportion z-test of the share of correct predictions,
  ``z = (p_ref - p_cur) / sqrt(p (1 - p) (1/n_ref + 1/n_cur))``, p-value ``P(Z >= z)``. Its square is
  Pearson's chi-square of the 2x2 table (``scipy.stats.chi2_contingency(correction=False)``), which the
  tests use as the independent reference;
- mae and rmse (regression): Welch's t-test that the mean absolute (or squared) error grew
  (``scipy.stats.ttest_ind_from_stats(equal_var=False, alternative='greater')``).

A slice is tested only when both sides have at least ``min_size`` labelled rows (normal approximations need
them; smaller slices are counted as untested). Benjamini–Hochberg then runs over every tested slice x
metric, and a slice is significant when its adjusted p-value (q-value) is at most the configured FDR. A
significant pair slice inside a significant one-column slice (``region=EU&age=[30,50)`` when ``region=EU``
itself fell) tells nothing new: it is counted (``explainedByOneColumn``) but not listed, so the list names
the causes rather than their many sub-slices; the rest are listed, the largest drop first. The FDR
guarantee is about the significant set; the list is that set without the explained sub-slices. Slices of
one column and of pairs overlap (a pair's rows are in both of its columns' slices): their statistics are
positively dependent, the case where BH keeps its guarantee (Benjamini & Yekutieli 2001, PRDS); the seeded
null simulations in ``tests/unit/evaluator/segments`` measure it.

The counts are mergeable (per-slice sums of rows, values and squared values in bincounts of slice codes,
so shards add up); float sums are merged by addition, exact for the integer counts of accuracy and to
rounding (~1e-15 relative) for error sums.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.segments.keys import Codes, Slicer, pair_name
from modelmonitor.evaluator.stats.columns import FloatArray, numeric_values, text_values
from modelmonitor.evaluator.stats.drift import adjust_p_values

__all__ = [
    "DiscoveryCounts",
    "SliceTest",
    "discover_weak_slices",
    "proportion_drop_p_values",
    "welch_increase_p_values",
]

DiscoveryMetric = Literal["accuracy", "mae", "rmse"]
#: Which metrics each kind of task is searched on, and whether higher is better.
_CLASSIFICATION: tuple[DiscoveryMetric, ...] = ("accuracy",)
_REGRESSION: tuple[DiscoveryMetric, ...] = ("mae", "rmse")


def _special() -> Any:
    import scipy.special

    return scipy.special


def proportion_drop_p_values(
    reference_hits: FloatArray, reference_rows: FloatArray, current_hits: FloatArray, current_rows: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """One-sided pooled two-proportion z-tests that the current share is lower: (z, p-value) per slice."""
    with np.errstate(divide="ignore", invalid="ignore"):
        reference_share = reference_hits / reference_rows
        current_share = current_hits / current_rows
        pooled = (reference_hits + current_hits) / (reference_rows + current_rows)
        error = np.sqrt(pooled * (1 - pooled) * (1 / reference_rows + 1 / current_rows))
        z = np.where(error > 0, (reference_share - current_share) / error, 0.0)
    p_values = np.asarray(_special().ndtr(-z), dtype=np.float64)
    return z, np.where(error > 0, p_values, 1.0)


def welch_increase_p_values(
    reference_mean: FloatArray,
    reference_variance: FloatArray,
    reference_rows: FloatArray,
    current_mean: FloatArray,
    current_variance: FloatArray,
    current_rows: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """One-sided Welch t-tests that the current mean is higher (variances with ddof=1): (t, p-value)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        reference_share = reference_variance / reference_rows
        current_share = current_variance / current_rows
        spread = reference_share + current_share
        t = np.where(spread > 0, (current_mean - reference_mean) / np.sqrt(spread), 0.0)
        freedom = spread**2 / (reference_share**2 / (reference_rows - 1) + current_share**2 / (current_rows - 1))
    freedom = np.where(np.isfinite(freedom) & (freedom > 0), freedom, 1.0)
    p_values = np.asarray(_special().stdtr(freedom, -t), dtype=np.float64)
    return t, np.where(spread > 0, p_values, 1.0)


class DiscoveryCounts:
    """Per slice (of every candidate column and pair) and metric: labelled rows, sum and sum of squares."""

    def __init__(self, slicers: Sequence[Slicer], classification: bool, pairs: bool) -> None:
        self.slicers = list(slicers)
        self.classification = classification
        self.metrics: tuple[DiscoveryMetric, ...] = _CLASSIFICATION if classification else _REGRESSION
        self.pairs: list[tuple[int, int]] = list(itertools.combinations(range(len(self.slicers)), 2)) if pairs else []
        self.sizes = [slicer.size for slicer in self.slicers] + [
            self.slicers[first].size * self.slicers[second].size for first, second in self.pairs
        ]
        # One block per slicer then per pair: rows [block], then per metric sum and sum of squares [block].
        self.rows = [np.zeros(size, dtype=np.float64) for size in self.sizes]
        self.sums = [np.zeros((len(self.metrics), 2, size), dtype=np.float64) for size in self.sizes]

    def update(self, batch: pa.RecordBatch, target: str | None, prediction: str | None) -> None:
        if not target or not prediction or target not in batch.schema.names or prediction not in batch.schema.names:
            return
        values, labelled = self._values(batch.column(target), batch.column(prediction), target)
        if not labelled.any():
            return
        codes = [slicer.codes(batch)[labelled] for slicer in self.slicers]
        combined = codes + [codes[first] * self.slicers[second].size + codes[second] for first, second in self.pairs]
        for block, block_codes in enumerate(combined):
            self._add(block, block_codes, values)

    def _values(self, target: pa.Array, prediction: pa.Array, name: str) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Per labelled row, each metric's per-row value (correct: 0/1; absolute and squared error)."""
        if self.classification:
            valid = pc.and_(pc.is_valid(target), pc.is_valid(prediction))
            labelled = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
            correct = pc.fill_null(pc.equal(text_values(target), text_values(prediction)), False)
            hits = np.asarray(correct.to_numpy(zero_copy_only=False), dtype=np.float64)[labelled]
            return hits[np.newaxis, :], labelled
        actual = numeric_values(target, name)
        predicted = numeric_values(prediction, name)
        labelled = np.isfinite(actual) & np.isfinite(predicted)
        errors = (predicted - actual)[labelled]
        return np.vstack([np.abs(errors), errors * errors]), labelled

    def _add(self, block: int, codes: Codes, values: FloatArray) -> None:
        size = self.sizes[block]
        self.rows[block] += np.bincount(codes, minlength=size)
        for position in range(len(self.metrics)):
            self.sums[block][position, 0] += np.bincount(codes, weights=values[position], minlength=size)
            self.sums[block][position, 1] += np.bincount(codes, weights=values[position] ** 2, minlength=size)

    def merge(self, other: DiscoveryCounts) -> None:
        for block in range(len(self.sizes)):
            self.rows[block] += other.rows[block]
            self.sums[block] += other.sums[block]

    def to_state(self) -> dict[str, Any]:
        return {"rows": [block.tolist() for block in self.rows], "sums": [block.tolist() for block in self.sums]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.rows = [np.asarray(block, dtype=np.float64) for block in state["rows"]]
        self.sums = [np.asarray(block, dtype=np.float64) for block in state["sums"]]

    def slice_names(self, block: int) -> list[str]:
        if block < len(self.slicers):
            slicer = self.slicers[block]
            return [slicer.name_of(code) for code in range(slicer.size)]
        first, second = (self.slicers[index] for index in self.pairs[block - len(self.slicers)])
        return [pair_name(first.name_of(a), second.name_of(b)) for a in range(first.size) for b in range(second.size)]

    def block_columns(self, block: int) -> list[str]:
        if block < len(self.slicers):
            return [self.slicers[block].column]
        return [self.slicers[index].column for index in self.pairs[block - len(self.slicers)]]


@dataclass(frozen=True)
class SliceTest:
    """One tested slice x metric."""

    slice: str
    columns: tuple[str, ...]
    metric: str
    reference_rows: int
    current_rows: int
    reference_value: float
    current_value: float
    statistic: float
    p_value: float
    q_value: float = math.nan

    @property
    def drop(self) -> float:
        """How much worse the slice got: points of accuracy lost, or the relative growth of an error."""
        if self.metric == "accuracy":
            return self.reference_value - self.current_value
        return self.current_value / self.reference_value - 1 if self.reference_value > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "columns": list(self.columns),
            "metric": self.metric,
            "reference": {"rows": self.reference_rows, "value": self.reference_value},
            "current": {"rows": self.current_rows, "value": self.current_value},
            "drop": self.drop,
            "statistic": self.statistic,
            "pValue": self.p_value,
            "qValue": self.q_value,
        }


def _tests_of_block(
    reference: DiscoveryCounts, current: DiscoveryCounts, block: int, min_size: int
) -> list[SliceTest]:
    names = current.slice_names(block)
    columns = tuple(current.block_columns(block))
    reference_rows, current_rows = reference.rows[block], current.rows[block]
    testable = np.flatnonzero((reference_rows >= min_size) & (current_rows >= min_size))
    if not len(testable):
        return []
    tests: list[SliceTest] = []
    for position, metric in enumerate(current.metrics):
        n_ref, n_cur = reference_rows[testable], current_rows[testable]
        ref_sum, ref_squares = (reference.sums[block][position, moment, testable] for moment in (0, 1))
        cur_sum, cur_squares = (current.sums[block][position, moment, testable] for moment in (0, 1))
        ref_mean, cur_mean = ref_sum / n_ref, cur_sum / n_cur
        if metric == "accuracy":
            statistic, p_values = proportion_drop_p_values(ref_sum, n_ref, cur_sum, n_cur)
            ref_value, cur_value = ref_mean, cur_mean
        else:
            ref_variance = np.maximum(ref_squares - ref_sum * ref_mean, 0.0) / (n_ref - 1)
            cur_variance = np.maximum(cur_squares - cur_sum * cur_mean, 0.0) / (n_cur - 1)
            statistic, p_values = welch_increase_p_values(ref_mean, ref_variance, n_ref, cur_mean, cur_variance,
                                                          n_cur)
            ref_value = ref_mean if metric == "mae" else np.sqrt(ref_mean)
            cur_value = cur_mean if metric == "mae" else np.sqrt(cur_mean)
        for index, slice_position in enumerate(testable):
            tests.append(SliceTest(
                slice=names[slice_position], columns=columns, metric=metric,
                reference_rows=int(n_ref[index]), current_rows=int(n_cur[index]),
                reference_value=float(ref_value[index]), current_value=float(cur_value[index]),
                statistic=float(statistic[index]), p_value=float(p_values[index]),
            ))
    return tests


@dataclass(frozen=True)
class Discovery:
    tested: int
    found: list[SliceTest]
    untested_slices: int
    #: Found pair slices inside a found one-column slice of the same metric (its rows are a part of it).
    explained: int = 0
    #: Every slice x metric BH kept (the set its FDR guarantee is about), listed or explained.
    significant: tuple[SliceTest, ...] = ()

    def to_dict(self, fdr: float, min_size: int) -> dict[str, Any]:
        return {
            "fdr": fdr,
            "minSize": min_size,
            "tested": self.tested,
            "untestedSlices": self.untested_slices,
            "significant": len(self.significant),
            "explainedByOneColumn": self.explained,
            "slices": [test.to_dict() for test in self.found],
        }


def discover_weak_slices(
    reference: DiscoveryCounts, current: DiscoveryCounts, *, fdr: float, min_size: int, max_slices: int
) -> Discovery:
    """Every testable slice x metric tested, BH at ``fdr``; the found ones, the largest drop first."""
    tests: list[SliceTest] = []
    untested = 0
    for block in range(len(current.sizes)):
        block_tests = _tests_of_block(reference, current, block, min_size)
        tests += block_tests
        present = int(np.count_nonzero(current.rows[block]))
        untested += max(present - len(block_tests) // max(len(current.metrics), 1), 0)
    if not tests:
        return Discovery(0, [], untested)
    adjusted = adjust_p_values([test.p_value for test in tests], "benjamini_hochberg")
    significant = [
        SliceTest(**{**test.__dict__, "q_value": q}) for test, q in zip(tests, adjusted, strict=True) if q <= fdr
    ]
    singles = {(test.slice, test.metric) for test in significant if len(test.columns) == 1}
    found = [test for test in significant if len(test.columns) == 1 or not any(
        (part, test.metric) in singles for part in test.slice.split("&"))]
    found.sort(key=lambda test: (-test.drop, test.p_value, test.slice))
    return Discovery(len(tests), found[:max_slices], untested, len(significant) - len(found), tuple(significant))
