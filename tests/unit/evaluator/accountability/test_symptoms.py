"""Regression tests, one per symptom listed in issue 17, each on real data through the real evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as sk

from tests.unit.evaluator.accountability.scenarios import DataShape, build_scenario, run_document, run_scenario


def test_multiclass_macro_and_weighted_thresholds_fire_under_their_own_names(tmp_path: Any) -> None:
    shape = DataShape(task="multiclass-classification", rows=600, seed=3)
    rules = {
        "metrics": [
            {"name": "macro_f1", "min": 0.99, "severity": "critical"},
            {"name": "weighted_precision", "min": 0.99},
            {"name": "macro_recall", "min": 0.0},
        ]
    }
    document = build_scenario(tmp_path, shape, rules)
    result, summary = run_document(document)
    current = pq.read_table(tmp_path / "current.parquet")
    truth, predicted = current["target"].to_pylist(), current["pred"].to_pylist()
    assert result["metrics"]["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert result["metrics"]["weighted_precision"] == pytest.approx(
        sk.precision_score(truth, predicted, average="weighted"), abs=1e-12
    )
    violated = {violation["rule"]: violation for violation in result["violations"]}
    assert set(violated) == {"metric:macro_f1", "metric:weighted_precision"}
    assert violated["metric:macro_f1"]["severity"] == "critical"
    assert summary["verdict"] == "critical"
    assert summary["checks"]["metric:macro_recall"]["state"] == "ok"


def test_binary_models_have_macro_and_weighted_metrics_too(tmp_path: Any) -> None:
    document = build_scenario(
        tmp_path,
        DataShape(task="binary-classification", rows=500, score=True),
        {"metrics": [{"name": "macro_f1", "min": 0.1}]},
    )
    result, _ = run_document(document)
    current = pq.read_table(tmp_path / "current.parquet")
    truth, predicted = current["target"].to_pylist(), current["pred"].to_pylist()
    assert result["metrics"]["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert result["checks"][0]["state"] == "ok"


def test_a_monitor_without_drift_raises_no_drift_violation_on_drifted_data() -> None:
    shape = DataShape(task="regression", rows=500, shift=3.0, categorical_shift=1.0)
    result, summary = run_scenario(shape, {"metrics": [{"name": "rmse", "max": 100.0}]})
    assert result["violations"] == []
    assert summary["verdict"] == "healthy"
    assert result["drift"]["features"] == [] and summary["drift"]["drifted"] == 0
    with_drift, _ = run_scenario(shape, {"metrics": [{"name": "rmse", "max": 100.0}], "drift": {}})
    assert any(violation["rule"] == "drift:x" for violation in with_drift["violations"])  # the data did drift


@pytest.mark.parametrize(("test", "key"), [("wasserstein", "wasserstein"), ("jensen_shannon", "jensenShannon")])
@pytest.mark.parametrize(("critical", "severity"), [(0.2, "critical"), (50.0, "warning")])
def test_wasserstein_and_jensen_shannon_critical_levels_are_applied(
    test: str, key: str, critical: float, severity: str
) -> None:
    numeric = test == "wasserstein"
    shape = DataShape(
        task="regression",
        rows=500,
        prediction=False,
        labels="none",
        shift=2.0 if numeric else 0.0,
        categorical_shift=0.0 if numeric else 1.0,
        exclude=("region",) if numeric else ("x",),
    )
    result, summary = run_scenario(shape, {"drift": {"tests": [test], key: {"warning": 0.1, "critical": critical}}})
    assert summary["checks"][f"drift-test:{test}"]["state"] == "violated"
    assert summary["checks"][f"drift-test:{test}"]["severity"] == severity
    feature = "drift:x" if numeric else "drift:region"
    assert next(item for item in result["violations"] if item["rule"] == feature)["severity"] == severity


@pytest.mark.parametrize("task", ["binary-classification", "multiclass-classification", "regression"])
def test_a_drift_only_monitor_without_a_prediction_column_evaluates(task: str) -> None:
    shape = DataShape(task=task, rows=300, prediction=False, labels="none", shift=1.0)
    result, summary = run_scenario(shape, {"drift": {"tests": ["ks", "chi2"]}})
    assert summary["outcome"] == "evaluated"
    assert result["metrics"] == {}
    assert summary["checks"]["drift-test:ks"]["state"] == "violated"
    assert summary["checks"]["drift-test:chi2"]["state"] in ("ok", "violated")


def test_a_declared_test_with_no_column_to_apply_to_is_pending_with_the_reason() -> None:
    shape = DataShape(task="regression", rows=300, prediction=False, labels="none", exclude=("region",))
    result, _ = run_scenario(shape, {"drift": {"tests": ["ks", "chi2"]}})
    checks = {check["rule"]: check for check in result["checks"]}
    assert checks["drift-test:ks"]["state"] == "ok"
    assert checks["drift-test:chi2"] == {
        "rule": "drift-test:chi2",
        "state": "pending",
        "value": None,
        "severity": None,
        "reason": "no categorical feature to apply chi2 to",
    }


def test_too_few_values_leave_a_declared_test_pending_with_the_reason() -> None:
    shape = DataShape(task="regression", rows=50, prediction=False, labels="none", shift=2.0)
    result, _ = run_scenario(shape, {"drift": {"tests": ["ks"], "minSampleSize": 100}})
    (check,) = result["checks"]
    assert check["state"] == "pending"
    assert "inconclusive" in check["reason"] and "at least 100 needed" in check["reason"]
    assert result["violations"] == []


def test_a_model_based_test_that_finds_drift_is_a_violation() -> None:
    shape = DataShape(task="regression", rows=600, prediction=False, labels="none", shift=2.0, seed=4)
    result, summary = run_scenario(shape, {"drift": {"tests": ["classifier"]}})
    assert summary["checks"]["drift-test:classifier"]["state"] == "violated"
    assert any(violation["rule"] == "drift-test:classifier" for violation in result["violations"])
    calm, _ = run_scenario(
        DataShape(task="regression", rows=600, prediction=False, labels="none", seed=4),
        {"drift": {"tests": ["classifier"]}},
    )
    assert calm["checks"][0]["state"] == "ok" and 0.3 < calm["checks"][0]["value"] < 0.7
    assert np.isfinite(calm["checks"][0]["value"])


def test_a_column_no_declared_test_applies_to_is_not_judged_by_the_undeclared_gate_test() -> None:
    shape = DataShape(task="regression", rows=600, prediction=False, labels="none", categorical_shift=1.0)
    result, _ = run_scenario(shape, {"drift": {"tests": ["ks"]}})
    region = next(item for item in result["drift"]["features"] if item["feature"] == "region")
    assert region["status"] == "inconclusive"
    assert region["reason"] == "no declared drift test applies to a categorical column (spec.drift.tests: ks)"
    assert not any(violation["rule"] == "drift:region" for violation in result["violations"])
    judged, _ = run_scenario(shape, {"drift": {"tests": ["ks", "chi2"]}})
    assert any(violation["rule"] == "drift:region" for violation in judged["violations"])  # chi2 declared: drift
