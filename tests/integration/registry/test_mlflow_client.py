"""The operator's MLflow REST client against a real `mlflow server`: aliases, versions, tags, runs, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelmonitor.alerts.outbound import parse_allow_flags
from modelmonitor.registry.errors import RegistryConfigError, RegistryNotAllowed, RegistryNotFound, RegistryUnreachable
from modelmonitor.registry.mlflow import MlflowClient
from modelmonitor.registry.runs import EVALUATION_ID_TAG, STATUS_TAG, build_evaluation_run, log_evaluation
from modelmonitor.services.registry import mlflow_check
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import free_port
from tests.integration.registry.conftest import register_versions

SUMMARY = {
    "runId": "20261201-120000-abc", "outcome": "evaluated", "verdict": "critical",
    "startedAt": "2026-12-01T12:00:00Z", "finishedAt": "2026-12-01T12:01:30Z",
    "rows": {"reference": 10000, "current": 3000, "labelled": 2900},
    "metrics": {"accuracy": 0.55, "roc_auc": 0.61},
    "drift": {"share": 0.75, "drifted": 6, "features": 8, "datasetDrift": True},
    "violations": [{"rule": "metric:accuracy", "severity": "critical"}, {"rule": "drift:dataset"}],
    "reportUri": "s3://reports/credit/20261201-120000-abc/report.html",
}


def test_alias_resolves_to_the_version_it_points_at_and_follows_a_move(mlflow: MlflowClient, model_name: str) -> None:
    register_versions(mlflow, model_name, 3)
    mlflow.set_alias(model_name, "champion", "2")
    resolved = mlflow.version_by_alias(model_name, "champion")
    assert (resolved.name, resolved.version, resolved.aliases) == (model_name, "2", ("champion",))
    mlflow.set_alias(model_name, "champion", "3")
    assert mlflow.version_by_alias(model_name, "champion").version == "3"
    assert "champion" not in mlflow.model_version(model_name, "2").aliases


def test_missing_model_alias_or_version_is_not_found_naming_it(mlflow: MlflowClient, model_name: str) -> None:
    with pytest.raises(RegistryNotFound, match=model_name):
        mlflow.version_by_alias(model_name, "champion")
    register_versions(mlflow, model_name, 1)
    with pytest.raises(RegistryNotFound, match="'champion'"):
        mlflow.version_by_alias(model_name, "champion")
    with pytest.raises(RegistryNotFound, match="version 7"):
        mlflow.model_version(model_name, "7")


def test_an_unreachable_server_is_reported_by_host_without_a_traceback() -> None:
    with MlflowClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client, \
            pytest.raises(RegistryUnreachable, match=r"MLflow at 127\.0\.0\.1 did not answer"):
        client.version_by_alias("credit", "champion")


def test_a_tracking_uri_that_is_not_http_is_refused_naming_the_field() -> None:
    with pytest.raises(RegistryConfigError, match=r"spec\.model\.registry\.mlflow\.trackingUri"):
        MlflowClient("file:///tmp/mlruns")


def test_the_outbound_check_sees_every_url_before_it_is_requested(mlflow_server: MlflowServer, model_name: str) -> None:
    seen: list[str] = []

    def refuse(url: str) -> None:
        seen.append(url)
        raise PermissionError("not allowed")

    with MlflowClient("http://127.0.0.1:9", outbound_check=refuse) as client, pytest.raises(PermissionError):
        client.version_by_alias(model_name, "champion")
    assert seen == ["http://127.0.0.1:9/api/2.0/mlflow/registered-models/alias"]


def test_an_evaluation_is_logged_once_as_a_run_linked_to_its_version(mlflow: MlflowClient, model_name: str) -> None:
    register_versions(mlflow, model_name, 2)
    run = build_evaluation_run(SUMMARY, namespace="ns", monitor="guard", model_name=model_name, version="2",
                               now=datetime(2026, 12, 1, 12, 2, tzinfo=UTC))
    experiment = f"modelmonitor/ns/{model_name}"
    run_id = log_evaluation(mlflow, experiment, model_name, "2", run)
    assert log_evaluation(mlflow, experiment, model_name, "2", run) == run_id  # a reprocessed Job: no second run

    logged = mlflow.get_run(run_id)
    metrics = {item["key"]: item["value"] for item in logged["data"]["metrics"]}
    tags = {item["key"]: item["value"] for item in logged["data"]["tags"]}
    params = {item["key"]: item["value"] for item in logged["data"]["params"]}
    assert metrics == {"accuracy": 0.55, "roc_auc": 0.61, "drift_share": 0.75, "drifted_features": 6.0,
                       "rows_reference": 10000.0, "rows_current": 3000.0, "rows_labelled": 2900.0,
                       "violations": 2.0}
    assert tags[EVALUATION_ID_TAG] == SUMMARY["runId"]
    assert tags["modelmonitor.model.name"] == model_name and tags["modelmonitor.model.version"] == "2"
    assert tags["modelmonitor.verdict"] == "critical"
    assert tags["modelmonitor.violatedRules"] == "drift:dataset,metric:accuracy"
    assert tags["modelmonitor.reportUri"] == SUMMARY["reportUri"]
    assert params == {"model_version": "2", "verdict": "critical"}
    assert logged["info"]["status"] == "FINISHED"
    assert (logged["info"]["start_time"], logged["info"]["end_time"]) == (1796126400000, 1796126490000)
    experiment_id = mlflow.experiment_id(experiment, create=False)
    assert mlflow.find_run_by_tag(experiment_id, "modelmonitor.model.version", "2") == run_id

    version = mlflow.model_version(model_name, "2")
    assert version.tags[STATUS_TAG] == "critical"
    assert version.tags["modelmonitor.lastRunId"] == run_id
    assert version.tags["modelmonitor.lastEvaluation"] == SUMMARY["runId"]
    assert STATUS_TAG not in mlflow.model_version(model_name, "1").tags


def test_the_operators_allow_list_decides_which_registry_may_be_contacted(
    mlflow_server: MlflowServer, mlflow: MlflowClient, model_name: str
) -> None:
    register_versions(mlflow, model_name, 1)
    mlflow.set_alias(model_name, "champion", "1")
    nothing_allowed = parse_allow_flags([])
    with MlflowClient(mlflow_server.url, outbound_check=mlflow_check(nothing_allowed)) as client, \
            pytest.raises(RegistryNotAllowed, match=r"not (an )?allowed (destination )?for mlflow"):
        client.version_by_alias(model_name, "champion")
    webhooks_only = parse_allow_flags(["webhook:cidr=127.0.0.0/8", "webhook:scheme=http"])
    with MlflowClient(mlflow_server.url, outbound_check=mlflow_check(webhooks_only)) as client, \
            pytest.raises(RegistryNotAllowed):
        client.version_by_alias(model_name, "champion")  # allowing webhooks there allows no registry
    loopback = parse_allow_flags(["mlflow:cidr=127.0.0.0/8", "mlflow:scheme=http"])
    with MlflowClient(mlflow_server.url, outbound_check=mlflow_check(loopback)) as client:
        assert client.version_by_alias(model_name, "champion").version == "1"
