"""The project on a real node: containerd 2.x + runc + kubelet + kube-proxy + kube-scheduler, the project's own
image (`make image`), pods on the harness's bridge network (tests/harness/node.py).

What only a real node can show: the Node is Ready with a `containerd://2.x` runtime and authenticates as
`system:node:<name>` (refused what the Node authorizer does not grant); an evaluation Job's pod runs in a
container of the project's image (its `imageID` is the image podman built, its `containerID` a containerd one)
as the image's non-root user on a read-only root file system, reads MinIO over the pod network and its verdict
reaches the monitor's status; `kubectl logs` shows the evaluator's output; a memory limit ends in an OOM kill
that the monitor reports; the Job's `activeDeadlineSeconds` stops a run; a Job whose pod is killed retries.

The module uses the session's cluster (its real node: one real node at a time), or starts its own when the session
runs on the node agent (MODELMONITOR_NODE=agent); test_real_node_teardown.py checks that a teardown leaves no
process, mount, bridge or iptables chain behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KubeCluster
from tests.harness.minio import MinioServer, find_minio
from tests.harness.node import (
    GATEWAY,
    NODE_NAME,
    RealCluster,
    real_cluster,
    real_node_possible,
    real_node_requested,
)
from tests.harness.processes import ManagedProcess, free_port, wait_until
from tests.harness.silent_server import silent_endpoint
from tests.integration.conftest import MonitorWorld, condition

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = REPO_ROOT / "bin" / "kubectl"

pytestmark = [
    pytest.mark.cluster, pytest.mark.s3,
    pytest.mark.skipif(os.environ.get("USE_EXISTING_CLUSTER") == "1", reason="starts its own local real node"),
]


@dataclass
class Stack:
    cluster: RealCluster
    kube: KubeCluster
    s3: MinioServer
    operator: ManagedProcess

    def kubectl(self, *args: str, check: bool = True, kubeconfig: Path | None = None) -> str:
        env = self.kube.env | ({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})
        result = subprocess.run([str(KUBECTL), *args], env=env, text=True, capture_output=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result.stdout + (result.stderr if not check else "")


@contextlib.contextmanager
def _cluster(request: pytest.FixtureRequest, workdir: Path) -> Iterator[RealCluster]:
    """The session's cluster when it has the real node (the default; one node at a time), else our own."""
    if real_node_requested():
        session: KubeCluster = request.getfixturevalue("kube_cluster")
        assert session.real is not None
        yield session.real
        return
    reason = real_node_possible()
    if reason:
        pytest.fail(f"this machine cannot run the real node: {reason}")
    started = time.monotonic()
    with real_cluster(workdir / "cluster") as cluster:
        print(f"real cluster up in {time.monotonic() - started:.1f} s; node timings {cluster.node.timings}")
        yield cluster


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-realnode-"))
    try:
        with _cluster(request, workdir) as cluster:
            kube = KubeCluster(cluster.plane.kubeconfig, cluster.plane.server, existing=False, plane=cluster.plane,
                               real=cluster)
            (workdir / "minio").mkdir()
            s3 = MinioServer(workdir / "minio", find_minio(), host=GATEWAY)
            s3.start()
            liveness = free_port()
            operator = ManagedProcess("operator", [
                sys.executable, "-m", "modelmonitor.cli", "operator", "--all-namespaces",
                f"--liveness=http://127.0.0.1:{liveness}/healthz", f"--metrics-port={free_port()}",
                f"--evaluator-image={cluster.image}", "--log-format=plain", "--verbose",
                # MinIO and the deadline test's silent endpoint listen on the bridge, where the pods reach them
                *s3.outbound_flags(),
            ], workdir / "operator.log", env=kube.env)
            try:
                subprocess.run([str(KUBECTL), "apply", "--server-side", "-f", str(REPO_ROOT / "crds")], env=kube.env,
                               check=True, capture_output=True)
                wait_until(lambda: _ok(f"http://127.0.0.1:{liveness}/healthz"), 60, what="the operator's liveness")
                yield Stack(cluster, kube, s3, operator)
            finally:
                operator.stop()
                s3.stop()
                if os.environ.get("KEEP_TEST_LOGS") == "1":
                    shutil.copytree(workdir, Path(tempfile.mkdtemp(prefix="modelmonitor-realnode-logs-")) / "logs",
                                    ignore=shutil.ignore_patterns("*.sock", "root", "state"), dirs_exist_ok=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


@pytest.fixture
def world(stack: Stack) -> Iterator[MonitorWorld]:
    created = MonitorWorld(stack.kube, stack.s3)
    created.upload_credit_data("reference/", 5_000, seed=21, drift=0.0)
    created.upload_credit_data("current/", 2_000, seed=22, drift=0.0)
    yield created
    created.client.close()


def _job_pods(world: MonitorWorld, monitor: str) -> list[Any]:
    jobs = world.batch.list_namespaced_job(world.namespace, label_selector=f"modelmonitor.io/monitor={monitor}")
    pods: list[Any] = []
    for job in jobs.items:
        pods += world.core.list_namespaced_pod(world.namespace,
                                               label_selector=f"job-name={job.metadata.name}").items
    return pods


def test_the_node_is_ready_with_containerd_2_and_authenticates_as_a_node(stack: Stack) -> None:
    wide = stack.kubectl("get", "nodes", "-o", "wide").splitlines()
    assert wide[0].split()[:2] == ["NAME", "STATUS"]
    row = wide[1].split()
    assert row[0] == NODE_NAME and row[1] == "Ready", wide
    assert row[-1].startswith("containerd://2."), wide
    assert GATEWAY in row, wide  # INTERNAL-IP: the harness's bridge
    node = json.loads(stack.kubectl("get", "node", NODE_NAME, "-o", "json"))
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.2"
    # The kubelet's own credentials: the Node authorizer grants what its pods need, nothing else.
    kubelet_config = stack.cluster.node.workdir / "pki" / "kubelet.kubeconfig"
    denied = stack.kubectl("get", "secrets", "-A", check=False, kubeconfig=kubelet_config)
    assert "Forbidden" in denied and "system:node:modelmonitor-node" in denied, denied
    assert stack.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubelet_config, check=False).find(
        "system:nodes") >= 0


