"""A monitor from `kubectl apply` to a verdict in its status, through the real control plane, the operator
process, evaluation Jobs run by the node agent, and MinIO."""

from __future__ import annotations

import base64
import json

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def test_monitor_gets_owned_objects_and_a_verdict(world: MonitorWorld, operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 20_000, seed=1, drift=0.0)
    world.upload_credit_data("current/", 5_000, seed=2, drift=0.0)
    world.apply(world.monitor("credit"))

    def owned_objects_exist() -> bool:
        world.batch.read_namespaced_cron_job("credit-eval", world.namespace)
        return True

    wait_until(owned_objects_exist, 60, interval=0.3, what="the monitor's CronJob")
    monitor = world.read("credit")
    cron_job = world.batch.read_namespaced_cron_job("credit-eval", world.namespace)
    assert cron_job.metadata.owner_references[0].uid == monitor["metadata"]["uid"]
    config_maps = world.core.list_namespaced_config_map(world.namespace,
                                                        label_selector="modelmonitor.io/monitor=credit").items
    assert config_maps and config_maps[0].metadata.owner_references[0].uid == monitor["metadata"]["uid"]
    assert world.s3.secret_key not in str(config_maps[0].data)

    world.run_now("credit")
    monitor = world.wait_for_evaluations("credit", 1)
    status = monitor["status"]
    assert status["lastEvaluation"]["outcome"] == "evaluated", json.dumps(status["lastEvaluation"])
    assert status["phase"] == "Healthy", status
    assert 0.6 < status["lastEvaluation"]["metrics"]["accuracy"] <= 1
    assert condition(monitor, "Ready")["status"] == "True"
    assert condition(monitor, "DataDrift")["status"] == "False"
    assert "modelmonitor.io/run-now" not in (monitor["metadata"].get("annotations") or {})
    # every declared rule is accounted for in status: each metric and each drift test, with its state
    checks = status["lastEvaluation"]["checks"]
    assert set(checks) == {"metric:accuracy", "metric:roc_auc", "drift-test:ks", "drift-test:chi2", "drift-test:psi"}
    assert checks["metric:accuracy"] == {"state": "ok", "value": pytest.approx(
        status["lastEvaluation"]["metrics"]["accuracy"], abs=1e-4)}
    assert {entry["state"] for entry in checks.values()} == {"ok"}

    table = world.kubectl("get", "mm", "credit")
    header, row = table.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "MODEL", "VERSION", "PHASE", "METRIC", "DRIFT"]
    assert row.split()[:4] == ["credit", "credit-scoring", "1", "Healthy"]
    assert f"accuracy={status['lastEvaluation']['metrics']['accuracy']:.4g}" in row


def test_drift_degrades_and_recovery_heals(world: MonitorWorld, operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 20_000, seed=3, drift=0.0)
    world.upload_credit_data("current/", 5_000, seed=4, drift=1.0)
    world.apply(world.monitor("drifty"))
    world.run_now("drifty")
    monitor = world.wait_for_evaluations("drifty", 1)
    assert monitor["status"]["phase"] == "Degraded", monitor["status"]
    assert condition(monitor, "DataDrift")["status"] == "True"
    drift_check = monitor["status"]["lastEvaluation"]["checks"]["drift-test:ks"]
    assert drift_check["state"] == "violated" and drift_check["severity"] in ("warning", "critical")

    world.upload_credit_data("current/", 5_000, seed=5, drift=0.0)
    world.run_now("drifty")
    monitor = world.wait_for_evaluations("drifty", 2)
    assert monitor["status"]["phase"] == "Healthy", monitor["status"]
    assert condition(monitor, "DataDrift")["status"] == "False"
    assert [entry["verdict"] for entry in monitor["status"]["history"]][:2] == ["healthy", "critical"]


def test_missing_bucket_is_evaluation_failed_then_cleared(world: MonitorWorld, operator: OperatorProcess) -> None:
    body = world.monitor("broken")
    body["spec"]["data"]["reference"]["uri"] = "s3://no-such-bucket-here/reference/"
    world.apply(body)
    world.run_now("broken")
    monitor = world.wait_for_evaluations("broken", 1)
    failed = condition(monitor, "EvaluationFailed")
    assert failed["status"] == "True", monitor["status"]
    assert "no-such-bucket-here" in failed["message"]
    assert monitor["status"]["phase"] == "Error"

    world.upload_credit_data("reference/", 10_000, seed=6, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=7, drift=0.0)
    world.apply(world.monitor("broken"))
    wait_until(lambda: world.batch.read_namespaced_cron_job("broken-eval", world.namespace).spec.job_template.spec
               .template.spec.containers, 30, what="cron job updated")
    world.run_now("broken")
    monitor = world.wait_for_evaluations("broken", 2)
    assert condition(monitor, "EvaluationFailed")["status"] == "False", monitor["status"]
    assert monitor["status"]["phase"] == "Healthy"


