"""Promotion through the registry, by the running operator against a real MLflow: @champion serves version 1, a
shadow challenger (version 2) is found better, and spec.challenger.action.promote (Automatic) moves @champion
to 2 with rollback's own alias pointer — read back from MLflow and from status."""

from __future__ import annotations

import pytest

from modelmonitor.registry.mlflow import MlflowClient
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import wait_until
from tests.integration.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.operator.test_challenger import upload_better_challenger
from tests.integration.registry.conftest import register_versions
from tests.integration.registry.test_operator_registry import registry_monitor

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def test_a_better_challenger_moves_the_champion_alias(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "1")
    world.upload_credit_data("reference/", 4_000, seed=40, drift=0.0)
    upload_better_challenger(world, 4_000, seed=60)
    body = registry_monitor(world, "alias-promote", mlflow_server, model_name)
    body["spec"]["metrics"] = [{"name": "roc_auc", "min": 0.5}]
    body["spec"]["challenger"] = {"version": "2", "prediction": "pred_v2", "score": "proba_v2",
                                  "metrics": ["roc_auc"], "action": {"promote": {"mode": "Automatic"}}}
    body["spec"]["rollback"] = {"enabled": False, "target": {"mlflowAlias": {}}}
    world.apply(body)
    world.run_now("alias-promote")
    monitor = world.wait_for_evaluations("alias-promote", 1, timeout=240)
    assert monitor["status"]["comparison"]["decision"] == "challenger-better", monitor["status"]["comparison"]
    wait_until(lambda: mlflow.version_by_alias(model_name, "champion").version == "2", 60, interval=0.5,
               what="@champion moved to the challenger's version 2")
    wait_until(lambda: any(c["type"] == "Promoted" for c in world.read("alias-promote")["status"]["conditions"]),
               30, interval=0.5, what="the Promoted condition")
    monitor = world.read("alias-promote")
    assert condition(monitor, "Promoted")["status"] == "True"
    decision = monitor["status"]["promotion"]["lastDecision"]
    assert (decision["action"], decision["fromVersion"], decision["toVersion"]) == ("Promote", "1", "2")
    assert decision["patch"]["type"] == "mlflowAlias"
