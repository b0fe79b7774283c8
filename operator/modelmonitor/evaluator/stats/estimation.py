"""Performance of a binary classifier estimated without labels, from calibrated scores (confidence-based).

Like NannyML's CBPE: if a score s is calibrated, a row predicted positive is a true positive with
probability s, so the expected confusion matrix is the sum of those probabilities over the rows. Scores are
calibrated by isotonic regression of the reference's labels on the reference score histogram (the fine grid
of ``performance.SCORE_BINS`` bins), so only per-bin counts are needed on both sides and the estimate merges
like every other statistic. The standard error treats each row's outcome as an independent Bernoulli draw
with the calibrated probability (delta method for ratios, Hanley–McNeil for ROC AUC); it does not include
the error of the calibration itself. Estimates are reported apart from realised metrics, never mixed.

The isotonic regression is scikit-learn's (``IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")``)
done step by step in numpy, with its pool-adjacent-violators loop ported as it is, so that an evaluation
need not import scikit-learn (~1 s) for it; a unit test holds the two equal.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from modelmonitor.evaluator.stats.columns import FloatArray
from modelmonitor.evaluator.stats.performance import binned_roc_auc
from modelmonitor.evaluator.stats.results import EstimatedMetric

__all__ = ["calibration_from_histograms", "estimate_binary_performance"]

IntArray = npt.NDArray[np.int64]
_Z95 = 1.959963984540054


def calibration_from_histograms(positive: IntArray, negative: IntArray) -> FloatArray:
    """Calibrated probability of the positive class for every score bin (bin centres when no labels)."""
    bins = len(positive)
    centres = (np.arange(bins) + 0.5) / bins
    totals = (positive + negative).astype(np.float64)
    occupied = totals > 0
    if int(positive.sum()) == 0 or int(negative.sum()) == 0:
        return centres
    return isotonic_fit_predict(
        centres[occupied], positive[occupied] / totals[occupied], totals[occupied], centres, 0.0, 1.0
    )


def _pool_adjacent_violators(values: FloatArray, weights: FloatArray) -> None:
    """scikit-learn's ``_inplace_contiguous_isotonic_regression``: a non-decreasing weighted fit, in place."""
    size = len(values)
    target = np.arange(size, dtype=np.intp)
    index = 0
    while index < size:
        following = target[index] + 1
        if following == size:
            break
        if values[index] < values[following]:
            index = following
            continue
        weighted_sum = weights[index] * values[index]
        weight_sum = weights[index]
        while True:
            previous = values[following]
            weighted_sum += weights[following] * values[following]
            weight_sum += weights[following]
            following = target[following] + 1
            if following == size or previous < values[following]:
                values[index] = weighted_sum / weight_sum
                weights[index] = weight_sum
                target[index] = following - 1
                target[following - 1] = index
                if index > 0:
                    index = target[index - 1]
                break
    index = 0
    while index < size:
        following = target[index] + 1
        values[index + 1 : following] = values[index]
        index = following


def isotonic_fit_predict(
    x: FloatArray, y: FloatArray, weights: FloatArray, at: FloatArray, lowest: float, highest: float
) -> FloatArray:
    """Fit a non-decreasing step function to (x, y) with weights (x sorted, unique), predict it at ``at``.

    As ``IsotonicRegression(y_min=lowest, y_max=highest, out_of_bounds="clip").fit(x, y, weights)
    .predict(at)``: linear interpolation between fitted points, constant beyond the ends.
    """
    weights = np.array(weights, dtype=np.float64)
    values = np.array(y, dtype=np.float64) * weights / weights  # scikit-learn averages duplicates this way
    _pool_adjacent_violators(values, weights)
    np.clip(values, lowest, highest, out=values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:-1] = np.logical_or(np.not_equal(values[1:-1], values[:-2]), np.not_equal(values[1:-1], values[2:]))
    knots, fitted = x[keep], values[keep]
    if len(knots) == 1:
        return np.full(len(at), fitted[0])
    predicted: FloatArray = np.interp(np.clip(at, knots[0], knots[-1]), knots, fitted)
    return predicted


def _metric(value: float, variance: float) -> EstimatedMetric:
    error = math.sqrt(max(variance, 0.0))
    return EstimatedMetric(value, error, max(value - _Z95 * error, 0.0), min(value + _Z95 * error, 1.0))


def estimate_binary_performance(
    calibrated: FloatArray, predicted_positive: IntArray, predicted_negative: IntArray
) -> dict[str, EstimatedMetric]:
    """Expected accuracy, precision, recall, F1 and ROC AUC from score histograms split by predicted class."""
    positive_rows = predicted_positive.astype(np.float64)
    negative_rows = predicted_negative.astype(np.float64)
    total = float(positive_rows.sum() + negative_rows.sum())
    if total == 0:
        return {}
    spread = calibrated * (1 - calibrated)
    true_positive = float(np.dot(calibrated, positive_rows))
    false_negative = float(np.dot(calibrated, negative_rows))
    true_positive_variance = float(np.dot(spread, positive_rows))
    false_negative_variance = float(np.dot(spread, negative_rows))
    predicted_positive_count = float(positive_rows.sum())
    true_negative = float(negative_rows.sum()) - false_negative
    estimates = {
        "accuracy": _metric(
            (true_positive + true_negative) / total,
            (true_positive_variance + false_negative_variance) / total**2,
        )
    }
    if predicted_positive_count > 0:
        estimates["precision"] = _metric(
            true_positive / predicted_positive_count, true_positive_variance / predicted_positive_count**2
        )
    actual_positive = true_positive + false_negative
    if actual_positive > 0:
        recall_variance = (
            false_negative**2 * true_positive_variance + true_positive**2 * false_negative_variance
        ) / actual_positive**4
        estimates["recall"] = _metric(true_positive / actual_positive, recall_variance)
        denominator = true_positive + predicted_positive_count + false_negative
        derivative_true = 2 * (predicted_positive_count + false_negative) / denominator**2
        derivative_false = -2 * true_positive / denominator**2
        estimates["f1"] = _metric(
            2 * true_positive / denominator,
            derivative_true**2 * true_positive_variance + derivative_false**2 * false_negative_variance,
        )
    rows = positive_rows + negative_rows
    expected_positive = calibrated * rows
    expected_negative = (1 - calibrated) * rows
    positives, negatives = float(expected_positive.sum()), float(expected_negative.sum())
    if positives > 0 and negatives > 0:
        auc, _ = binned_roc_auc(expected_positive, expected_negative)  # type: ignore[arg-type]
        first = auc / (2 - auc)
        second = 2 * auc * auc / (1 + auc)
        variance = (
            auc * (1 - auc) + (positives - 1) * (first - auc * auc) + (negatives - 1) * (second - auc * auc)
        ) / (positives * negatives)
        estimates["roc_auc"] = _metric(auc, variance)
    return estimates
