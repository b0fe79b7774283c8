"""Rollback through the running operator: a Deployment serving version 1 (healthy) is moved to version 2,
degraded data makes version 2 critical twice, and the operator puts version 1 back — by image tag, or by an env
var — and says so in status, a condition, an Event and an alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.operator.test_alerting import _secret

pytestmark = [pytest.mark.cluster, pytest.mark.s3, pytest.mark.usefixtures("model_server_images")]


def _deployment(name: str, version: str, by: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "server", "image": f"registry.local/credit-model:{version}"}
    if by == "env":
        container = {"name": "server", "image": "registry.local/credit-model:stable",
                     "env": [{"name": "MODEL_VERSION", "value": version}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def _served(world: MonitorWorld, name: str, by: str) -> str:
    import kubernetes

    deployment = kubernetes.client.AppsV1Api(world.client).read_namespaced_deployment(name, world.namespace)
    container = deployment.spec.template.spec.containers[0]
    if by == "env":
        return str(next(e.value for e in container.env if e.name == "MODEL_VERSION"))
    return str(container.image.rsplit(":", 1)[1])


def _rolled_out(world: MonitorWorld, name: str) -> bool:
    import kubernetes

    deployment = kubernetes.client.AppsV1Api(world.client).read_namespaced_deployment(name, world.namespace)
    status = deployment.status
    return bool(status.observed_generation == deployment.metadata.generation and status.updated_replicas == 1
                and status.available_replicas == 1 and not status.unavailable_replicas)


@pytest.mark.parametrize("by", ["image", "env"])
def test_critical_twice_rolls_back_to_the_last_healthy_version(
    world: MonitorWorld, operator: OperatorProcess, by: str
) -> None:
    import kubernetes

    apps = kubernetes.client.AppsV1Api(world.client)
    apps.create_namespaced_deployment(world.namespace, _deployment("credit-model", "1", by))
    wait_until(lambda: _rolled_out(world, "credit-model"), 60, interval=0.5, what="version 1 rolled out")
    recorder = HttpRecorder()
    recorder.start()
    try:
        _secret(world, "hook", {"url": recorder.url("/alerts")})
        world.upload_credit_data("reference/", 10_000, seed=50, drift=0.0)
        world.upload_credit_data("current/", 3_000, seed=51, drift=0.0)
        body = world.monitor("guard")
        target: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "credit-model",
                                  "container": "server", "versionFrom": by}
        if by == "env":
            target["env"] = "MODEL_VERSION"
        body["spec"]["rollback"] = {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2,
                                    "target": target}
        body["spec"]["alerts"] = {"channels": [{"name": "hook", "type": "webhook", "urlSecret": "hook"}],
                                  "policy": {"consecutiveViolations": 5}}
        world.apply(body)
        world.run_now("guard")
        monitor = world.wait_for_evaluations("guard", 1)
        assert monitor["status"]["lastEvaluation"]["verdict"] == "healthy"
        assert [v["version"] for v in monitor["status"]["versions"]] == ["1"]

        # Version 2 goes live, and production data drifts.
        deployment = _deployment("credit-model", "2", by)
        apps.patch_namespaced_deployment("credit-model", world.namespace, {"spec": deployment["spec"]})
        wait_until(lambda: _served(world, "credit-model", by) == "2" and _rolled_out(world, "credit-model"), 60,
                   interval=0.5, what="version 2 rolled out")
        world.upload_credit_data("current/", 3_000, seed=52, drift=1.0)
        world.run_now("guard")
        monitor = world.wait_for_evaluations("guard", 2)
        assert monitor["status"]["lastEvaluation"]["verdict"] == "critical"
        assert monitor["status"]["lastEvaluation"]["modelVersion"] == "2"
        assert _served(world, "credit-model", by) == "2"  # one critical evaluation is not enough

        world.run_now("guard")
        world.wait_for_evaluations("guard", 3)
        wait_until(lambda: _served(world, "credit-model", by) == "1", 60, interval=0.5,
                   what="the Deployment rolled back to version 1")
        # The target is patched first, then the rollback is recorded in status.
        wait_until(lambda: any(c["type"] == "RolledBack" for c in world.read("guard")["status"]["conditions"]), 30,
                   interval=0.5, what="the RolledBack condition")
        monitor = world.read("guard")
        rolled_back = condition(monitor, "RolledBack")
        assert rolled_back["status"] == "True" and "from 2 to 1" in rolled_back["message"], rolled_back
        history = monitor["status"]["rollback"]["history"]
        assert history[-1]["fromVersion"] == "2" and history[-1]["toVersion"] == "1" and not history[-1]["dryRun"]
        wait_until(lambda: "RolledBack" in world.kubectl("get", "events", "--field-selector",
                                                         "involvedObject.name=guard"), 30, interval=0.5,
                   what="the RolledBack Event")
        wait_until(lambda: any(r.json().get("kind") == "rollback" for r in recorder.requests_to("/alerts")), 30,
                   interval=0.5, what="the rollback alert")
        alert = next(r.json() for r in recorder.requests_to("/alerts") if r.json().get("kind") == "rollback")
        assert "1" in str(alert)

        # The restored version is what the next evaluation measures.
        wait_until(lambda: _rolled_out(world, "credit-model"), 60, interval=0.5, what="version 1 rolled out again")
        world.upload_credit_data("current/", 3_000, seed=53, drift=0.0)
        world.run_now("guard")
        monitor = world.wait_for_evaluations("guard", 4)
        assert monitor["status"]["lastEvaluation"]["modelVersion"] == "1"
        assert len(monitor["status"]["rollback"]["history"]) == 1
        if by != "image":
            return

        # Version 2 again, critical twice again: the cooldown (1h by default) holds the second rollback back.
        apps.patch_namespaced_deployment("credit-model", world.namespace,
                                         {"spec": _deployment("credit-model", "2", by)["spec"]})
        wait_until(lambda: _served(world, "credit-model", by) == "2" and _rolled_out(world, "credit-model"), 60,
                   interval=0.5, what="version 2 rolled out again")
        # The 24h window still holds traffic from before the rollback, which would make these windows mixed
        # (issue 14): the data now names the version of each row, so they are version 2's alone.
        world.upload_credit_data("current/", 3_000, seed=54, drift=1.0)
        served_by_2 = credit_scoring(3_000, 54, 1.0)
        world.upload("current/part-0.parquet", parquet_bytes(
            served_by_2.append_column("served_by", pa.array(["2"] * served_by_2.num_rows, pa.string()))))
        body["spec"]["data"]["columns"]["version"] = "served_by"
        world.apply(body)
        for count in (5, 6):
            world.run_now("guard")
            world.wait_for_evaluations("guard", count)
        wait_until(lambda: (world.read("guard")["status"]["rollback"].get("lastDecision") or {}).get("reason")
                   == "CooldownActive", 30, interval=0.5, what="the cooldown decision")
        assert _served(world, "credit-model", by) == "2"
        assert len(world.read("guard")["status"]["rollback"]["history"]) == 1
    finally:
        recorder.stop()


def test_dry_run_changes_nothing_and_reports_the_patch(world: MonitorWorld, operator: OperatorProcess) -> None:
    import kubernetes

    apps = kubernetes.client.AppsV1Api(world.client)
    apps.create_namespaced_deployment(world.namespace, _deployment("dry-model", "1", "image"))
    wait_until(lambda: _rolled_out(world, "dry-model"), 60, interval=0.5, what="version 1 rolled out")
    world.upload_credit_data("reference/", 10_000, seed=60, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=61, drift=0.0)
    body = world.monitor("dry")
    body["spec"]["rollback"] = {"enabled": True, "dryRun": True, "consecutiveViolations": 1,
                                "target": {"kind": "Deployment", "name": "dry-model", "container": "server"}}
    world.apply(body)
    world.run_now("dry")
    world.wait_for_evaluations("dry", 1)
    apps.patch_namespaced_deployment("dry-model", world.namespace,
                                     {"spec": _deployment("dry-model", "2", "image")["spec"]})
    wait_until(lambda: _served(world, "dry-model", "image") == "2" and _rolled_out(world, "dry-model"), 60,
               interval=0.5, what="version 2 rolled out")
    world.upload_credit_data("current/", 3_000, seed=62, drift=1.0)
    world.run_now("dry")
    world.wait_for_evaluations("dry", 2)
    wait_until(lambda: (world.read("dry")["status"].get("rollback") or {}).get("history"), 30, interval=0.5,
               what="the dry run recorded")
    entry = world.read("dry")["status"]["rollback"]["history"][-1]
    assert entry["dryRun"] is True and entry["toVersion"] == "1"
    assert "credit-model:1" in str(entry["patch"]) or "dry-model" in str(entry) or ":1" in str(entry["patch"])
    assert _served(world, "dry-model", "image") == "2"


def test_no_healthy_version_means_no_patch_and_an_alert_saying_why(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    import kubernetes

    apps = kubernetes.client.AppsV1Api(world.client)
    apps.create_namespaced_deployment(world.namespace, _deployment("new-model", "5", "image"))
    wait_until(lambda: _rolled_out(world, "new-model"), 60, interval=0.5, what="version 5 rolled out")
    recorder = HttpRecorder()
    recorder.start()
    try:
        _secret(world, "hook", {"url": recorder.url("/alerts")})
        world.upload_credit_data("reference/", 10_000, seed=70, drift=0.0)
        world.upload_credit_data("current/", 3_000, seed=71, drift=1.0)
        body = world.monitor("fresh")
        body["spec"]["rollback"] = {"enabled": True, "consecutiveViolations": 1,
                                    "target": {"kind": "Deployment", "name": "new-model", "container": "server"}}
        body["spec"]["alerts"] = {"channels": [{"name": "hook", "type": "webhook", "urlSecret": "hook"}],
                                  "policy": {"consecutiveViolations": 5}}
        world.apply(body)
        world.run_now("fresh")
        world.wait_for_evaluations("fresh", 1)
        wait_until(lambda: any(r.json().get("kind") == "rollback" for r in recorder.requests_to("/alerts")), 30,
                   interval=0.5, what="the refusal alert")
        alert = next(r.json() for r in recorder.requests_to("/alerts") if r.json().get("kind") == "rollback")
        assert "healthy" in str(alert).lower()
        assert _served(world, "new-model", "image") == "5"
        decision = world.read("fresh")["status"]["rollback"]["lastDecision"]
        assert decision["action"] == "refuse", decision
    finally:
        recorder.stop()


ISVC_CRD = Path(__file__).resolve().parents[1] / "rollback" / "inferenceservice-crd.yaml"


def _storage_uri(world: MonitorWorld) -> str:
    isvc = world.custom.get_namespaced_custom_object("serving.kserve.io", "v1beta1", world.namespace,
                                                     "inferenceservices", "credit")
    return str(isvc["spec"]["predictor"]["model"]["storageUri"])


def _set_storage_uri(world: MonitorWorld, version: str) -> None:
    world.custom.patch_namespaced_custom_object(
        "serving.kserve.io", "v1beta1", world.namespace, "inferenceservices", "credit",
        {"spec": {"predictor": {"model": {"storageUri": f"s3://models/credit/v{version}/"}}}})
    world.custom.patch_namespaced_custom_object_status(
        "serving.kserve.io", "v1beta1", world.namespace, "inferenceservices", "credit",
        {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "PredictorReady"}]}})


def test_manual_rollback_of_an_inference_service_waits_for_approval(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    import kubernetes
    import yaml

    extensions = kubernetes.client.ApiextensionsV1Api(world.client)
    try:
        extensions.create_custom_resource_definition(yaml.safe_load(ISVC_CRD.read_text()))
    except kubernetes.client.exceptions.ApiException as error:
        assert error.status == 409
    wait_until(lambda: world.custom.list_namespaced_custom_object("serving.kserve.io", "v1beta1", world.namespace,
                                                                  "inferenceservices") is not None, 30,
               what="the InferenceService kind served")
    world.custom.create_namespaced_custom_object("serving.kserve.io", "v1beta1", world.namespace,
                                                 "inferenceservices", {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "credit"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/credit/v1/"}}}})
    _set_storage_uri(world, "1")

    world.upload_credit_data("reference/", 10_000, seed=80, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=81, drift=0.0)
    body = world.monitor("isvc")
    body["spec"]["rollback"] = {"enabled": True, "mode": "Manual", "consecutiveViolations": 1, "target": {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": "credit",
        "valueTemplate": "s3://models/credit/v{version}/"}}
    world.apply(body)
    world.run_now("isvc")
    monitor = world.wait_for_evaluations("isvc", 1)
    assert monitor["status"]["lastEvaluation"]["modelVersion"] == "1", monitor["status"]["lastEvaluation"]

    _set_storage_uri(world, "2")
    world.upload_credit_data("current/", 3_000, seed=82, drift=1.0)
    world.run_now("isvc")
    world.wait_for_evaluations("isvc", 2)
    wait_until(lambda: (world.read("isvc")["status"].get("rollback") or {}).get("proposal"), 30, interval=0.5,
               what="the rollback proposal")
    proposal = world.read("isvc")["status"]["rollback"]["proposal"]
    assert proposal["fromVersion"] == "2" and proposal["toVersion"] == "1", proposal
    assert _storage_uri(world) == "s3://models/credit/v2/"  # nothing happens without approval

    world.custom.patch_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                "isvc", {"metadata": {"annotations": {
                                                    "modelmonitor.io/approve-rollback": "1"}}})
    wait_until(lambda: _storage_uri(world) == "s3://models/credit/v1/", 60, interval=0.5,
               what="the InferenceService's storageUri rolled back to v1")
    wait_until(lambda: condition(world.read("isvc"), "RolledBack")["status"] == "True", 30, interval=0.5,
               what="the RolledBack condition")
    monitor = world.read("isvc")
    assert "modelmonitor.io/approve-rollback" not in (monitor["metadata"].get("annotations") or {})
    assert monitor["status"]["rollback"]["history"][-1]["approved"] is True
