"""The local control plane behaves like a cluster: CRDs serve custom objects, Jobs run pods to completion
through the real Job controller (pods run by the test node agent, or in the project's image on the real node),
and owner references garbage-collect."""

from __future__ import annotations

import base64
import time
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from tests.conftest import KubeCluster
from tests.harness.processes import wait_until
from tests.integration.conftest import EVALUATOR_IMAGE

pytestmark = pytest.mark.cluster

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.modelmonitor.io"},
    "spec": {
        "group": "test.modelmonitor.io",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}}}},
        }],
    },
}


def _job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, **spec, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": EVALUATOR_IMAGE, "command": ["python", "-c", script],
                            "terminationMessagePolicy": "FallbackToLogsOnError"}],
        }}},
    }


def _wait_job(batch: kubernetes.client.BatchV1Api, namespace: str, name: str, condition: str) -> Any:
    found: dict[str, Any] = {}

    def finished() -> bool:
        job = batch.read_namespaced_job(name, namespace)
        for item in job.status.conditions or []:
            if item.type in ("Complete", "Failed") and item.status == "True":
                found["job"], found["type"] = job, item.type
                return True
        return False

    wait_until(finished, 60, interval=0.2, what=f"job {namespace}/{name} to finish")
    assert found["type"] == condition, found["job"].status
    return found["job"]


def _terminated(core: kubernetes.client.CoreV1Api, namespace: str, job_name: str) -> Any:
    pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    assert len(pods) == 1
    return pods[0].status.container_statuses[0].state.terminated


def test_custom_resource_definition_serves_custom_objects(kube_cluster: KubeCluster) -> None:
    with kube_cluster.api_client() as client:
        extensions = kubernetes.client.ApiextensionsV1Api(client)
        try:
            extensions.create_custom_resource_definition(WIDGET_CRD)
        except ApiException as error:
            assert error.status == 409
        wait_until(lambda: any(c.type == "Established" and c.status == "True" for c in
                               extensions.read_custom_resource_definition(WIDGET_CRD["metadata"]["name"])
                               .status.conditions or []), 30, what="CRD established")
        namespace = kube_cluster.create_namespace()
        custom = kubernetes.client.CustomObjectsApi(client)
        body = {"apiVersion": "test.modelmonitor.io/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": 3}}
        wait_until(lambda: custom.create_namespaced_custom_object("test.modelmonitor.io", "v1", namespace,
                                                                  "widgets", body), 30, what="widget created")
        read = custom.get_namespaced_custom_object("test.modelmonitor.io", "v1", namespace, "widgets", "w")
        assert read["spec"] == {"size": 3}
        body["metadata"]["name"] = "too-small"
        body["spec"]["size"] = 0
        with pytest.raises(ApiException) as refused:
            custom.create_namespaced_custom_object("test.modelmonitor.io", "v1", namespace, "widgets", body)
        assert refused.value.status == 422 and "spec.size" in refused.value.body


def test_job_runs_to_completion_and_reports_its_termination_message(
    kube_cluster: KubeCluster, node_agent: object
) -> None:
    namespace = kube_cluster.create_namespace()
    script = ("import os, json; open('/dev/termination-log', 'w').write(json.dumps("
              "{'pod': os.environ['POD_NAME'], 'secret': os.environ['TOKEN'], "
              "'config': open('/etc/demo/greeting').read()}))")
    job = _job("writes-message", script)
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "demo", "key": "token"}}},
    ]
    container["volumeMounts"] = [{"name": "config", "mountPath": "/etc/demo", "readOnly": True}]
    job["spec"]["template"]["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "demo"}}]
    with kube_cluster.api_client() as client:
        core, batch = kubernetes.client.CoreV1Api(client), kubernetes.client.BatchV1Api(client)
        core.create_namespaced_secret(namespace, {"metadata": {"name": "demo"},
                                                  "data": {"token": base64.b64encode(b"s3cr3t").decode()}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "demo"}, "data": {"greeting": "hello"}})
        batch.create_namespaced_job(namespace, job)
        _wait_job(batch, namespace, "writes-message", "Complete")
        terminated = _terminated(core, namespace, "writes-message")
        assert terminated.exit_code == 0
        import json

        message = json.loads(terminated.message)
        assert message["pod"].startswith("writes-message-")
        assert message == {"pod": message["pod"], "secret": "s3cr3t", "config": "hello"}


def test_failing_job_reports_exit_code_and_log_tail(kube_cluster: KubeCluster, node_agent: object) -> None:
    namespace = kube_cluster.create_namespace()
    with kube_cluster.api_client() as client:
        core, batch = kubernetes.client.CoreV1Api(client), kubernetes.client.BatchV1Api(client)
        batch.create_namespaced_job(namespace, _job("fails", "import sys; print('bucket missing'); sys.exit(4)"))
        job = _wait_job(batch, namespace, "fails", "Failed")
        assert any(c.reason == "BackoffLimitExceeded" for c in job.status.conditions)
        terminated = _terminated(core, namespace, "fails")
        assert terminated.exit_code == 4
        assert "bucket missing" in terminated.message


def test_active_deadline_kills_the_pod(kube_cluster: KubeCluster, node_agent: object) -> None:
    namespace = kube_cluster.create_namespace()
    with kube_cluster.api_client() as client:
        batch = kubernetes.client.BatchV1Api(client)
        started = time.monotonic()
        batch.create_namespaced_job(namespace, _job("sleeps", "import time; time.sleep(120)",
                                                    activeDeadlineSeconds=3))
        job = _wait_job(batch, namespace, "sleeps", "Failed")
        assert any(c.reason == "DeadlineExceeded" for c in job.status.conditions)
        assert time.monotonic() - started < 60


def test_deleting_an_owner_garbage_collects_what_it_owns(kube_cluster: KubeCluster) -> None:
    namespace = kube_cluster.create_namespace()
    with kube_cluster.api_client() as client:
        core = kubernetes.client.CoreV1Api(client)
        owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
        reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid,
                     "controller": True, "blockOwnerDeletion": True}
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "owned",
                                                                   "ownerReferences": [reference]}})
        core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

        def owned_gone() -> bool:
            try:
                core.read_namespaced_config_map("owned", namespace)
            except ApiException as error:
                return error.status == 404
            return False

        wait_until(owned_gone, 60, interval=0.3, what="the owned ConfigMap to be garbage-collected")