def test_an_evaluation_runs_in_a_container_of_the_projects_image(stack: Stack, world: MonitorWorld) -> None:
    world.apply(world.monitor("real-node"))
    world.run_now("real-node")
    monitor = world.wait_for_evaluations("real-node", 1, timeout=240)
    status = monitor["status"]
    assert status["lastEvaluation"]["outcome"] == "evaluated", json.dumps(status["lastEvaluation"])
    assert status["phase"] == "Healthy", status
    assert 0.6 < status["lastEvaluation"]["metrics"]["accuracy"] <= 1

    (pod,) = _job_pods(world, "real-node")
    (container,) = pod.status.container_statuses
    assert container.image_id.endswith(stack.cluster.image_id), (container.image_id, stack.cluster.image_id)
    assert container.container_id.startswith("containerd://")
    assert container.state.terminated.exit_code == 0
    assert pod.spec.node_name == NODE_NAME and pod.status.pod_ip.startswith("10.244.0.")
    spec = pod.spec.containers[0]
    assert spec.image == stack.cluster.image and spec.image_pull_policy in ("IfNotPresent", "Never")
    assert spec.security_context.read_only_root_filesystem is True
    # The evaluator's output, through the API server and the kubelet (the apiserver's client certificate).
    logs = world.kubectl("logs", pod.metadata.name)
    assert logs.strip(), "the evaluator printed nothing"


def test_a_memory_limit_ends_in_an_oom_kill_the_monitor_reports(stack: Stack, world: MonitorWorld) -> None:
    world.apply(world.monitor("oom", evaluation={
        "resources": {"limits": {"memory": "48Mi"}}, "backoffLimit": 0}))
    world.run_now("oom")
    monitor = world.wait_for_evaluations("oom", 1, timeout=240)
    failed = condition(monitor, "EvaluationFailed")
    assert failed["status"] == "True", failed
    pods = _job_pods(world, "oom")
    reasons = [c.state.terminated.reason for pod in pods for c in pod.status.container_statuses or []
               if c.state.terminated]
    assert reasons == ["OOMKilled"], reasons
    assert "OOMKilled" in failed["reason"] + failed["message"], failed


def test_the_jobs_deadline_stops_an_evaluation(stack: Stack, world: MonitorWorld) -> None:
    # An S3 endpoint on the node's bridge that never answers: the evaluation waits (for its 30 s read budget), so
    # only the Job's deadline can end it, however fast the evaluator is.
    with silent_endpoint(GATEWAY) as endpoint:
        body = world.monitor("deadline", evaluation={"timeout": "3s", "backoffLimit": 0})
        body["spec"]["data"]["store"]["endpoint"] = endpoint
        world.apply(body)
        world.run_now("deadline")
        monitor = world.wait_for_evaluations("deadline", 1, timeout=240)
    failed = condition(monitor, "EvaluationFailed")
    assert failed["status"] == "True" and "Deadline" in failed["reason"] + failed["message"], failed


