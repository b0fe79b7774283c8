"""The operator, running as its own process (`modelmonitor operator`) against the real control plane.

One session-wide operator for every integration folder (operator, examples, sharding, ...): two cluster-wide
operators at once would race for the same monitors. Tests that need their own operator processes pause this
one (see operator/test_failover.py).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from tests.conftest import KubeCluster
from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.minio import MinioServer
from tests.harness.node import GATEWAY
from tests.harness.processes import ManagedProcess, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = REPO_ROOT / "crds" / "modelmonitors.yaml"
# The project image on the real node (set by tests/conftest.py); with MODELMONITOR_NODE=agent, a name the node agent
# runs.
EVALUATOR_IMAGE = os.environ.get("MODELMONITOR_EVALUATOR_IMAGE", "modelmonitor:test")


@pytest.fixture(scope="session")
def monitor_crd(kube_cluster: KubeCluster) -> None:
    subprocess.run([str(REPO_ROOT / "bin" / "kubectl"), "apply", "--server-side", "-f", str(CRD_PATH)],
                   env=kube_cluster.env, check=True, capture_output=True)
    with kube_cluster.api_client() as client:
        extensions = kubernetes.client.ApiextensionsV1Api(client)
        wait_until(lambda: any(c.type == "Established" and c.status == "True" for c in
                               extensions.read_custom_resource_definition("modelmonitors.modelmonitor.io")
                               .status.conditions or []), 30, what="ModelMonitor CRD established")


# The operator refuses every outbound destination unless allowed; the tests' receivers are all on loopback.
LOOPBACK_OUTBOUND = [f"--allow-outbound={kind}:{what}" for kind in ("email", "webhook", "sms", "mlflow", "git")
                     for what in ("cidr=127.0.0.0/8", "cidr=::1/128", "scheme=http", "scheme=https")]
# The session's MinIO (spec.data.store.endpoint): on loopback, or on the real node's bridge, where its pods reach
# it. Always allowed, whatever a test chooses for the alert channels; tests of the s3 allow-list override it.
STORE_OUTBOUND = [f"--allow-outbound=s3:{what}" for what in
                  ("cidr=127.0.0.0/8", f"cidr={GATEWAY}/32", "scheme=http", "scheme=https")]


class OperatorProcess:
    def __init__(self, cluster: KubeCluster, workdir: Path) -> None:
        self.cluster, self.workdir = cluster, workdir
        self.process: ManagedProcess | None = None
        self.metrics_port = 0
        self.starts = 0
        # Tests that need a differently configured operator (fault points, a short claim lease) set these and
        # restart it; `reset` puts the session's configuration back.
        self.extra_args: list[str] = []
        self.extra_env: dict[str, str] = {}
        self.outbound: list[str] = list(LOOPBACK_OUTBOUND)
        self.store_outbound: list[str] = list(STORE_OUTBOUND)

    def start(self) -> None:
        self.metrics_port, liveness_port = free_port(), free_port()
        self.starts += 1
        self.process = ManagedProcess("operator", [
            sys.executable, "-m", "modelmonitor.cli", "operator", "--all-namespaces",
            f"--liveness=http://127.0.0.1:{liveness_port}/healthz", f"--metrics-port={self.metrics_port}",
            f"--evaluator-image={EVALUATOR_IMAGE}", "--log-format=plain", "--verbose", *self.outbound,
            *self.store_outbound, *self.extra_args,
        ], self.workdir / f"operator-{self.starts}.log", env={**self.cluster.env, **self.extra_env})
        wait_until(lambda: self._live(liveness_port), 60, what="the operator's liveness endpoint")

    def restart_with(self, args: list[str] | None = None, env: dict[str, str] | None = None,
                     outbound: list[str] | None = None, store_outbound: list[str] | None = None) -> None:
        """Stop, and start again with these extra arguments, environment and --allow-outbound flags for alert
        channels and for the data store (None: the session's own)."""
        self.kill()
        self.extra_args, self.extra_env = list(args or []), dict(env or {})
        self.outbound = list(LOOPBACK_OUTBOUND if outbound is None else outbound)
        self.store_outbound = list(STORE_OUTBOUND if store_outbound is None else store_outbound)
        self.start()

    def exited(self) -> bool:
        return self.process is None or not self.process.running()

    def _live(self, port: int) -> bool:
        assert self.process is not None
        if not self.process.running():
            raise RuntimeError(f"the operator exited:\n{self.process.log_tail(60)}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)

    def kill(self) -> None:
        """SIGKILL the operator's process group and reap it (on a loaded machine that can take longer than the
        0.1 s `stop(timeout=0.1)` allowed after its own SIGKILL, which then raised TimeoutExpired)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.process.wait(timeout=30)
            self.process.stop()  # closes its log
            self.process = None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def log(self) -> str:
        return "\n".join((self.workdir / f"operator-{i}.log").read_text(errors="replace")
                         for i in range(1, self.starts + 1))


@pytest.fixture(scope="session")
def operator(kube_cluster: KubeCluster, monitor_crd: None, node_agent: object) -> Iterator[OperatorProcess]:
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-operator-"))
    running = OperatorProcess(kube_cluster, workdir)
    running.start()
    try:
        yield running
    finally:
        running.kill()
        if os.environ.get("KEEP_TEST_LOGS") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"operator logs kept in {workdir}")


class MonitorWorld:
    """A namespace with S3 credentials, the evaluator's ServiceAccount and a bucket of data."""

    def __init__(self, cluster: KubeCluster, s3: MinioServer) -> None:
        self.cluster, self.s3 = cluster, s3
        self.namespace = cluster.create_namespace("mm")
        self.bucket = s3.create_bucket(f"ml-{uuid.uuid4().hex[:8]}")
        self.client = cluster.api_client()
        self.core: Any = kubernetes.client.CoreV1Api(self.client)
        self.custom: Any = kubernetes.client.CustomObjectsApi(self.client)
        self.batch: Any = kubernetes.client.BatchV1Api(self.client)
        self.core.create_namespaced_service_account(self.namespace, {"metadata": {"name": "modelmonitor-evaluator"}})
        self.core.create_namespaced_secret(self.namespace, {"metadata": {"name": "s3-creds"}, "data": {
            "AWS_ACCESS_KEY_ID": base64.b64encode(s3.access_key.encode()).decode(),
            "AWS_SECRET_ACCESS_KEY": base64.b64encode(s3.secret_key.encode()).decode()}})

    def upload(self, key: str, body: bytes) -> str:
        self.s3.client().put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def upload_credit_data(self, prefix: str, rows: int, seed: int, drift: float) -> str:
        """Replace whatever is under `prefix` with one Parquet file of generated credit-scoring data."""
        s3 = self.s3.client()
        existing = s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        for item in existing:
            s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        self.upload(f"{prefix}part-0.parquet", parquet_bytes(credit_scoring(rows, seed, drift)))
        return f"s3://{self.bucket}/{prefix}"

    def monitor(self, name: str, **spec_overrides: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "model": {"name": "credit-scoring", "version": "1", "task": "binary-classification"},
            "schedule": "0 0 1 1 *",
            "data": {
                "store": {"endpoint": self.s3.endpoint, "region": self.s3.region, "credentialsSecret": "s3-creds"},
                "reference": {"uri": f"s3://{self.bucket}/reference/", "format": "parquet"},
                "current": {"uri": f"s3://{self.bucket}/current/", "format": "parquet", "window": "24h",
                            "timestampColumn": "ts"},
                "columns": {"target": "label", "prediction": "pred", "score": "proba",
                            "categorical": ["region"], "exclude": ["request_id"]},
            },
            "metrics": [{"name": "accuracy", "min": 0.6, "severity": "critical"}, {"name": "roc_auc", "min": 0.6}],
            "drift": {"tests": ["ks", "chi2", "psi"], "datasetDriftShare": 0.5, "severity": "critical"},
        }
        spec.update(spec_overrides)
        return {"apiVersion": "modelmonitor.io/v1alpha1", "kind": "ModelMonitor",
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}

    def apply(self, body: dict[str, Any]) -> None:
        result = subprocess.run([str(REPO_ROOT / "bin" / "kubectl"), "apply", "-f", "-"],
                                input=yaml.safe_dump(body), text=True, env=self.cluster.env, capture_output=True)
        assert result.returncode == 0, result.stderr

    def read(self, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object("modelmonitor.io", "v1alpha1", self.namespace,
                                                             "modelmonitors", name))

    def run_now(self, name: str) -> None:
        self.custom.patch_namespaced_custom_object("modelmonitor.io", "v1alpha1", self.namespace, "modelmonitors",
                                                   name, {"metadata": {"annotations": {
                                                       "modelmonitor.io/run-now": uuid.uuid4().hex[:6]}}})

    def wait_for_evaluations(self, name: str, count: int, timeout: float = 120) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def enough() -> bool:
            monitor = self.read(name)
            found["monitor"] = monitor
            return len((monitor.get("status") or {}).get("history") or []) >= count

        wait_until(enough, timeout, interval=0.5, what=f"{count} evaluation(s) of {self.namespace}/{name}")
        return found["monitor"]

    def kubectl(self, *args: str) -> str:
        result = subprocess.run([str(REPO_ROOT / "bin" / "kubectl"), "-n", self.namespace, *args],
                                env=self.cluster.env, text=True, capture_output=True)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def world(kube_cluster: KubeCluster, s3_server: MinioServer) -> Iterator[MonitorWorld]:
    created = MonitorWorld(kube_cluster, s3_server)
    yield created
    created.client.close()


def condition(monitor: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in (monitor.get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return dict(item)
    raise AssertionError(f"no {type_} condition in {monitor.get('status')}")


ConditionOf = Callable[[dict[str, Any], str], dict[str, Any]]
