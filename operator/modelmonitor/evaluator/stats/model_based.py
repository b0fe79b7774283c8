"""Multivariate drift on bounded samples: a domain classifier and an isolation forest.

Both work on the reservoirs (a few thousand rows per side), never on the full data, so their cost does not
grow with the number of rows. Categorical features are encoded as their rank in the reference's category
counts (unseen categories get one extra code), which suits tree models. The domain classifier's ROC AUC is
cross-validated (out-of-fold predictions), and its p-value is the Mann–Whitney U test of the out-of-fold
scores, since AUC = U / (n_ref * n_cur). The isolation forest is fitted on one half of the reference sample,
and the anomaly share of the other half is the baseline for the current sample (one-sided binomial test).

scikit-learn and ``scipy.stats`` are imported inside the tests, not at module load: together they take
~1.5 s to import, and most evaluations do not run these tests.
"""

from __future__ import annotations

import numpy as np

from modelmonitor.evaluator.stats.columns import FloatArray
from modelmonitor.evaluator.stats.reservoir import RowReservoir
from modelmonitor.evaluator.stats.results import DriftTestResult

__all__ = ["domain_classifier_test", "encode_sample", "isolation_forest_test"]

_MINIMUM_ROWS = 20


def encode_sample(sample: RowReservoir, numeric: list[str], categorical: dict[str, list[str]]) -> FloatArray:
    """The sample as a float matrix: numeric columns as they are (NaN when missing), categories as codes."""
    columns = [sample.numeric[name] for name in numeric]
    for name, categories in categorical.items():
        codes = {category: float(position) for position, category in enumerate(categories)}
        unseen = float(len(categories))
        columns.append(
            np.array(
                [np.nan if value is None else codes.get(value, unseen) for value in sample.categorical[name]],
                dtype=np.float64,
            )
        )
    if not columns:
        return np.empty((len(sample), 0))
    return np.column_stack(columns)


def domain_classifier_test(
    reference: FloatArray, current: FloatArray, threshold: float, p_value_limit: float, seed: int
) -> DriftTestResult | None:
    """Cross-validated ROC AUC of a classifier telling reference rows from current rows."""
    if min(len(reference), len(current)) < _MINIMUM_ROWS or reference.shape[1] == 0:
        return None
    from scipy import stats as scipy_stats
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    features = np.vstack([reference, current])
    labels = np.concatenate([np.zeros(len(reference)), np.ones(len(current))])
    model = HistGradientBoostingClassifier(max_iter=50, early_stopping=False, random_state=seed)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    # one OpenMP thread: a few thousand rows gain little from more, and spinning threads on a busy node lose a lot
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(labels, scores))
    p_value = float(
        scipy_stats.mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="greater").pvalue
    )
    return DriftTestResult(
        "classifier", auc, p_value, auc, threshold, bool(p_value < p_value_limit and auc >= threshold)
    )


def isolation_forest_test(
    reference: FloatArray, current: FloatArray, threshold: float, p_value_limit: float, seed: int
) -> DriftTestResult | None:
    """Share of current rows an isolation forest trained on the reference calls anomalous, vs the baseline."""
    if min(len(reference) // 2, len(current)) < _MINIMUM_ROWS or reference.shape[1] == 0:
        return None
    from scipy import stats as scipy_stats
    from sklearn.ensemble import IsolationForest

    medians = np.nanmedian(np.where(np.isnan(reference).all(axis=0), 0.0, reference), axis=0)

    def impute(matrix: FloatArray) -> FloatArray:
        return np.where(np.isnan(matrix), medians, matrix)

    training, holdout = impute(reference[0::2]), impute(reference[1::2])
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(training)
    baseline = float(np.mean(forest.predict(holdout) == -1))
    anomalies = int(np.sum(forest.predict(impute(current)) == -1))
    share = anomalies / len(current)
    expected = min(max(baseline, 1.0 / len(holdout)), 1.0)
    p_value = float(scipy_stats.binomtest(anomalies, len(current), expected, alternative="greater").pvalue)
    effect = share - baseline
    return DriftTestResult(
        "isolation_forest",
        share,
        p_value,
        effect,
        threshold,
        bool(p_value < p_value_limit and effect >= threshold),
    )
