"""`helm install` of the chart, its operator Pod running in the cluster, and a monitor reaching a verdict.

The session's node runs the operator's container with the Pod's environment and volumes, including the
service-account token obtained through the TokenRequest API, so the operator authenticates as the chart's
ServiceAccount with only the chart's RBAC: kubelet + containerd in the project's image (or, with
MODELMONITOR_NODE=agent, the node agent as a local process: image repository `modelmonitor-operator`). The
operator then turns a monitor into an evaluation Job, which the same node runs (against MinIO), and writes the
verdict. The same token is refused what the chart does not grant.

The chart's operator is started in one watched namespace only (`watchNamespaces`), so no other operator of the
session may act there: the test checks that exactly one Job was made and that the chart's operator made it.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from tests.conftest import KubeCluster
from tests.harness.minio import MinioServer
from tests.harness.node_agent import NodeAgent
from tests.harness.processes import free_port, wait_until
from tests.integration.operator.conftest import MonitorWorld, condition
from tests.unit.chart.rendering import CHART_DIR, render, tool

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

IMAGE_REPOSITORY = "modelmonitor-operator"  # what the node agent runs (tests/harness/node_agent.py)
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass
class Installed:
    release: str
    namespace: str
    fullname: str
    pod: str
    agent: NodeAgent | None  # None: the real node of `cluster` runs the pod
    cluster: KubeCluster
    world: MonitorWorld

    def operator_log(self) -> str:
        if self.agent is not None:
            return self.agent.logs(self.namespace, self.pod, "operator")
        return str(self.world.core.read_namespaced_pod_log(self.pod, self.namespace, container="operator"))

    def operator_pid(self) -> int | None:
        """The host PID of the operator container's process (its /proc/<pid>/environ is read), None if gone."""
        if self.agent is not None:
            process = self.agent.container_process(self.namespace, self.pod, "operator")
            return process.pid if process is not None and process.poll() is None else None
        assert self.cluster.real is not None
        pod = self.world.core.read_namespaced_pod(self.pod, self.namespace)
        [status] = [item for item in pod.status.container_statuses if item.name == "operator"]
        return self.cluster.real.node.container_pid(status.container_id)

    def pod_directory(self) -> Path | None:
        """Where the node keeps the pod's volumes: `volumes/**/kube-api-access-*/token` is the projected token."""
        if self.agent is not None:
            return self.agent.pod_directory(self.namespace, self.pod)
        assert self.cluster.real is not None
        uid = self.world.core.read_namespaced_pod(self.pod, self.namespace).metadata.uid
        return self.cluster.real.node.pod_directory(uid)


