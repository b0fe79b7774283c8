"""Session fixtures for the real parts the tests run against.

- `kube_cluster`: etcd + kube-apiserver + kube-controller-manager on loopback (tests/harness/controlplane.py),
  or, with `USE_EXISTING_CLUSTER=1`, the cluster of the current kubeconfig (kind, k3d, a real cluster).
- The session's cluster has a real node (containerd + kubelet running the project's image, tests/harness/node.py;
  its API server and MinIO on the node bridge's gateway address); every container that runs there is checked
  at the end of the session to come from the project's image (tests/harness/pod_audit.py).
- `node_agent`: None on the real node and on an existing cluster. With `MODELMONITOR_NODE=agent` the session
  uses the stand-in for kubelet that runs pods as local processes instead (tests/harness/node_agent.py): a quick
  loop while editing, or a machine without root.
- `s3_server`: MinIO on loopback with generated credentials (tests/harness/minio.py).

Every process a fixture starts is stopped when the session ends, also when a test fails or the run is
interrupted (and the kernel kills them if pytest itself dies).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.controlplane import LocalControlPlane, find_binaries
from tests.harness.minio import MinioServer, find_minio
from tests.harness.node import GATEWAY, RealCluster, project_image_reference, real_cluster, real_node_requested
from tests.harness.node_agent import NodeAgent
from tests.harness.pod_audit import PodAudit

if real_node_requested():
    # Evaluation Jobs run the project's image (tests/integration/conftest.py reads this at import).
    os.environ.setdefault("MODELMONITOR_EVALUATOR_IMAGE", project_image_reference())


@dataclass
class KubeCluster:
    """What a test needs to talk to the cluster, the same for the local control plane and an existing one."""

    kubeconfig: Path
    server: str
    existing: bool
    plane: LocalControlPlane | None = None
    real: RealCluster | None = None  # the real node's cluster (None with MODELMONITOR_NODE=agent)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        repo_bin = Path(__file__).resolve().parents[1] / "bin"
        env["PATH"] = f"{repo_bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def api_client(self) -> Any:
        import kubernetes

        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)

    def create_namespace(self, prefix: str = "test") -> str:
        """A fresh namespace for one test (names are unique, so tests never see each other's objects)."""
        import kubernetes

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        with self.api_client() as client:
            kubernetes.client.CoreV1Api(client).create_namespace({"metadata": {"name": name}})
        return name


_AUDIT_SUMMARY: list[str] = []  # what the pod audit of the real node saw, for the terminal summary


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `own_node` start and stop a real node of their own (the demo, the teardown check): they run
    first, before any test starts the session's real node, since one node at a time runs on a machine."""
    items.sort(key=lambda item: item.get_closest_marker("own_node") is None)  # stable: otherwise file order


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _AUDIT_SUMMARY:
        terminalreporter.write_line(f"pod audit: {line}")


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    if os.environ.get("USE_EXISTING_CLUSTER") == "1":
        kubeconfig = Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
        yield KubeCluster(kubeconfig=kubeconfig, server="", existing=True)
        return
    if real_node_requested():
        with real_cluster() as cluster:
            kube = KubeCluster(kubeconfig=cluster.plane.kubeconfig, server=cluster.plane.server, existing=False,
                               plane=cluster.plane, real=cluster)
            audit = PodAudit(kube.api_client(), {cluster.image_id: "project image",
                                                 cluster.node.pause_image_id(): "pause image (stand-in model servers)"})
            audit.start()
            try:
                yield kube
            finally:
                audit.stop()
            _AUDIT_SUMMARY.append(audit.summary())
            problems = audit.problems()
            assert not problems, "pods that did not run in a container of the project's image:\n" + "\n".join(problems)
        return
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-cp-"))
    plane = LocalControlPlane(workdir, find_binaries())
    try:
        plane.start()
        yield KubeCluster(kubeconfig=plane.kubeconfig, server=plane.server, existing=False, plane=plane)
    finally:
        plane.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def node_agent(kube_cluster: KubeCluster) -> Iterator[NodeAgent | None]:
    """Runs pods on the local control plane; on an existing cluster its real kubelets do, so this is None."""
    if kube_cluster.existing or kube_cluster.real is not None:
        yield None
        return
    host, _, port = kube_cluster.server.removeprefix("https://").rpartition(":")
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-node-"))
    agent = NodeAgent(kube_cluster.api_client(), workdir, api_server_host=host, api_server_port=int(port))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# The stand-in model servers the rollback tests deploy: the version is the image tag. The node agent runs any
# name; on the real node these names are the pause image (it runs until stopped), tagged in containerd.
MODEL_SERVER_IMAGES = [*(f"registry.local/credit-model:{tag}" for tag in [*map(str, range(1, 10)), "stable"]),
                       *(f"registry.local/model:{version}" for version in range(1, 10))]


@pytest.fixture(scope="session")
def model_server_images(kube_cluster: KubeCluster) -> list[str]:
    """MODEL_SERVER_IMAGES, startable on the session's node (a test using other names adds them here)."""
    if kube_cluster.real is not None:
        for reference in MODEL_SERVER_IMAGES:
            kube_cluster.real.node.alias_image(reference)
    return MODEL_SERVER_IMAGES


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MinioServer]:
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-minio-"))
    server = MinioServer(workdir, find_minio(), host=GATEWAY if real_node_requested() else "127.0.0.1")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
