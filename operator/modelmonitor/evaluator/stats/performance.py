"""Realised model quality from mergeable counts and sums: confusion matrix, log loss, Brier, binned AUC, errors.

Everything exact is computed from integer counts or from per-batch float sums merged exactly (``exact``),
and matches scikit-learn to ~1e-12. ROC AUC and average precision are computed from score histograms on a
fixed grid of ``SCORE_BINS`` bins over [0, 1] (scores outside are clipped into the end bins). Pairs of a
positive and a negative whose scores fall in the same bin count one half, like a tie; the true AUC
differs from the binned one by at most half the share of such pairs, ``0.5 * sum(pos_b * neg_b) / (P * N)``,
which is reported as the bound (zero when scores take at most one value per bin). The bound of the binned
average precision takes, in each bin, the extreme precisions the unseen order within the bin allows.
Conventions follow scikit-learn: probabilities clipped to [eps, 1 - eps] in log loss, MAPE divides by
max(|y|, eps), R² is 1 (perfect) or 0 when the target is constant, undefined precision / recall are 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelmonitor.evaluator.stats.columns import FloatArray, text_values
from modelmonitor.evaluator.stats.errors import StateMismatchError
from modelmonitor.evaluator.stats.exact import CompensatedSum

__all__ = [
    "SCORE_BINS",
    "ClassificationState",
    "RegressionState",
    "binned_average_precision",
    "binned_roc_auc",
    "classification_metrics_from_confusion",
    "score_bins",
]

SCORE_BINS = 10_000
_EPSILON = float(np.finfo(np.float64).eps)
IntArray = npt.NDArray[np.int64]


def score_bins(scores: FloatArray, bins: int = SCORE_BINS) -> npt.NDArray[np.intp]:
    """The grid bin of each score in [0, 1]: floor(score * bins), with 1.0 (and above) in the last bin."""
    return np.clip((scores * bins).astype(np.intp), 0, bins - 1)


def binned_roc_auc(positive: IntArray, negative: IntArray) -> tuple[float, float]:
    """ROC AUC and its bound from per-bin counts of positives and negatives (ascending score)."""
    positives, negatives = int(positive.sum()), int(negative.sum())
    if positives == 0 or negatives == 0:
        return math.nan, math.nan
    negatives_below = np.cumsum(negative) - negative
    pairs = positives * negatives
    ordered = float(np.dot(positive.astype(np.float64), negatives_below.astype(np.float64)))
    tied = float(np.dot(positive.astype(np.float64), negative.astype(np.float64)))
    return (ordered + 0.5 * tied) / pairs, 0.5 * tied / pairs


def binned_average_precision(positive: IntArray, negative: IntArray) -> tuple[float, float]:
    """Average precision (scikit-learn's PR AUC) and its bound from per-bin counts."""
    positives = int(positive.sum())
    if positives == 0:
        return math.nan, math.nan
    occupied = positive > 0
    true_above = (np.cumsum(positive[::-1])[::-1] - positive).astype(np.float64)[occupied]
    false_above = (np.cumsum(negative[::-1])[::-1] - negative).astype(np.float64)[occupied]
    in_bin_positive = positive[occupied].astype(np.float64)
    in_bin_negative = negative[occupied].astype(np.float64)
    true_at = true_above + in_bin_positive
    precision = true_at / (true_at + false_above + in_bin_negative)
    lowest = (true_above + 1) / (true_above + 1 + false_above + in_bin_negative)
    highest = true_at / (true_at + false_above)
    recall_step = in_bin_positive / positives
    value = float(np.sum(recall_step * precision))
    error = np.maximum(highest - precision, precision - lowest)
    return value, float(np.sum(recall_step * error))


def classification_metrics_from_confusion(
    labels: list[str], matrix: IntArray, positive_class: str | None
) -> dict[str, float]:
    """Accuracy, precision / recall / F1 of the positive class (binary) and their macro and weighted means.

    ``matrix[i, j]`` counts rows whose actual label is ``labels[i]`` and predicted ``labels[j]``.
    """
    total = int(matrix.sum())
    if total == 0:
        return {}
    true_positive = np.diag(matrix).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)

    def divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    precision = divide(true_positive, predicted)
    recall = divide(true_positive, actual)
    f1 = divide(2 * true_positive, actual + predicted)
    metrics = {"accuracy": float(true_positive.sum() / total)}
    if positive_class is not None:
        if positive_class in labels:
            index = labels.index(positive_class)
            metrics.update(
                precision=float(precision[index]), recall=float(recall[index]), f1=float(f1[index])
            )
        else:
            metrics.update(precision=0.0, recall=0.0, f1=0.0)
    weights = actual / actual.sum()
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        metrics[f"macro_{name}"] = float(values.mean())
        metrics[f"weighted_{name}"] = float(np.dot(values, weights))
    return metrics


