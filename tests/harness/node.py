"""A real Kubernetes node next to the harness's control plane: containerd + runc + kubelet + kube-proxy +
kube-scheduler, with a bridge CNI network the harness makes itself.

Why: pods must run as they do on a user's cluster — the project's own image, its non-root user and read-only
root file system, resource limits (OOM kills), the pod network to S3, in-cluster credentials, `kubectl logs`.

Parts and where they come from: kubelet, kube-proxy, kube-scheduler and containerd are built from Go modules by
`hack/node/build.sh` (cached by version); runc and the CNI plugins are Debian's (`runc`,
`containernetworking-plugins`); the sandbox image is a static `pause` built from k8s.io/kubernetes' pause.c;
images come from podman's local storage (`make image`), imported into containerd only when their id changed.

Network rule: the harness creates the bridge `mmbr0` with the gateway address 10.244.0.1 before anything starts.
The API server, MinIO, the SMTP sink and webhook receivers that pods must reach listen on that address (or on
loopback for the host only); nothing ever contacts the machine's external address. No DNS in pods: services are
addressed by IP.

Authentication is a real cluster's: the kubelet holds a `system:node:<name>` client certificate (Node
authorizer + NodeRestriction), kube-proxy and kube-scheduler their own users, the kubelet verifies the API
server's client certificate and authorizes it by SubjectAccessReview; anonymous access is off.

Teardown: pods deleted first (the kubelet stops their containers and CNI releases their addresses), then the
node's processes stopped, kube-proxy's and the kubelet's iptables chains removed, mounts under the node folder
unmounted, leftover shims killed, containerd stopped, the bridge deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.harness.controlplane import REPO_ROOT, LocalControlPlane, find_binaries, write_kubeconfig
from tests.harness.processes import ManagedProcess, free_port, wait_until

NODE_BUILD_SCRIPT = REPO_ROOT / "hack" / "node" / "build.sh"
IMAGE_BUILD_SCRIPT = REPO_ROOT / "hack" / "image" / "build.sh"
PODMAN_CONF = REPO_ROOT / "hack" / "image" / "podman.sh"
NODE_NAME = "modelmonitor-node"
BRIDGE = "mmbr0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
RUNC = "/usr/sbin/runc"
CNI_BIN_DIR = "/usr/lib/cni"
IMAGE_ID_LABEL = "io.modelmonitor.podman-id"
# containerd's content and snapshots persist between runs (one node at a time), so an image is imported once per
# id (~40 s for the project's image), not once per test session. Its state (sockets, running tasks) does not.
CONTAINERD_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelmonitor" / "node" / \
    "containerd-root"
# The kubelet's own chains (kube-proxy --cleanup removes kube-proxy's); KUBE-FIREWALL has jumps from INPUT/OUTPUT.
KUBELET_CHAINS = {"filter": ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY"), "nat": ("KUBE-KUBELET-CANARY",),
                  "mangle": ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT")}


class NodeError(RuntimeError):
    """The real node could not be built or started; the message says which part and why."""


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    kube_proxy: Path
    kube_scheduler: Path
    containerd_dir: Path  # containerd, containerd-shim-runc-v2, ctr
    pause: Path


def real_node_requested() -> bool:
    """The switch: the session's pods run on a real node (the default, `MODELMONITOR_NODE=real`), or, with
    `MODELMONITOR_NODE=agent`, on the node agent (pods as local processes: a quick loop while editing the
    operator, or a machine without root; no container, no image)."""
    mode = os.environ.get("MODELMONITOR_NODE", "real")
    if mode not in ("real", "agent"):
        raise NodeError(f"MODELMONITOR_NODE={mode!r}: use 'real' (the default) or 'agent'")
    return mode == "real"


def real_node_possible() -> str | None:
    """None when this machine can run a real node; else the reason (what is missing)."""
    if os.geteuid() != 0:
        return "a real node needs root (network namespaces, mounts, cgroups, iptables)"
    missing = [tool for tool in ("podman", "ip", "iptables", "mount") if shutil.which(tool) is None]
    needed = (RUNC, f"{CNI_BIN_DIR}/bridge", f"{CNI_BIN_DIR}/host-local", f"{CNI_BIN_DIR}/portmap")
    missing += [path for path in needed if not Path(path).exists()]
    if missing:
        return f"missing {', '.join(missing)} (.ci/run installs podman runc containernetworking-plugins iptables)"
    if real_node_running():
        return "a real node of this harness is already running on this machine (one at a time)"
    return None


def find_node_binaries() -> NodeBinaries:
    result = subprocess.run([str(NODE_BUILD_SCRIPT), "all"], check=False, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise NodeError(f"{NODE_BUILD_SCRIPT} failed with exit code {result.returncode}")
    kubernetes_dir, containerd_dir, pause_dir = (Path(line) for line in result.stdout.splitlines()[:3])
    return NodeBinaries(kubernetes_dir / "kubelet", kubernetes_dir / "kube-proxy", kubernetes_dir / "kube-scheduler",
                        containerd_dir, pause_dir / "pause")


def podman_env() -> dict[str, str]:
    """The environment of hack/image/podman.sh (its containers.conf) for podman calls from Python."""
    conf = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelmonitor" / "podman"
    if not (conf / "containers.conf").exists():
        subprocess.run(["bash", "-c", f"source {PODMAN_CONF}"], check=True)
    return dict(os.environ, CONTAINERS_CONF=str(conf / "containers.conf"))


def project_image() -> tuple[str, str]:
    """The project's image (reference, id): `make image` (built when its inputs changed, else reused), or the
    podman image `MODELMONITOR_IMAGE` names, as it is (e.g. to iterate on tests while the sources change)."""
    explicit = os.environ.get("MODELMONITOR_IMAGE")
    if explicit:
        inspected = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", explicit], env=podman_env(),
                                   check=False, capture_output=True, text=True)
        if inspected.returncode != 0:
            raise NodeError(f"MODELMONITOR_IMAGE={explicit}: {inspected.stderr.strip()}")
        return explicit, inspected.stdout.strip()
    result = subprocess.run([str(IMAGE_BUILD_SCRIPT)], check=False, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise NodeError(f"{IMAGE_BUILD_SCRIPT} failed with exit code {result.returncode}")
    reference, image_id = result.stdout.split()[:2]
    return reference, image_id


def project_image_reference() -> str:
    """The tag `make image` gives the project's image (or MODELMONITOR_IMAGE), without building anything."""
    explicit = os.environ.get("MODELMONITOR_IMAGE")
    if explicit:
        return explicit
    for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return f"localhost/modelmonitor-operator:{line.split('=', 1)[1].strip().strip(chr(34))}"
    raise NodeError("no version in pyproject.toml")