def test_deleting_a_monitor_collects_its_objects(world: MonitorWorld, operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 5_000, seed=8, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=9, drift=0.0)
    world.apply(world.monitor("short-lived"))
    world.run_now("short-lived")
    world.wait_for_evaluations("short-lived", 1)
    world.custom.delete_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                 "short-lived")

    def everything_gone() -> bool:
        selector = "modelmonitor.io/monitor=short-lived"
        jobs = world.batch.list_namespaced_job(world.namespace, label_selector=selector).items
        maps = world.core.list_namespaced_config_map(world.namespace, label_selector=selector).items
        try:
            world.batch.read_namespaced_cron_job("short-lived-eval", world.namespace)
        except ApiException as error:
            return error.status == 404 and not jobs and not maps
        return False

    wait_until(everything_gone, 60, interval=0.5, what="garbage collection of the monitor's objects")


def test_restart_between_job_completion_and_status_processes_once(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    world.upload_credit_data("reference/", 5_000, seed=10, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=11, drift=0.0)
    world.apply(world.monitor("restart"))
    world.run_now("restart")
    world.wait_for_evaluations("restart", 1)
    operator.kill()
    try:
        # While the operator is down, a Job finishes; a second one was already processed before.
        world.run_now("restart")  # nobody acts on the annotation yet
        monitor = world.read("restart")
        assert len(monitor["status"]["history"]) == 1
        # Clear the processed mark of the first Job too: the operator must still not count it twice.
        jobs = world.batch.list_namespaced_job(world.namespace, label_selector="modelmonitor.io/monitor=restart").items
        for job in jobs:
            world.batch.patch_namespaced_job(job.metadata.name, world.namespace,
                                             {"metadata": {"annotations": {"modelmonitor.io/processed": None}}})
    finally:
        operator.start()
    monitor = world.wait_for_evaluations("restart", 2)
    wait_until(lambda: all("modelmonitor.io/processed" in (j.metadata.annotations or {}) for j in
                           world.batch.list_namespaced_job(world.namespace,
                                                           label_selector="modelmonitor.io/monitor=restart").items),
               60, interval=0.5, what="every Job marked processed")
    monitor = world.read("restart")
    ids = [entry["id"] for entry in monitor["status"]["history"]]
    assert len(ids) == 2 and len(set(ids)) == 2, ids


def test_invalid_secret_reference_is_a_condition_not_a_crash(world: MonitorWorld, operator: OperatorProcess) -> None:
    body = world.monitor("no-secret")
    body["spec"]["data"]["store"]["credentialsSecret"] = "does-not-exist"
    world.apply(body)

    def reported() -> bool:
        status = world.read("no-secret").get("status") or {}
        return any(c["type"] == "Ready" and c.get("reason") == "SecretNotFound" for c in status.get("conditions", []))

    wait_until(reported, 60, interval=0.5, what="the SecretNotFound condition")
    ready = condition(world.read("no-secret"), "Ready")
    assert "spec.data.store.credentialsSecret" in ready["message"]
    with pytest.raises(ApiException):
        kubernetes.client.BatchV1Api(world.client).read_namespaced_cron_job("no-secret-eval", world.namespace)


def test_credentials_spelled_the_other_way_reach_the_evaluator(world: MonitorWorld, operator: OperatorProcess) -> None:
    """The operator reads only the key names of the credentials Secret, to reference them in the Job."""
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "s3-camel"}, "data": {
        "accessKeyId": base64.b64encode(world.s3.access_key.encode()).decode(),
        "secretAccessKey": base64.b64encode(world.s3.secret_key.encode()).decode()}})
    world.upload_credit_data("reference/", 2_000, seed=170, drift=0.0)
    world.upload_credit_data("current/", 1_000, seed=171, drift=0.0)
    body = world.monitor("camel")
    body["spec"]["data"]["store"]["credentialsSecret"] = "s3-camel"
    world.apply(body)
    wait_until(lambda: condition(world.read("camel"), "Ready")["status"] == "True", 60, interval=0.5,
               what="the monitor Ready")
    cron_job = world.batch.read_namespaced_cron_job("camel-eval", world.namespace)
    [container] = cron_job.spec.job_template.spec.template.spec.containers
    references = {item.name: (item.value_from.secret_key_ref.name, item.value_from.secret_key_ref.key)
                  for item in container.env or [] if item.value_from and item.value_from.secret_key_ref}
    assert references["AWS_ACCESS_KEY_ID"] == ("s3-camel", "accessKeyId")
    assert references["AWS_SECRET_ACCESS_KEY"] == ("s3-camel", "secretAccessKey")
    assert world.s3.secret_key not in json.dumps(cron_job.to_dict(), default=str)
    world.run_now("camel")
    monitor = world.wait_for_evaluations("camel", 1)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated"
