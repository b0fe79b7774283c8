"""Through the running operator on the real control plane: the MLflow alias names the version an evaluation
measured (status.lastEvaluation, history, versions), and each evaluation is logged back to MLflow as a run of
that version. The registry is a real `mlflow server`; nothing here talks to MLflow but the operator, except the
test reading back what the operator wrote."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from modelmonitor.registry.mlflow import MlflowClient
from modelmonitor.registry.runs import STATUS_TAG
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import wait_until
from tests.integration.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.registry.conftest import register_versions

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def registry_monitor(world: MonitorWorld, name: str, server: MlflowServer, model: str,
                     **mlflow: Any) -> dict[str, Any]:
    body = world.monitor(name)
    body["spec"]["model"]["version"] = "9"  # what the spec says; the registry must win
    body["spec"]["model"]["registry"] = {"mlflow": {"trackingUri": server.url, "name": model, "alias": "champion",
                                                    **mlflow}}
    return body


def logged_run(world: MonitorWorld, name: str) -> str:
    found: dict[str, str] = {}

    def logged() -> bool:
        registry = (world.read(name).get("status") or {}).get("registry") or {}
        evaluation = world.read(name)["status"]["lastEvaluation"]["id"]
        if (registry.get("mlflow") or {}).get("lastLoggedEvaluation") == evaluation:
            found["run"] = registry["mlflow"]["lastRunId"]
            return True
        return False

    wait_until(logged, 60, interval=0.5, what=f"the evaluation of {name} logged to MLflow")
    return found["run"]


def test_the_alias_names_the_evaluated_version_and_each_evaluation_is_logged_to_it(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "1")
    mlflow.set_version_tag(model_name, "1", "dvc.md5", "5d41402abc4b2a76b9719d911017c592")  # a DVC-tracked file
    world.upload_credit_data("reference/", 5_000, seed=70, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=71, drift=0.0)
    world.apply(registry_monitor(world, "reg", mlflow_server, model_name))
    world.run_now("reg")
    monitor = world.wait_for_evaluations("reg", 1)
    status = monitor["status"]
    assert status["lastEvaluation"]["modelVersion"] == "1"
    assert status["history"][0]["modelVersion"] == "1"
    assert [record["version"] for record in status["versions"]] == ["1"]
    assert status["versions"][0]["artifact"] == {"source": f"s3://models/{model_name}/1",
                                                 "dvcMd5": "5d41402abc4b2a76b9719d911017c592"}
    assert status["registry"]["mlflow"]["version"] == "1"
    synced = condition(monitor, "RegistrySynced")
    assert synced["status"] == "True", synced

    run_id = logged_run(world, "reg")
    run = mlflow.get_run(run_id)
    tags = {item["key"]: item["value"] for item in run["data"]["tags"]}
    metrics = {item["key"]: item["value"] for item in run["data"]["metrics"]}
    evaluation = world.read("reg")["status"]["lastEvaluation"]
    assert tags["modelmonitor.model.version"] == "1" and tags["modelmonitor.model.name"] == model_name
    assert tags["modelmonitor.evaluationId"] == evaluation["id"]
    assert tags["modelmonitor.verdict"] == evaluation["verdict"]
    assert metrics["accuracy"] == pytest.approx(evaluation["metrics"]["accuracy"])
    assert metrics["drift_share"] == pytest.approx(evaluation["drift"]["share"])
    assert tags["modelmonitor.reportUri"] == evaluation["reportUri"]
    assert mlflow.model_version(model_name, "1").tags[STATUS_TAG] == evaluation["verdict"]
    assert mlflow.model_version(model_name, "1").tags["modelmonitor.lastRunId"] == run_id

    # Someone promotes version 2 in the registry: the next evaluation measures version 2.
    mlflow.set_alias(model_name, "champion", "2")
    world.run_now("reg")
    monitor = world.wait_for_evaluations("reg", 2)
    assert monitor["status"]["lastEvaluation"]["modelVersion"] == "2"
    assert sorted(record["version"] for record in monitor["status"]["versions"]) == ["1", "2"]
    second = logged_run(world, "reg")
    assert second != run_id
    assert mlflow.model_version(model_name, "2").tags["modelmonitor.lastRunId"] == second


def test_an_unusable_registry_is_a_condition_and_the_evaluation_is_still_recorded(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    register_versions(mlflow, model_name, 1)
    mlflow.set_alias(model_name, "champion", "1")
    world.upload_credit_data("reference/", 5_000, seed=72, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=73, drift=0.0)
    # The credentials Secret holds neither a token nor a user and password.
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "mlflow-creds"}, "data": {
        "MLFLOW_TRACKING_USERNAME": base64.b64encode(b"someone").decode()}})
    world.apply(registry_monitor(world, "reg-bad", mlflow_server, model_name, credentialsSecret="mlflow-creds"))
    world.run_now("reg-bad")
    monitor = world.wait_for_evaluations("reg-bad", 1)
    assert monitor["status"]["lastEvaluation"]["modelVersion"] == "9"  # the spec's version, said so below
    synced = condition(monitor, "RegistrySynced")
    assert synced["status"] == "False" and synced["reason"] == "RegistryConfigError", synced
    assert "MLFLOW_TRACKING_TOKEN" in synced["message"] and "someone" not in str(monitor["status"])