def real_node_running() -> bool:
    """Another real node of this harness is up on this machine: a kubelet process of ours (read from /proc;
    nothing is contacted)."""
    marker = f"--hostname-override={NODE_NAME}".encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if cmdline[0].endswith(b"kubelet") and marker in cmdline:
                    return True
    return False


def pause_image(binary: Path) -> str:
    """The sandbox image, `FROM scratch` with the static pause binary, in podman's storage (once)."""
    env = podman_env()
    if subprocess.run(["podman", "image", "exists", PAUSE_IMAGE], env=env, check=False).returncode == 0:
        return PAUSE_IMAGE
    with tempfile.TemporaryDirectory(prefix="modelmonitor-pause-") as context:
        shutil.copy2(binary, Path(context) / "pause")
        (Path(context) / "Containerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n')
        subprocess.run(["podman", "build", "--quiet", "-t", PAUSE_IMAGE, context], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return PAUSE_IMAGE


# --------------------------------------------------------------------------------------------- the bridge
def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def create_bridge() -> None:
    """The node's bridge with its gateway address: made before the servers that bind to that address."""
    delete_bridge()  # a leftover of a killed run
    _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")


def delete_bridge() -> None:
    if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        _run("ip", "link", "delete", BRIDGE, check=False)


# --------------------------------------------------------------------------------------------- the node
@dataclass
class RealNode:
    """Starts and stops one node for `plane` (started with `address=GATEWAY, real_node=True`)."""

    workdir: Path
    plane: LocalControlPlane
    binaries: NodeBinaries
    images: list[str] = field(default_factory=list)  # podman image references to make available to pods
    name: str = NODE_NAME
    processes: list[ManagedProcess] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    def __enter__(self) -> RealNode:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        ca = self.plane.certificate_authority
        server = self.plane.server
        kubelet_client = ca.issue("kubelet-client", f"system:node:{self.name}", organizations=("system:nodes",))
        kubelet_serving = ca.issue("kubelet-serving", self.name, hosts=(GATEWAY, self.name), server=True)
        for user, pair in (("kubelet", kubelet_client),
                           ("kube-proxy", ca.issue("kube-proxy", "system:kube-proxy")),
                           ("kube-scheduler", ca.issue("kube-scheduler", "system:kube-scheduler"))):
            write_kubeconfig(pki / f"{user}.kubeconfig", server, ca.certificate_path, pair, user=user)

        started = time.monotonic()
        self._start_containerd()
        self.timings["containerd"] = time.monotonic() - started
        started = time.monotonic()
        self._load_images()
        self.timings["images"] = time.monotonic() - started
        self._write_cni_config()

        started = time.monotonic()
        self._spawn("kube-scheduler", [
            str(self.binaries.kube_scheduler), f"--kubeconfig={pki / 'kube-scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={pki / 'kube-scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={pki / 'kube-scheduler.kubeconfig'}",
            "--leader-elect=false", "--secure-port=0", "--v=0",
        ])
        self._spawn("kube-proxy", [
            str(self.binaries.kube_proxy), f"--kubeconfig={pki / 'kube-proxy.kubeconfig'}",
            f"--hostname-override={self.name}", "--proxy-mode=iptables", f"--cluster-cidr={POD_CIDR}",
            "--conntrack-max-per-core=0", f"--bind-address={GATEWAY}",
            f"--metrics-bind-address=127.0.0.1:{free_port()}", f"--healthz-bind-address=127.0.0.1:{free_port()}",
            "--v=0",
        ])
        config = self.workdir / "kubelet-config.yaml"
        resolv = self.workdir / "resolv.conf"
        resolv.write_text("")  # no DNS in pods: services by IP
        config.write_text(yaml.safe_dump({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": GATEWAY, "port": 10250, "readOnlyPort": 0, "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(ca.certificate_path)}},
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(kubelet_serving.certificate), "tlsPrivateKeyFile": str(kubelet_serving.key),
            "containerRuntimeEndpoint": f"unix://{self.socket}", "imageServiceEndpoint": f"unix://{self.socket}",
            "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
            "resolvConf": str(resolv), "clusterDNS": [],
            # This machine is shared: evict only when really short; never garbage-collect our images.
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False, "maxPods": 110, "podPidsLimit": 4096,
            "nodeStatusUpdateFrequency": "2s", "syncFrequency": "5s", "fileCheckFrequency": "5s",
            "shutdownGracePeriod": "0s", "registerNode": True, "localStorageCapacityIsolation": True,
        }))
        self._spawn("kubelet", [
            str(self.binaries.kubelet), f"--config={config}", f"--kubeconfig={pki / 'kubelet.kubeconfig'}",
            f"--hostname-override={self.name}", f"--node-ip={GATEWAY}",
            f"--root-dir={self.workdir / 'kubelet'}", f"--cert-dir={self.workdir / 'kubelet-pki'}",
            "--v=0",
        ], env=self._env())
        wait_until(self._ready, 120, interval=0.2, what=f"node {self.name} Ready (log: {self.workdir}/kubelet.log)")
        self.timings["kubelet-to-ready"] = time.monotonic() - started

    # ----------------------------------------------------------------------------------------- containerd
    def _env(self) -> dict[str, str]:
        return dict(os.environ, PATH=f"{self.binaries.containerd_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def _start_containerd(self) -> None:
        root = self.workdir / "containerd"
        root.mkdir(exist_ok=True)
        cni = self.workdir / "cni"
        cni.mkdir(exist_ok=True)
        config = root / "config.toml"
        config.write_text(CONTAINERD_CONFIG.format(
            root=CONTAINERD_ROOT, state=root / "state", socket=self.socket, pause=PAUSE_IMAGE, runc=RUNC,
            cni_bin=CNI_BIN_DIR, cni_conf=cni, opt=root / "opt"))
        self._spawn("containerd", [str(self.binaries.containerd_dir / "containerd"), f"--config={config}"],
                    env=self._env())
        def answers() -> bool:
            self._check_alive()
            return self._ctr("version", check=False).returncode == 0

        wait_until(answers, 30, interval=0.05, what="containerd's socket")

    def _ctr(self, *args: str, check: bool = True, stdin: Any = None) -> subprocess.CompletedProcess[Any]:
        argv = [str(self.binaries.containerd_dir / "ctr"), "--address", str(self.socket), "--namespace", "k8s.io",
                *args]
        if stdin is not None:  # a binary stream (an image archive); ctr's progress output is not wanted
            return subprocess.run(argv, check=check, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return subprocess.run(argv, check=check, capture_output=True, text=True)

    def _load_images(self) -> None:
        env = podman_env()
        for reference in [pause_image(self.binaries.pause), *self.images]:
            image_id = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", reference], env=env,
                                      check=True, capture_output=True, text=True).stdout.strip()
            previous = self.image_label(reference)
            if previous == image_id:
                continue
            with subprocess.Popen(["podman", "save", reference], env=env, stdout=subprocess.PIPE) as save:
                imported = self._ctr("images", "import", "-", check=False, stdin=save.stdout)
            # leaving the block closed the pipe and waited for podman (an unclosed pipe is a ResourceWarning)
            if save.returncode != 0 or imported.returncode != 0:
                raise NodeError(f"could not import {reference} into containerd")
            self._ctr("images", "label", reference, f"{IMAGE_ID_LABEL}={image_id}")
            if previous:  # the replaced build's content goes with its last reference (containerd's root persists)
                self._ctr("images", "rm", f"sha256:{previous}", check=False)

    def pause_image_id(self) -> str:
        """The id (hex) of the pause image in containerd: the sandbox, and the stand-in model servers' image."""
        return subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", PAUSE_IMAGE], env=podman_env(),
                              check=True, capture_output=True, text=True).stdout.strip()

    def alias_image(self, reference: str, source: str = PAUSE_IMAGE) -> None:
        """Make `reference` name `source` in containerd (default the pause image: it runs until stopped), so a
        test's stand-in model server (`registry.local/model:2`) starts without a registry; no pull is tried
        for a present tag."""
        self._ctr("images", "tag", "--force", source, reference)

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a pod's container (`containerd://<id>` from the pod's status), as the kernel's OOM killer would."""
        self._ctr("tasks", "kill", "--signal", "SIGKILL", container_id.removeprefix("containerd://"))

    def container_pid(self, container_id: str) -> int | None:
        """The host PID of a pod's running container (`containerd://<id>`), for reading its /proc; None if none."""
        wanted = container_id.removeprefix("containerd://")
        for line in self._ctr("tasks", "ls", check=False).stdout.splitlines()[1:]:
            task, pid, status, *_ = [*line.split(), "", "", ""]
            if task == wanted and status == "RUNNING" and pid.isdigit():
                return int(pid)
        return None

    def pod_directory(self, uid: str) -> Path:
        """The kubelet's folder of a pod: its volumes are under `volumes/<plugin>/<volume name>/`."""
        return self.workdir / "kubelet" / "pods" / uid

    def image_label(self, reference: str) -> str | None:
        listed = self._ctr("images", "ls", f"name=={reference}", check=False)
        found = re.search(rf"{re.escape(IMAGE_ID_LABEL)}=(sha256:)?([0-9a-f]+)", listed.stdout)
        return found.group(2) if found else None

    def _write_cni_config(self) -> None:
        (self.workdir / "cni" / "10-modelmonitor.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "modelmonitor",
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                          "dataDir": str(self.workdir / "cni-ipam"), "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }))

    # ----------------------------------------------------------------------------------------- state
    def _ready(self) -> bool:
        self._check_alive()
        import kubernetes

        with self.plane.api_client() as client:  # type: ignore[attr-defined]
            core: Any = kubernetes.client.CoreV1Api(client)
            try:
                node = core.read_node(self.name)
            except kubernetes.client.exceptions.ApiException:
                return False
            ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
            tainted = any(t.key == "node.kubernetes.io/not-ready" for t in node.spec.taints or [])
            return ready and not tainted

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.processes.append(ManagedProcess(name, argv, self.workdir / f"{name}.log", env=env))
        time.sleep(0.05)
        self._check_alive()

    def _check_alive(self) -> None:
        for process in self.processes:
            if not process.running():
                raise NodeError(f"{process.name} exited with code {process.process.returncode}:\n"
                                f"{process.log_tail()}")

    # ----------------------------------------------------------------------------------------- teardown
    def stop(self) -> None:
        kubelet_running = any(p.name == "kubelet" and p.running() for p in self.processes)
        if kubelet_running:
            with contextlib.suppress(Exception):
                self._delete_all_pods()
        for process in reversed(self.processes):
            if process.name != "containerd":
                process.stop()
        _run(str(self.binaries.kube_proxy), "--cleanup", check=False)
        _remove_kubelet_chains()
        self._remove_leftover_sandboxes()
        _unmount_below(self.workdir)
        for process in self.processes:
            if process.name == "containerd":
                process.stop()
        self.processes.clear()
        _kill_shims(self.socket)
        _unmount_below(self.workdir)
        _remove_pod_veths()

    def _delete_all_pods(self) -> None:
        import kubernetes

        with self.plane.api_client() as client:  # type: ignore[attr-defined]
            core: Any = kubernetes.client.CoreV1Api(client)
            deleted = set()
            for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={self.name}").items:
                with contextlib.suppress(kubernetes.client.exceptions.ApiException):
                    core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=1)
                    deleted.add(pod.metadata.uid)

            # Only the pods deleted here: a Deployment's ReplicaSet replaces its pods as long as the controller
            # manager runs, and the replacements' containers go with _remove_leftover_sandboxes.
            def gone() -> bool:
                listed = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={self.name}").items
                return not deleted & {pod.metadata.uid for pod in listed}

            with contextlib.suppress(TimeoutError):
                wait_until(gone, 30, interval=0.3, what="the node's pods to be removed")

    def _remove_leftover_sandboxes(self) -> None:
        """Containers the kubelet did not stop (killed run, timeout): their tasks, so CNI releases them."""
        if not self.socket.exists():
            return
        tasks = self._ctr("tasks", "ls", "-q", check=False)
        for task in tasks.stdout.split() if tasks.returncode == 0 else []:
            self._ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
            self._ctr("tasks", "delete", "--force", task, check=False)
        # Containers (and their snapshots) and sandboxes: containerd's root outlives this node.
        for kind in ("containers", "sandboxes"):
            listed = self._ctr(kind, "ls", "-q", check=False)
            for name in listed.stdout.split() if listed.returncode == 0 else []:
                self._ctr(kind, "rm", name, check=False)


