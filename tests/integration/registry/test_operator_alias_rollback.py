"""Rollback through the registry, by the running operator on the real control plane against a real MLflow: version
1 is healthy under @champion, someone points @champion at version 2, production data drifts, and the operator
moves @champion back to 1 — or proposes it (Manual), only says so (NotifyOnly), reports the planned move (dryRun),
waits (cooldown) or refuses (no healthy version). Every outcome is read back from MLflow and from status."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from modelmonitor.registry.mlflow import MlflowClient
from modelmonitor.rollback.mlflow_alias import ROLLED_BACK_TAG
from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.mlflow import MlflowServer
from tests.harness.processes import wait_until
from tests.integration.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.registry.conftest import register_versions
from tests.integration.registry.test_operator_registry import registry_monitor

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

NAME = "alias-guard"


def champion(mlflow: MlflowClient, model: str) -> str:
    return mlflow.version_by_alias(model, "champion").version


def last_decision(world: MonitorWorld) -> dict[str, Any]:
    return dict(((world.read(NAME).get("status") or {}).get("rollback") or {}).get("lastDecision") or {})


def start_with_healthy_one_then_critical_two(world: MonitorWorld, server: MlflowServer, mlflow: MlflowClient,
                                             model: str, **rollback: Any) -> dict[str, Any]:
    """Evaluation 1: version 1, healthy. Then @champion -> 2 and drifted data; evaluation 2: version 2, critical."""
    register_versions(mlflow, model, 2)
    mlflow.set_alias(model, "champion", "1")
    world.upload_credit_data("reference/", 5_000, seed=80, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=81, drift=0.0)
    body = registry_monitor(world, NAME, server, model)
    body["spec"]["rollback"] = {"enabled": True, "target": {"mlflowAlias": {}}, **rollback}
    world.apply(body)
    world.run_now(NAME)
    monitor = world.wait_for_evaluations(NAME, 1)
    assert (monitor["status"]["lastEvaluation"]["modelVersion"], monitor["status"]["lastEvaluation"]["verdict"]) \
        == ("1", "healthy")
    mlflow.set_alias(model, "champion", "2")
    world.upload_credit_data("current/", 2_000, seed=82, drift=1.0)
    world.run_now(NAME)
    monitor = world.wait_for_evaluations(NAME, 2)
    assert (monitor["status"]["lastEvaluation"]["modelVersion"], monitor["status"]["lastEvaluation"]["verdict"]) \
        == ("2", "critical")
    return monitor


def test_automatic_moves_the_alias_back_then_the_cooldown_holds_a_second_rollback(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    start_with_healthy_one_then_critical_two(world, mlflow_server, mlflow, model_name, mode="Automatic")
    wait_until(lambda: champion(mlflow, model_name) == "1", 60, interval=0.5, what="@champion moved back to 1")
    wait_until(lambda: any(c["type"] == "RolledBack" for c in world.read(NAME)["status"]["conditions"]), 30,
               interval=0.5, what="the RolledBack condition")
    monitor = world.read(NAME)
    rolled_back = condition(monitor, "RolledBack")
    assert rolled_back["status"] == "True" and "from 2 to 1" in rolled_back["message"], rolled_back
    entry = monitor["status"]["rollback"]["history"][-1]
    assert (entry["fromVersion"], entry["toVersion"], entry["dryRun"]) == ("2", "1", False)
    assert entry["patch"]["type"] == "mlflowAlias" and entry["patch"]["alias"] == "champion"
    assert "@champion moved to version 1" in mlflow.model_version(model_name, "2").tags[ROLLED_BACK_TAG]

    # The restored version is what the next evaluation measures.
    world.upload_credit_data("current/", 2_000, seed=83, drift=0.0)
    world.run_now(NAME)
    assert world.wait_for_evaluations(NAME, 3)["status"]["lastEvaluation"]["modelVersion"] == "1"

    # @champion -> 2 again, critical again: within the cooldown (1h by default) the alias stays.
    # The 24h window still holds traffic from before the rollback, which would make it mixed (issue 14): the
    # data names the version of each row, so the window is version 2's alone.
    mlflow.set_alias(model_name, "champion", "2")
    world.upload_credit_data("current/", 2_000, seed=84, drift=1.0)
    served_by_2 = credit_scoring(2_000, 84, 1.0)
    world.upload("current/part-0.parquet", parquet_bytes(
        served_by_2.append_column("served_by", pa.array(["2"] * served_by_2.num_rows, pa.string()))))
    world.custom.patch_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                NAME, {"spec": {"data": {"columns": {"version": "served_by"}}}})
    world.run_now(NAME)
    world.wait_for_evaluations(NAME, 4)
    wait_until(lambda: last_decision(world).get("reason") == "CooldownActive", 30, interval=0.5,
               what="the cooldown decision")
    assert champion(mlflow, model_name) == "2"
    assert len(world.read(NAME)["status"]["rollback"]["history"]) == 1


def test_manual_proposes_and_moves_the_alias_only_when_approved(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    start_with_healthy_one_then_critical_two(world, mlflow_server, mlflow, model_name, mode="Manual")
    wait_until(lambda: (world.read(NAME)["status"].get("rollback") or {}).get("proposal"), 30, interval=0.5,
               what="the rollback proposal")
    proposal = world.read(NAME)["status"]["rollback"]["proposal"]
    assert (proposal["fromVersion"], proposal["toVersion"]) == ("2", "1")
    assert champion(mlflow, model_name) == "2"  # nothing moves before a person approves

    world.custom.patch_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                NAME, {"metadata": {"annotations": {
                                                    "modelmonitor.io/approve-rollback": "1"}}})
    wait_until(lambda: champion(mlflow, model_name) == "1", 60, interval=0.5, what="@champion moved to 1")
    wait_until(lambda: "modelmonitor.io/approve-rollback" not in (world.read(NAME)["metadata"].get("annotations")
                                                                  or {}), 30, interval=0.5,
               what="the approval annotation removed")
    history = world.read(NAME)["status"]["rollback"]["history"]
    assert history[-1]["approved"] is True and history[-1]["toVersion"] == "1"


def test_notify_only_says_which_version_and_leaves_the_alias(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    start_with_healthy_one_then_critical_two(world, mlflow_server, mlflow, model_name, mode="NotifyOnly")
    wait_until(lambda: last_decision(world).get("action") == "notify", 30, interval=0.5, what="the notify decision")
    decision = last_decision(world)
    assert (decision["fromVersion"], decision["toVersion"]) == ("2", "1")
    assert "alias @champion of MLflow model" in decision["message"]
    assert champion(mlflow, model_name) == "2"
    assert not (world.read(NAME)["status"]["rollback"].get("history") or [])


def test_dry_run_reports_the_planned_move_and_leaves_the_alias(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    start_with_healthy_one_then_critical_two(world, mlflow_server, mlflow, model_name, mode="Automatic",
                                             dryRun=True)
    wait_until(lambda: (world.read(NAME)["status"].get("rollback") or {}).get("history"), 30, interval=0.5,
               what="the dry run in history")
    entry = world.read(NAME)["status"]["rollback"]["history"][-1]
    assert entry["dryRun"] is True and (entry["fromVersion"], entry["toVersion"]) == ("2", "1")
    assert entry["patch"]["description"].startswith("would move alias @champion")
    assert champion(mlflow, model_name) == "2"
    assert ROLLED_BACK_TAG not in mlflow.model_version(model_name, "2").tags


def test_no_healthy_version_is_refused_and_the_alias_stays(
    world: MonitorWorld, operator: OperatorProcess, mlflow_server: MlflowServer, mlflow: MlflowClient,
    model_name: str,
) -> None:
    register_versions(mlflow, model_name, 2)
    mlflow.set_alias(model_name, "champion", "2")
    world.upload_credit_data("reference/", 5_000, seed=85, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=86, drift=1.0)
    body = registry_monitor(world, NAME, mlflow_server, model_name)
    body["spec"]["rollback"] = {"enabled": True, "target": {"mlflowAlias": {}}}
    world.apply(body)
    world.run_now(NAME)
    world.wait_for_evaluations(NAME, 1)
    wait_until(lambda: last_decision(world).get("reason") == "NoHealthyVersion", 30, interval=0.5,
               what="the refusal")
    assert champion(mlflow, model_name) == "2"
