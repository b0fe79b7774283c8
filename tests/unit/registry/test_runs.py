"""An evaluation summary becomes an MLflow run and version tags (pure; the server side is in integration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelmonitor.registry.errors import RegistryConfigError
from modelmonitor.registry.mlflow import MlflowCredentials, metric_items
from modelmonitor.registry.runs import STATUS_TAG, build_evaluation_run, default_experiment

NOW = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)


def test_a_failed_evaluation_logs_its_error_and_no_metrics() -> None:
    summary = {"runId": "e-9", "outcome": "data_error", "verdict": "error", "metrics": {},
               "error": {"reason": "MissingColumn", "message": "column pred is missing"}, "violations": []}
    run = build_evaluation_run(summary, namespace="ns", monitor="m", model_name="credit", version="4", now=NOW)
    assert run.metrics == {"violations": 0.0}
    assert run.run_tags["modelmonitor.outcome"] == "data_error"
    assert run.run_tags["modelmonitor.error"] == "MissingColumn: column pred is missing"
    assert "modelmonitor.violatedRules" not in run.run_tags  # empty values are not logged
    assert run.version_tags[STATUS_TAG] == "error"
    assert run.start_ms == run.end_ms == int(NOW.timestamp() * 1000)  # no timestamps: the time of logging


def test_only_finite_numbers_become_metrics() -> None:
    values = [("a", 1), ("b", None), ("c", float("nan")), ("d", float("inf")), ("e", True), ("f", 0.25),
              ("g", {"value": 1}), ("h", "0.5")]
    assert metric_items(values) == {"a": 1.0, "f": 0.25}


def test_the_default_experiment_names_the_monitor() -> None:
    assert default_experiment("team-a", "credit") == "modelmonitor/team-a/credit"


def test_credentials_come_from_mlflow_variable_names_and_never_print() -> None:
    token = MlflowCredentials.from_secret({"MLFLOW_TRACKING_TOKEN": "s3cr3t"}, "ns/mlflow")
    assert token.token == "s3cr3t" and "s3cr3t" not in repr(token)
    basic = MlflowCredentials.from_secret({"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"}, "x")
    assert (basic.username, basic.password, basic.token) == ("u", "p", None)
    with pytest.raises(RegistryConfigError, match="Secret ns/mlflow must hold MLFLOW_TRACKING_TOKEN"):
        MlflowCredentials.from_secret({"MLFLOW_TRACKING_USERNAME": "u"}, "ns/mlflow")