def _remove_kubelet_chains() -> None:
    for table, chains in KUBELET_CHAINS.items():
        for chain in chains:
            for parent in ("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"):
                while _run("iptables", "-t", table, "-D", parent, "-j", chain, check=False).returncode == 0:
                    pass
            # KUBE-FIREWALL is also referenced by comment-carrying rules: delete every rule that jumps to it.
            rules = _run("iptables", "-t", table, "-S", check=False).stdout.splitlines()
            for rule in rules:
                if rule.startswith("-A ") and f"-j {chain}" in rule:
                    _run("iptables", "-t", table, *_split_rule(rule.replace("-A ", "-D ", 1)), check=False)
            _run("iptables", "-t", table, "-F", chain, check=False)
            _run("iptables", "-t", table, "-X", chain, check=False)


def _split_rule(rule: str) -> list[str]:
    import shlex

    return shlex.split(rule)


def _mounts_below(directory: Path) -> list[str]:
    prefix = str(directory.resolve()).rstrip("/") + "/"
    mounts = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            target = line.split()[4].replace("\\040", " ")
            if target.startswith(prefix):
                mounts.append(target)
    return mounts


def _unmount_below(directory: Path) -> None:
    for _ in range(3):
        mounts = _mounts_below(directory)
        if not mounts:
            return
        for target in sorted(mounts, key=lambda path: path.count("/"), reverse=True):
            _run("umount", "--lazy", target, check=False)


