"""A real Kubernetes control plane on loopback: etcd + kube-apiserver + kube-controller-manager.

This is what the integration tests, `make cluster-up` and `make demo` run against. The binaries are built
from Go modules by `hack/control-plane/build.sh` (cached by version) unless the envtest conventions point at
binaries the user already has: `TEST_ASSET_ETCD`, `TEST_ASSET_KUBE_APISERVER`,
`TEST_ASSET_KUBE_CONTROLLER_MANAGER`, or a `KUBEBUILDER_ASSETS` folder holding them.

No kubelet and no container runtime run here: `tests.harness.node` adds a real node (containerd + kubelet +
kube-proxy + kube-scheduler); with `real_node=True` the control plane is set up for it (served on the node
bridge's gateway address, Node authorization, a kubelet client certificate). Otherwise
`tests.harness.node_agent` stands in for the node.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.harness.certs import CertificateAuthority, KeyPair, write_service_account_key
from tests.harness.processes import ManagedProcess, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "control-plane" / "build.sh"

# The controllers the tests need: Jobs and CronJobs create Pods, owner references garbage-collect, namespaces
# delete, service accounts and their tokens exist, Deployments roll out (rollback targets, the chart's operator).
# Left out on purpose: podgc (it would delete pods bound to our emulated node after a quarantine), the node
# lifecycle controller (it would taint the node that has no kubelet heartbeats), cloud and storage controllers.
CONTROLLERS = (
    "job", "cronjob", "garbagecollector", "namespace", "serviceaccount", "serviceaccount-token",
    "root-ca-cert-publisher", "ttl-after-finished", "deployment", "replicaset", "statefulset",
)
# With a real kubelet: its node's health (removes the not-ready taint the kubelet starts with; marks the pods of
# a dead node), pods of deleted nodes and terminated pods collected, Services' endpoints for kube-proxy.
REAL_NODE_CONTROLLERS = ("nodelifecycle", "podgc", "endpointslice", "endpoint", "endpointslicemirroring")


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which part and why."""


@dataclass(frozen=True)
class ControlPlaneBinaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path


def _from_assets(name: str, variable: str) -> Path | None:
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit)
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and (Path(assets) / name).exists():
        return Path(assets) / name
    return None


def find_binaries() -> ControlPlaneBinaries:
    """The user's binaries where the envtest variables name them; ours (built once, then cached) otherwise."""
    etcd = _from_assets("etcd", "TEST_ASSET_ETCD")
    apiserver = _from_assets("kube-apiserver", "TEST_ASSET_KUBE_APISERVER")
    controller_manager = _from_assets("kube-controller-manager", "TEST_ASSET_KUBE_CONTROLLER_MANAGER")
    if etcd and apiserver and controller_manager:
        return ControlPlaneBinaries(etcd, apiserver, controller_manager)
    parts = []
    if not etcd:
        parts.append("etcd")
    if not (apiserver and controller_manager):
        parts.append("kubernetes")
    directory: Path | None = None
    for part in parts:
        result = subprocess.run(
            [str(BUILD_SCRIPT), part], check=False, stdout=subprocess.PIPE, text=True
        )
        if result.returncode != 0:
            raise ControlPlaneError(f"{BUILD_SCRIPT} {part} failed with exit code {result.returncode}")
        directory = Path(result.stdout.splitlines()[0])
    assert directory is not None
    return ControlPlaneBinaries(
        etcd or directory / "etcd",
        apiserver or directory / "kube-apiserver",
        controller_manager or directory / "kube-controller-manager",
    )


def write_kubeconfig(path: Path, server: str, ca: Path, client: KeyPair, user: str = "admin") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(client.certificate),
                                          "client-key": str(client.key)}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user, "namespace": "default"}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config))


