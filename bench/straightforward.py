"""The straightforward way: load both datasets into pandas, then scipy tests and scikit-learn metrics.

What a data scientist would write first; the benchmark's yardstick for speed, memory and the values our
evaluator must reproduce. Drift rule, the same as the evaluator's defaults: a feature drifts when its test
(KS for numeric, chi-square for categorical) has p < 0.05 and its PSI on 10 reference-quantile bins is >= 0.1.

    python bench/straightforward.py bench/data/1m/reference.parquet bench/data/1m/current.parquet out.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics

ROLES = {"label", "pred", "score", "request_id"}


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    epsilon = 1e-4
    reference_shares = np.maximum(reference / reference.sum(), epsilon)
    current_shares = np.maximum(current / current.sum(), epsilon)
    return float(np.sum((current_shares - reference_shares) * np.log(current_shares / reference_shares)))


def main() -> None:
    reference_path, current_path, output_path = sys.argv[1:4]
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    features: dict[str, dict[str, float | bool | str]] = {}
    reference_counts: np.ndarray[Any, Any]
    current_counts: np.ndarray[Any, Any]
    for column in reference.columns:
        if column in ROLES:
            continue
        if pd.api.types.is_numeric_dtype(reference[column]):
            left = reference[column].dropna().to_numpy()
            right = current[column].dropna().to_numpy()
            statistic, p_value = stats.ks_2samp(left, right)
            edges = np.unique(np.quantile(left, np.linspace(0, 1, 11)[1:-1]))
            index = np.searchsorted(edges, left, side="left")
            reference_counts = np.bincount(index, minlength=len(edges) + 1)
            current_counts = np.bincount(np.searchsorted(edges, right, side="left"), minlength=len(edges) + 1)
            test = "ks"
        else:
            categories = sorted(set(reference[column].dropna().unique()) | set(current[column].dropna().unique()))
            reference_counts = reference[column].value_counts().reindex(categories, fill_value=0).to_numpy()
            current_counts = current[column].value_counts().reindex(categories, fill_value=0).to_numpy()
            statistic, p_value, _, _ = stats.chi2_contingency(np.vstack([reference_counts, current_counts]))
            test = "chi2"
        stability = psi(reference_counts.astype(float), current_counts.astype(float))
        features[column] = {
            "test": test,
            "statistic": float(statistic),
            "pValue": float(p_value),
            "psi": stability,
            "drifted": bool(p_value < 0.05 and stability >= 0.1),
        }
    labelled = current.dropna(subset=["label"])
    truth, predicted, score = labelled["label"], labelled["pred"], labelled["score"]
    results = {
        "accuracy": metrics.accuracy_score(truth, predicted),
        "precision": metrics.precision_score(truth, predicted),
        "recall": metrics.recall_score(truth, predicted),
        "f1": metrics.f1_score(truth, predicted),
        "roc_auc": metrics.roc_auc_score(truth, score),
        "pr_auc": metrics.average_precision_score(truth, score),
        "log_loss": metrics.log_loss(truth, score),
        "brier": metrics.brier_score_loss(truth, score),
    }
    confusion = metrics.confusion_matrix(truth, predicted).tolist()
    drifted = sorted(name for name, feature in features.items() if feature["drifted"])
    output = {
        "metrics": results,
        "confusionMatrix": confusion,
        "features": features,
        "drifted": drifted,
        "share": len(drifted) / len(features),
    }
    with open(output_path, "w") as handle:
        json.dump(output, handle, indent=1)
    with open(output_path.replace(".json", ".html"), "w") as handle:
        handle.write(pd.DataFrame(features).T.to_html())


if __name__ == "__main__":
    main()