def _kill_shims(socket: Path) -> None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and str(socket).encode() in cmdline:
                os.kill(int(proc.name), 9)


def _remove_pod_veths() -> None:
    """veth ends left on our bridge (a pod whose sandbox was not torn down by CNI)."""
    listed = _run("ip", "-o", "link", "show", "master", BRIDGE, check=False)
    for line in listed.stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        _run("ip", "link", "delete", name, check=False)


CONTAINERD_CONFIG = """\
version = 3
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
                    "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
                    "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{opt}"
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = "{pause}"
  [plugins."io.containerd.cri.v1.runtime"]
    # No CAP_SYS_RESOURCE in this sandbox: containers may not lower their OOM score below ours.
    restrict_oom_score_adj = true
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = "{runc}"
          SystemdCgroup = false
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = ["{cni_bin}"]
      conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri"]
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
"""


# --------------------------------------------------------------------------------------------- a whole cluster
@dataclass
class RealCluster:
    """Bridge + control plane on the bridge's gateway + a real node; what the fixtures and the demo start."""

    workdir: Path
    plane: LocalControlPlane
    node: RealNode
    image: str
    image_id: str


@contextlib.contextmanager
def real_cluster(workdir: Path | None = None, keep: bool = False) -> Iterator[RealCluster]:
    """Everything started (image built if needed), everything stopped and removed on exit."""
    reason = real_node_possible()
    if reason:
        raise NodeError(f"{reason} (MODELMONITOR_NODE=agent runs the pods as local processes instead)")
    owned = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="modelmonitor-realnode-"))
    binaries, node_binaries = find_binaries(), find_node_binaries()
    image, image_id = project_image()
    create_bridge()
    plane = LocalControlPlane(workdir / "control-plane", binaries, address=GATEWAY, real_node=True)
    (workdir / "control-plane").mkdir(parents=True, exist_ok=True)
    node = RealNode(workdir / "node", plane, node_binaries, images=[image])
    try:
        plane.start()
        node.start()
        yield RealCluster(workdir, plane, node, image, image_id)
    finally:
        node.stop()
        plane.stop()
        delete_bridge()
        if owned and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