def helm(cluster: KubeCluster, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cluster.env | {f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    return subprocess.run([str(tool("helm")), *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def _jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


@pytest.fixture
def installed(
    kube_cluster: KubeCluster, node_agent: NodeAgent | None, s3_server: MinioServer, tmp_path: Path
) -> Iterator[Installed]:
    if node_agent is None and kube_cluster.real is None:
        pytest.skip("reads the operator pod's process and volumes on the session's node; on an existing cluster, "
                    "install it yourself")
    if kube_cluster.real is not None:  # the project's image, already in the node's containerd
        repository, _, tag = kube_cluster.real.image.rpartition(":")
        image = ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
                 "--set", "image.pullPolicy=Never"]
    else:
        image = ["--set", f"image.repository={IMAGE_REPOSITORY}"]
    world = MonitorWorld(kube_cluster, s3_server)
    # The chart creates the evaluator's ServiceAccount in each watched namespace; MonitorWorld made one already.
    world.core.delete_namespaced_service_account("modelmonitor-evaluator", world.namespace)
    namespace = kube_cluster.create_namespace("mm-system")
    release = f"mm-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-modelmonitor-operator"
    installation = helm(
        kube_cluster, tmp_path, "install", release, str(CHART_DIR), "--namespace", namespace,
        *image,
        "--set-json", f"watchNamespaces={json.dumps([world.namespace])}",
        # The agent runs Pods on the host network: ports of its own, not the defaults 8080 / 9090.
        "--set", f"operator.healthPort={free_port()}", "--set", f"metrics.port={free_port()}",
        "--set-json", 'operator.extraArgs=["--log-format=plain"]',
        # Deny by default: the data store's endpoint (the session's MinIO) is allowed like a tenant's would be.
        "--set-json", f"operator.outbound.s3={json.dumps(world.s3.chart_outbound())}",
        "--wait", "--timeout=180s",
    )
    try:
        assert installation.returncode == 0, installation.stderr
        pods = world.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=operator")
        assert [pod.status.phase for pod in pods.items] == ["Running"], pods.items
        yield Installed(release, namespace, fullname, pods.items[0].metadata.name, node_agent, kube_cluster,
                        world)
    finally:
        uninstalled = helm(kube_cluster, tmp_path, "uninstall", release, "--namespace", namespace, "--wait")
        world.client.close()
        assert uninstalled.returncode == 0, uninstalled.stderr


def test_the_charts_operator_runs_in_the_cluster_and_a_monitor_reaches_a_verdict(installed: Installed) -> None:
    world = installed.world
    # The Pod's process: in-cluster configuration only (no kubeconfig), a TokenRequest token for the chart's
    # ServiceAccount bound to this Pod.
    pid = installed.operator_pid()
    assert pid is not None
    environment = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
    )
    assert environment["KUBERNETES_SERVICE_HOST"] and environment["KUBERNETES_SERVICE_PORT"]
    assert "KUBECONFIG" not in environment
    assert environment["POD_NAME"] == installed.pod and environment["POD_NAMESPACE"] == installed.namespace
    token = _pod_token(installed)
    claims = _jwt_claims(token)
    assert claims["sub"] == f"system:serviceaccount:{installed.namespace}:{installed.fullname}"
    assert claims["kubernetes.io"]["pod"]["name"] == installed.pod

    # It leads (the chart always elects a leader), watching the one namespace it was given.
    leases: Any = kubernetes.client.CoordinationV1Api(world.client)

    def leads() -> bool:
        lease = leases.read_namespaced_lease(f"{installed.fullname}-leader", installed.namespace)
        return bool(lease.spec.holder_identity == installed.pod)

    try:
        wait_until(leads, 60, interval=0.5, what="the operator Pod to hold the leader Lease")
    except TimeoutError as error:
        raise AssertionError(installed.operator_log()[-4000:]) from error

    world.upload_credit_data("reference/", 5_000, seed=21, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=22, drift=0.0)
    world.apply(world.monitor("in-cluster"))
    world.run_now("in-cluster")
    monitor = world.wait_for_evaluations("in-cluster", 1, timeout=180)
    status = monitor["status"]
    assert status["lastEvaluation"]["outcome"] == "evaluated", json.dumps(status["lastEvaluation"])
    assert status["phase"] == "Healthy", status
    assert condition(monitor, "Ready")["status"] == "True"
    assert 0.6 < status["lastEvaluation"]["metrics"]["accuracy"] <= 1

    jobs = world.batch.list_namespaced_job(world.namespace, label_selector="modelmonitor.io/monitor=in-cluster").items
    assert len(jobs) == 1
    job_pods = world.core.list_namespaced_pod(world.namespace, label_selector=f"job-name={jobs[0].metadata.name}")
    assert [pod.spec.service_account_name for pod in job_pods.items] == ["modelmonitor-evaluator"]
    assert "Handler 'run-now' succeeded" in installed.operator_log()
    # The chart's RBAC was enough. The one refusal tolerated: kopf lists Namespaces cluster-wide even for a
    # namespaced operator and, refused (the chart does not grant it with watchNamespaces), falls back to the
    # namespaces it was given.
    refusals = [line for line in installed.operator_log().splitlines()
                if "forbidden" in line.lower() and 'cannot list resource "namespaces"' not in line
                and "Not enough permissions to list namespaces" not in line]
    assert refusals == []


def test_the_operators_token_is_refused_what_the_chart_does_not_grant(installed: Installed) -> None:
    world = installed.world
    configuration = kubernetes.client.Configuration()
    source = world.client.configuration
    configuration.host, configuration.ssl_ca_cert = source.host, source.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {_pod_token(installed)}"}
    with kubernetes.client.ApiClient(configuration) as client:
        core: Any = kubernetes.client.CoreV1Api(client)
        apps: Any = kubernetes.client.AppsV1Api(client)
        custom: Any = kubernetes.client.CustomObjectsApi(client)
        # What it needs works with this token ...
        custom.list_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors")
        core.read_namespaced_secret("s3-creds", world.namespace)
        # ... and what it was not granted is refused: listing Secrets, deleting them, running Pods, patching
        # workloads (no rollback targets in the values), anything outside the watched namespace.
        forbidden: dict[str, Callable[[], object]] = {
            "list secrets": lambda: core.list_namespaced_secret(world.namespace),
            "delete a secret": lambda: core.delete_namespaced_secret("s3-creds", world.namespace),
            "create a pod": lambda: core.create_namespaced_pod(world.namespace, {
                "metadata": {"name": "intruder"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
            "patch a deployment": lambda: apps.patch_namespaced_deployment(
                installed.fullname, installed.namespace, {"spec": {"replicas": 2}}),
            "read monitors elsewhere": lambda: custom.list_namespaced_custom_object(
                "modelmonitor.io", "v1alpha1", "default", "modelmonitors"),
            "delete a namespace": lambda: core.delete_namespace(world.namespace),
        }
        statuses = {}
        for what, attempt in forbidden.items():
            with pytest.raises(ApiException) as refused:
                attempt()
            statuses[what] = refused.value.status
        assert statuses == dict.fromkeys(forbidden, 403)
    world.core.read_namespace(world.namespace)  # still there


def _pod_token(installed: Installed) -> str:
    directory = installed.pod_directory()
    assert directory is not None
    tokens = sorted((directory / "volumes").glob("**/kube-api-access-*/token"))
    assert len(tokens) == 1, tokens
    return tokens[0].read_text().strip()


def test_the_charts_operator_flags_are_the_operators() -> None:
    """Every flag the chart passes is one `modelmonitor operator --help` lists."""
    help_text = subprocess.run(
        [sys.executable, "-m", "modelmonitor.cli", "operator", "--help"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    known = set(re.findall(r"(--[a-z][a-z-]+)", help_text))
    for values in ({}, {"watchNamespaces": ["risk", "fraud"]}, {"operator": {"extraArgs": ["--verbose"]}}):
        deployment = next(m for m in render(values) if m["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["modelmonitor", "operator"]
        flags = {argument.split("=", 1)[0] for argument in container["args"]}
        assert flags and flags <= known, flags - known