def test_a_job_whose_pod_is_killed_is_retried(stack: Stack, world: MonitorWorld) -> None:
    world.apply(world.monitor("retried", evaluation={"backoffLimit": 2}))
    world.run_now("retried")
    first: dict[str, Any] = {}

    def started() -> bool:
        for pod in _job_pods(world, "retried"):
            for status in pod.status.container_statuses or []:
                if status.state.running and status.container_id:
                    first["pod"], first["container"] = pod.metadata.name, status.container_id
                    return True
        return False

    wait_until(started, 120, interval=0.05, what="the evaluation container to start")
    # SIGKILL the evaluator's container (the kernel's view of an OOM kill or a node problem): the pod fails, the
    # Job controller makes a new one, and that one's result is the evaluation.
    stack.cluster.node.kill_container(first["container"])
    monitor = world.wait_for_evaluations("retried", 1, timeout=240)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]["lastEvaluation"]
    exits = {pod.metadata.name: [c.state.terminated.exit_code for c in pod.status.container_statuses]
             for pod in _job_pods(world, "retried")}
    assert exits.pop(first["pod"]) == [137], exits
    assert list(exits.values()) == [[0]], exits


def _helm(stack: Stack, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.kube.env | {f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
    return subprocess.run([str(REPO_ROOT / "bin" / "helm"), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_the_chart_runs_the_image_survives_a_pod_deletion_upgrades_and_uninstalls(
    stack: Stack, world: MonitorWorld, tmp_path: Path
) -> None:
    """`helm install` with the real image: two replicas elect a leader through the `kubernetes` Service (pod
    network -> kube-proxy -> the API server on the bridge), the leader turns a monitor into a verdict; deleting
    the leader's pod hands the Lease over and the Deployment replaces the pod; `helm upgrade` rolls out,
    `helm uninstall` removes the operator."""
    stack.operator.stop()  # this module's host operator would act on the same monitors
    import kubernetes

    leases: Any = kubernetes.client.CoordinationV1Api(world.client)
    apps: Any = kubernetes.client.AppsV1Api(world.client)
    world.core.delete_namespaced_service_account("modelmonitor-evaluator", world.namespace)  # the chart makes it
    namespace = stack.kube.create_namespace("mm-system")
    release = "mm"
    fullname = f"{release}-modelmonitor-operator"
    repository, _, tag = stack.cluster.image.rpartition(":")
    installed = _helm(stack, tmp_path, "install", release, str(REPO_ROOT / "charts" / "modelmonitor-operator"),
                      "--namespace", namespace, "--set", f"image.repository={repository}", "--set",
                      f"image.tag={tag}", "--set", "image.pullPolicy=Never", "--set", "replicaCount=2",
                      "--set-json", f"watchNamespaces={json.dumps([world.namespace])}",
                      "--set-json", 'operator.extraArgs=["--log-format=plain"]',
                      # deny by default: the data store (MinIO on the bridge) is allowed as an installer would
                      "--set-json", f"operator.outbound.s3={json.dumps(stack.s3.chart_outbound())}",
                      "--wait", "--timeout=180s")
    assert installed.returncode == 0, installed.stderr

    def pods() -> list[Any]:
        listed = world.core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=operator")
        return [pod for pod in listed.items if not pod.metadata.deletion_timestamp]

    for pod in pods():
        (container,) = pod.status.container_statuses
        assert container.image_id.endswith(stack.cluster.image_id) and container.ready, container
        assert container.container_id.startswith("containerd://")

    def leader() -> str | None:
        lease = leases.read_namespaced_lease(f"{fullname}-leader", namespace)
        names = {pod.metadata.name for pod in pods() if pod.status.phase == "Running"}
        return str(lease.spec.holder_identity) if lease.spec.holder_identity in names else None

    wait_until(leader, 90, interval=0.5, what="an operator pod to hold the leader Lease")
    first_leader = leader()
    world.apply(world.monitor("charted"))
    world.run_now("charted")
    monitor = world.wait_for_evaluations("charted", 1, timeout=180)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]["lastEvaluation"]

    # The leader's pod deleted: the standby takes the Lease over, the Deployment replaces the pod.
    world.core.delete_namespaced_pod(first_leader, namespace)
    wait_until(lambda: leader() not in (None, first_leader), 120, interval=0.5, what="a new leader")
    wait_until(lambda: len([p for p in pods() if p.status.phase == "Running"]) == 2, 120, interval=0.5,
               what="the Deployment to replace the deleted pod")
    world.run_now("charted")
    monitor = world.wait_for_evaluations("charted", 2, timeout=180)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]["lastEvaluation"]

    upgraded = _helm(stack, tmp_path, "upgrade", release, str(REPO_ROOT / "charts" / "modelmonitor-operator"),
                     "--namespace", namespace, "--reuse-values", "--set", "replicaCount=1", "--wait",
                     "--timeout=180s")
    assert upgraded.returncode == 0, upgraded.stderr
    deployment = apps.read_namespaced_deployment(fullname, namespace)
    assert deployment.spec.replicas == 1 and deployment.status.ready_replicas == 1
    assert "REVISION: 2" in upgraded.stdout

    uninstalled = _helm(stack, tmp_path, "uninstall", release, "--namespace", namespace, "--wait")
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert not apps.list_namespaced_deployment(namespace).items
    wait_until(lambda: not pods(), 60, interval=0.5, what="the operator pods to go")