class _EncodedLabels:
    """A label column as integer codes (-1 where null) and the text of each code.

    Encoding the raw values (integers, say) and converting only the few distinct ones to text is much
    cheaper than casting every value to a string; text is still what labels are compared as.
    """

    def __init__(self, array: pa.Array) -> None:
        encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
        self.texts: list[str] = [str(text) for text in text_values(encoded.dictionary).to_pylist()]
        self.codes: npt.NDArray[np.int64] = np.asarray(
            pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64
        )

    def is_label(self, label: str | None) -> npt.NDArray[np.bool_]:
        matches = [code for code, text in enumerate(self.texts) if text == label]
        if len(matches) == 1:
            return np.asarray(self.codes == matches[0])
        return np.isin(self.codes, matches) if matches else np.zeros(len(self.codes), dtype=bool)


class ClassificationState:
    """Confusion counts, loss sums and score histograms of a classifier on the rows seen so far.

    Rows without a label still feed ``predicted_*_histogram`` (binary): the confidence-based estimate of
    performance needs exactly those.
    """

    def __init__(self, positive_class: str | None, bins: int = SCORE_BINS) -> None:
        self.positive_class = positive_class
        self.bins = bins
        self.confusion: dict[str, dict[str, int]] = {}
        self.rows = 0
        self.labelled = 0
        self.unpredicted = 0
        self.log_loss_sum = CompensatedSum()
        self.log_loss_rows = 0
        self.brier_sum = CompensatedSum()
        self.scored_rows = 0
        self.out_of_range_scores = 0  # finite scores outside [0, 1]: left out of every score metric
        self.positive_histogram = np.zeros(bins, dtype=np.int64)
        self.negative_histogram = np.zeros(bins, dtype=np.int64)
        self.predicted_positive_histogram = np.zeros(bins, dtype=np.int64)
        self.predicted_negative_histogram = np.zeros(bins, dtype=np.int64)

    def update(
        self,
        target: pa.Array | None,
        prediction: pa.Array,
        score: FloatArray | None = None,
        class_scores: dict[str, FloatArray] | None = None,
    ) -> None:
        """One batch: ``target`` null where the label has not arrived; labels of any type, compared as text."""
        rows = len(prediction)
        self.rows += rows
        predicted = _EncodedLabels(prediction)
        actual = _EncodedLabels(target if target is not None else pa.nulls(rows, pa.string()))
        predicted_valid = predicted.codes >= 0
        self.unpredicted += rows - int(predicted_valid.sum())
        labelled = actual.codes >= 0
        self.labelled += int(labelled.sum())
        self._count_pairs(actual, predicted, labelled & predicted_valid)
        if self.positive_class is not None and score is not None:
            self._update_binary_scores(actual, predicted, score, labelled, predicted_valid)
        if class_scores:
            self._update_multiclass_loss(actual, class_scores, labelled)

    def _count_pairs(
        self, actual: _EncodedLabels, predicted: _EncodedLabels, evaluable: npt.NDArray[np.bool_]
    ) -> None:
        if not evaluable.any():
            return
        width = len(predicted.texts)
        codes = actual.codes[evaluable] * width + predicted.codes[evaluable]
        pair_counts = np.bincount(codes, minlength=len(actual.texts) * width)
        for code in np.flatnonzero(pair_counts):
            row = self.confusion.setdefault(actual.texts[code // width], {})
            label = predicted.texts[code % width]
            row[label] = row.get(label, 0) + int(pair_counts[code])

    def _update_binary_scores(
        self,
        actual: _EncodedLabels,
        predicted: _EncodedLabels,
        score: FloatArray,
        labelled: npt.NDArray[np.bool_],
        predicted_valid: npt.NDArray[np.bool_],
    ) -> None:
        # A score is a probability: one outside [0, 1] is left out of every score metric (roc_auc, pr_auc,
        # log_loss, brier, the estimated performance) alike, and counted, rather than clipped for some.
        finite = np.isfinite(score)
        scored = finite & (score >= 0.0) & (score <= 1.0)
        self.out_of_range_scores += int((finite & ~scored).sum())
        is_positive = actual.is_label(self.positive_class)
        predicted_positive = predicted.is_label(self.positive_class)
        bins = score_bins(np.where(scored, score, 0.0), self.bins)
        with_prediction = scored & predicted_valid
        self.predicted_positive_histogram += np.bincount(
            bins[with_prediction & predicted_positive], minlength=self.bins
        )
        self.predicted_negative_histogram += np.bincount(
            bins[with_prediction & ~predicted_positive], minlength=self.bins
        )
        usable = scored & labelled
        self.scored_rows += int(usable.sum())
        positive_rows, negative_rows = usable & is_positive, usable & ~is_positive
        self.positive_histogram += np.bincount(bins[positive_rows], minlength=self.bins)
        self.negative_histogram += np.bincount(bins[negative_rows], minlength=self.bins)
        clipped = np.clip(score, _EPSILON, 1 - _EPSILON)
        clipped_complement = np.clip(1 - score, _EPSILON, 1 - _EPSILON)
        losses = np.where(is_positive, -np.log(clipped), -np.log(clipped_complement))
        self.log_loss_sum.add(float(losses[usable].sum()))
        self.log_loss_rows += int(usable.sum())
        errors = score[usable] - is_positive[usable]
        self.brier_sum.add(float(np.dot(errors, errors)))

    def _update_multiclass_loss(
        self, actual: _EncodedLabels, class_scores: dict[str, FloatArray], labelled: npt.NDArray[np.bool_]
    ) -> None:
        classes = sorted(class_scores)
        position = {name: index for index, name in enumerate(classes)}
        lookup = np.array([position.get(text, -1) for text in actual.texts] + [-1], dtype=np.int64)
        index = lookup[actual.codes]  # code -1 (no label) takes the appended -1
        matrix = np.column_stack([class_scores[name] for name in classes])
        usable = labelled & (index >= 0)
        rows = np.flatnonzero(usable)
        probabilities = matrix[rows, index[rows]]
        finite = np.isfinite(probabilities)
        losses = -np.log(np.clip(probabilities[finite], _EPSILON, 1 - _EPSILON))
        self.log_loss_sum.add(float(losses.sum()))
        self.log_loss_rows += int(finite.sum())

    def confusion_matrix(self, labels_hint: list[str] | None = None) -> tuple[list[str], IntArray]:
        """Labels (the hint's order first, then any others sorted) and the matrix of counts."""
        seen = set(self.confusion) | {label for row in self.confusion.values() for label in row}
        hinted = [label for label in (labels_hint or []) if label in seen]
        labels = hinted + sorted(seen - set(hinted))
        index = {label: position for position, label in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for actual, row in self.confusion.items():
            for predicted, count in row.items():
                matrix[index[actual], index[predicted]] = count
        return labels, matrix

    def merge(self, other: ClassificationState) -> None:
        if other.positive_class != self.positive_class or other.bins != self.bins:
            raise StateMismatchError("classification states with different positive classes or bins")
        for actual in sorted(other.confusion):
            row = self.confusion.setdefault(actual, {})
            for predicted, count in other.confusion[actual].items():
                row[predicted] = row.get(predicted, 0) + count
        self.rows += other.rows
        self.labelled += other.labelled
        self.unpredicted += other.unpredicted
        self.log_loss_sum.merge(other.log_loss_sum)
        self.log_loss_rows += other.log_loss_rows
        self.brier_sum.merge(other.brier_sum)
        self.scored_rows += other.scored_rows
        self.out_of_range_scores += other.out_of_range_scores
        self.positive_histogram += other.positive_histogram
        self.negative_histogram += other.negative_histogram
        self.predicted_positive_histogram += other.predicted_positive_histogram
        self.predicted_negative_histogram += other.predicted_negative_histogram

    def to_state(self) -> dict[str, Any]:
        return {
            "positiveClass": self.positive_class,
            "bins": self.bins,
            "confusion": {
                actual: dict(sorted(row.items())) for actual, row in sorted(self.confusion.items())
            },
            "rows": self.rows,
            "labelled": self.labelled,
            "unpredicted": self.unpredicted,
            "logLossSum": self.log_loss_sum.to_state(),
            "logLossRows": self.log_loss_rows,
            "brierSum": self.brier_sum.to_state(),
            "scoredRows": self.scored_rows,
            "outOfRangeScores": self.out_of_range_scores,
            "histograms": {
                "positive": _sparse(self.positive_histogram),
                "negative": _sparse(self.negative_histogram),
                "predictedPositive": _sparse(self.predicted_positive_histogram),
                "predictedNegative": _sparse(self.predicted_negative_histogram),
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClassificationState:
        classification = cls(state["positiveClass"], int(state["bins"]))
        classification.confusion = {
            actual: {predicted: int(count) for predicted, count in row.items()}
            for actual, row in state["confusion"].items()
        }
        classification.rows = int(state["rows"])
        classification.labelled = int(state["labelled"])
        classification.unpredicted = int(state["unpredicted"])
        classification.log_loss_sum = CompensatedSum.from_state(state["logLossSum"])
        classification.log_loss_rows = int(state["logLossRows"])
        classification.brier_sum = CompensatedSum.from_state(state["brierSum"])
        classification.scored_rows = int(state["scoredRows"])
        classification.out_of_range_scores = int(state.get("outOfRangeScores", 0))
        histograms = state["histograms"]
        classification.positive_histogram = _dense(histograms["positive"], classification.bins)
        classification.negative_histogram = _dense(histograms["negative"], classification.bins)
        classification.predicted_positive_histogram = _dense(
            histograms["predictedPositive"], classification.bins
        )
        classification.predicted_negative_histogram = _dense(
            histograms["predictedNegative"], classification.bins
        )
        return classification


def _sparse(histogram: IntArray) -> list[list[int]]:
    """``[[bin, count], ...]`` of the occupied bins (vectorised: stored step profiles write thousands of them)."""
    occupied = np.flatnonzero(histogram)
    pairs: list[list[int]] = np.column_stack([occupied, histogram[occupied]]).astype(np.int64).tolist()
    return pairs


def _dense(pairs: list[list[int]], bins: int) -> IntArray:
    histogram = np.zeros(bins, dtype=np.int64)
    if pairs:
        table = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        histogram[table[:, 0]] = table[:, 1]
    return histogram


class RegressionState:
    """Sums of absolute, squared and relative errors and of the shifted target, on labelled rows."""

    def __init__(self, target_shift: float) -> None:
        self.target_shift = float(target_shift)
        self.rows = 0
        self.labelled = 0
        self.evaluated = 0
        self.absolute_error = CompensatedSum()
        self.squared_error = CompensatedSum()
        self.relative_error = CompensatedSum()
        self.target_sum = CompensatedSum()
        self.target_squares = CompensatedSum()

    def update(self, target: FloatArray, prediction: FloatArray) -> None:
        self.rows += len(target)
        labelled = np.isfinite(target)
        self.labelled += int(labelled.sum())
        usable = labelled & np.isfinite(prediction)
        actual, predicted = target[usable], prediction[usable]
        self.evaluated += len(actual)
        errors = predicted - actual
        absolute = np.abs(errors)
        self.absolute_error.add(float(absolute.sum()))
        self.squared_error.add(float((errors * errors).sum()))
        self.relative_error.add(float((absolute / np.maximum(np.abs(actual), _EPSILON)).sum()))
        shifted = actual - self.target_shift
        self.target_sum.add(float(shifted.sum()))
        self.target_squares.add(float((shifted * shifted).sum()))

    def metrics(self) -> dict[str, float]:
        count = self.evaluated
        if count == 0:
            return {}
        residual_squares = self.squared_error.value
        shifted_sum = self.target_sum.value
        total_squares = self.target_squares.value - shifted_sum * shifted_sum / count
        r2 = 1 - residual_squares / total_squares if total_squares > 0 else float(residual_squares == 0)
        return {
            "mae": self.absolute_error.value / count,
            "rmse": math.sqrt(residual_squares / count),
            "mape": self.relative_error.value / count,
            "r2": r2,
        }

    def merge(self, other: RegressionState) -> None:
        if other.target_shift != self.target_shift:
            raise StateMismatchError("regression states built with different target shifts")
        self.rows += other.rows
        self.labelled += other.labelled
        self.evaluated += other.evaluated
        for mine, theirs in zip(self._sums(), other._sums(), strict=True):
            mine.merge(theirs)

    def _sums(self) -> tuple[CompensatedSum, ...]:
        return (
            self.absolute_error,
            self.squared_error,
            self.relative_error,
            self.target_sum,
            self.target_squares,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "targetShift": self.target_shift,
            "rows": self.rows,
            "labelled": self.labelled,
            "evaluated": self.evaluated,
            "sums": [item.to_state() for item in self._sums()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RegressionState:
        regression = cls(float(state["targetShift"]))
        regression.rows = int(state["rows"])
        regression.labelled = int(state["labelled"])
        regression.evaluated = int(state["evaluated"])
        sums = [CompensatedSum.from_state(item) for item in state["sums"]]
        (
            regression.absolute_error,
            regression.squared_error,
            regression.relative_error,
            regression.target_sum,
            regression.target_squares,
        ) = sums
        return regression