@dataclass
class LocalControlPlane:
    """Starts and stops one control plane in `workdir`. Use as a context manager or call start() / stop()."""

    workdir: Path
    binaries: ControlPlaneBinaries
    with_controller_manager: bool = True
    # The address the API server listens on and advertises: loopback, or for a real node the gateway address of
    # the node's bridge (made by the harness), so that pods reach it through the `kubernetes` Service.
    address: str = "127.0.0.1"
    real_node: bool = False
    processes: list[ManagedProcess] = field(default_factory=list)
    server: str = ""
    kubeconfig: Path = field(init=False)
    ca_certificate: Path = field(init=False)
    service_account_key: KeyPair = field(init=False)
    certificate_authority: CertificateAuthority = field(init=False)

    def __post_init__(self) -> None:
        self.kubeconfig = self.workdir / "kubeconfig"

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (kubectl, helm, the operator) that should talk to this cluster."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{REPO_ROOT / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority(pki)
        self.certificate_authority = ca
        self.ca_certificate = ca.certificate_path
        serving = ca.issue("apiserver", "kube-apiserver",
                           hosts=tuple(dict.fromkeys(("127.0.0.1", self.address, "localhost", "kubernetes",
                                                      "kubernetes.default", "kubernetes.default.svc", "10.0.0.1"))),
                           server=True)
        admin = ca.issue("admin", "admin", organizations=("system:masters",))
        self.service_account_key = write_service_account_key(pki)

        etcd_port, etcd_peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn("etcd", [
            str(self.binaries.etcd),
            f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-cluster=default=http://127.0.0.1:{etcd_peer_port}",
            "--log-level=warn", "--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296",
        ])
        wait_until(lambda: _http_ok(f"{etcd_url}/health"), 30, what="etcd /health")

        self.server = f"https://{self.address}:{api_port}"
        if self.real_node:
            # The API server calls kubelets (logs, exec) with this client certificate; the kubelet authorizes it
            # by a SubjectAccessReview. Nodes are authorized by the Node authorizer and NodeRestriction.
            kubelet_client = ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                                      organizations=("system:masters",))
            node_flags = [
                "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={kubelet_client.certificate}",
                f"--kubelet-client-key={kubelet_client.key}",
                f"--kubelet-certificate-authority={ca.certificate_path}",
                "--kubelet-preferred-address-types=InternalIP,Hostname",
            ]
        else:
            # The loopback advertise address cannot be published as the kubernetes Service endpoint.
            node_flags = ["--authorization-mode=RBAC", "--endpoint-reconciler-type=none"]
        self._spawn("kube-apiserver", [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={self.address}", f"--advertise-address={self.address}", f"--secure-port={api_port}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={serving.certificate}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={ca.certificate_path}",
            "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
            *node_flags,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.service_account_key.certificate}",
            f"--service-account-signing-key-file={self.service_account_key.key}",
            "--profiling=false", "--v=0",
        ])
        write_kubeconfig(self.kubeconfig, self.server, ca.certificate_path, admin)
        context = ssl.create_default_context(cafile=str(ca.certificate_path))
        context.load_cert_chain(str(admin.certificate), str(admin.key))
        wait_until(lambda: self._check_alive() or _http_ok(f"{self.server}/readyz", context), 90, interval=0.2,
                   what=f"kube-apiserver /readyz (log: {self.workdir / 'kube-apiserver.log'})")

        if self.with_controller_manager:
            controllers = CONTROLLERS + (REAL_NODE_CONTROLLERS if self.real_node else ())
            self._spawn("kube-controller-manager", [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={self.kubeconfig}",
                f"--controllers={','.join(controllers)}",
                f"--service-account-private-key-file={self.service_account_key.key}",
                f"--root-ca-file={ca.certificate_path}",
                "--leader-elect=false", "--secure-port=0",
                "--concurrent-job-syncs=5", "--concurrent-cron-job-syncs=5",
                "--v=0",
            ])
            wait_until(lambda: self._default_service_account_exists(context), 60, interval=0.2,
                       what="kube-controller-manager to create the default ServiceAccount")

    def _default_service_account_exists(self, context: ssl.SSLContext) -> bool:
        self._check_alive()
        return _http_ok(f"{self.server}/api/v1/namespaces/default/serviceaccounts/default", context)

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / f"{name}.log")
        self.processes.append(process)
        time.sleep(0.05)
        self._check_alive()
        return process

    def _check_alive(self) -> None:
        for process in self.processes:
            if not process.running():
                raise ControlPlaneError(
                    f"{process.name} exited with code {process.process.returncode}:\n{process.log_tail()}"
                )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def api_client(self) -> object:
        """A `kubernetes.client.ApiClient` authenticated as the cluster admin."""
        import kubernetes

        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(self.kubeconfig),
                                           client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2, context=context) as response:
        return bool(response.status == 200)
    return False


@contextlib.contextmanager
def temporary_control_plane(keep: bool = False):  # type: ignore[no-untyped-def]
    """A started control plane in a fresh temporary folder, stopped (and the folder removed) on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="modelmonitor-cp-"))
    plane = LocalControlPlane(workdir, find_binaries())
    try:
        plane.start()
        yield plane
    finally:
        plane.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
