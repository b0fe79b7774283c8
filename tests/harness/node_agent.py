"""A test node agent: the stand-in for kubelet + container runtime, which cannot run on this machine.

What it does (and what a kubelet would do):
- registers one Node (`Ready`, with capacity) and binds every unscheduled pod whose `nodeSelector` it matches
  (no kube-scheduler runs; affinity, taints and resources are not considered);
- runs each container of a pod whose image it knows as a local process in the project's Python environment:
  the container's `command` + `args` (with `$(VAR)` expansion), or the image's known entrypoint when the
  command is empty; init containers first, one after another;
- gives the process the pod's environment: `env` values, `valueFrom` (secretKeyRef, configMapKeyRef, fieldRef)
  and `envFrom`, plus the service environment a kubelet injects (`KUBERNETES_SERVICE_HOST/PORT`);
- materialises the pod's volumes in a temporary folder — configMap, secret, emptyDir, downwardAPI and
  projected volumes, including a service-account token obtained through the TokenRequest API and the
  `kube-root-ca.crt` ConfigMap — and makes them appear at their `mountPath`s: in a private mount namespace
  (`unshare --mount`, bind mounts) when the agent runs as root, else by rewriting the mount paths that appear in
  the command, args and env values;
- maps `terminationMessagePath` the same way and reports the pod's phase, each container's state, exit code and
  termination message (capped at 4096 bytes; the log tail under `FallbackToLogsOnError`) through the pods/status
  subresource, which is what the Job controller counts;
- kills the process at the pod's `activeDeadlineSeconds` (reason `DeadlineExceeded`) and when the pod is deleted
  (then removes it with grace period 0, as a kubelet confirms a deletion);
- restarts exited containers of `restartPolicy: Always` / `OnFailure` pods after a short back-off.

What it does not emulate: container images and their file systems (a container whose image it does not know is
reported Running and Ready without running anything: a placeholder, so that Deployments of model servers roll
out), users and the security context (processes run as the agent's user, the root file system is writable),
resource limits and OOM kills, probes (a started container is Ready), a volume mounted over the folder
that holds the project or its virtualenv (e.g. a `/tmp` emptyDir while the checkout is under /tmp: the host
folder stays visible instead), networking (every pod has IP 127.0.0.1),
`kubectl logs` / `exec` (logs are files in the pod's folder: `NodeAgent.logs()`), image pulls, node leases.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException

log = logging.getLogger("node-agent")

NODE_NAME = "modelmonitor-test-node"
TERMINATION_MESSAGE_LIMIT = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048

# Images the agent can run, by a regular expression on the image reference, with the image's entrypoint
# (used when a container gives no `command`). The project's own image runs the `modelmonitor` console script.
DEFAULT_RUNNABLE_IMAGES: dict[str, list[str]] = {r"(^|/)modelmonitor(-operator)?(:|@|$)": ["modelmonitor"]}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _can_use_mount_namespaces() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    result = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    return result.returncode == 0


@dataclass
class RunningContainer:
    name: str
    process: subprocess.Popen[bytes] | None  # None for a placeholder container
    log_path: Path
    termination_path: Path
    started_at: str
    restart_count: int = 0


@dataclass
class PodRun:
    namespace: str
    name: str
    uid: str
    directory: Path
    containers: dict[str, RunningContainer] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    deleted: bool = False


class NodeAgent:
    """Runs the pods of a real API server as local processes. `start()` / `stop()`, or a context manager."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        workdir: Path,
        api_server_host: str = "127.0.0.1",
        api_server_port: int = 443,
        node_name: str = NODE_NAME,
        runnable_images: Mapping[str, list[str]] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.workdir = workdir
        self.api_server_host = api_server_host
        self.api_server_port = api_server_port
        self.node_name = node_name
        self.runnable_images = {re.compile(k): v for k, v in (runnable_images or DEFAULT_RUNNABLE_IMAGES).items()}
        self.extra_env = dict(extra_env or {})
        self.use_mount_namespaces = _can_use_mount_namespaces()
        self._runs: dict[str, PodRun] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> NodeAgent:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._register_node()
        self._watcher = threading.Thread(target=self._watch_pods, name="node-agent-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop.set()
            self._kill(run)
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout=10)
        if self._watcher is not None:
            self._watcher.join(timeout=10)

    def logs(self, namespace: str, name: str, container: str | None = None) -> str:
        """The output of a pod's container (the first one by default), as `kubectl logs` would show it."""
        for run in list(self._runs.values()):
            if run.namespace == namespace and run.name == name:
                chosen = run.containers.get(container) if container else next(iter(run.containers.values()), None)
                if chosen is not None and chosen.log_path.exists():
                    return chosen.log_path.read_text(errors="replace")
        return ""

    def container_process(self, namespace: str, name: str, container: str) -> subprocess.Popen[bytes] | None:
        """The local process running a pod's container (None for placeholders and pods it does not run)."""
        for run in list(self._runs.values()):
            if run.namespace == namespace and run.name == name and container in run.containers:
                return run.containers[container].process
        return None

    def pod_directory(self, namespace: str, name: str) -> Path | None:
        """The folder of a pod the agent runs: its materialised volumes are under `volumes/<volume name>/`."""
        for run in list(self._runs.values()):
            if run.namespace == namespace and run.name == name:
                return run.directory
        return None

    # ----------------------------------------------------------------------------------------- node
    @property
    def node_labels(self) -> dict[str, str]:
        return {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "modelmonitor.io/test-node": "true"}

    def _register_node(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "labels": self.node_labels}}
        with contextlib.suppress(ApiException):
            self.core.create_node(body)
        capacity = {"cpu": str(os.cpu_count() or 2), "memory": "24Gi", "pods": "500"}
        self.core.patch_node_status(self.node_name, {"status": {
            "capacity": capacity, "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.node_name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "test node agent is running", "lastHeartbeatTime": _now(),
                            "lastTransitionTime": _now()}],
            "nodeInfo": {"kubeletVersion": "v0.0.0-test-node-agent", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "local-process://0",
                         "kernelVersion": "", "osImage": "", "kubeProxyVersion": "", "machineID": "",
                         "systemUUID": "", "bootID": ""},
        }})

    # ----------------------------------------------------------------------------------------- watching
    def _watch_pods(self) -> None:
        resource_version = ""
        while not self._stopping.is_set():
            try:
                if not resource_version:
                    listing = self.core.list_pod_for_all_namespaces()
                    for pod in listing.items:
                        self._handle(self.core.api_client.sanitize_for_serialization(pod))
                    resource_version = listing.metadata.resource_version
                stream = kubernetes.watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces, resource_version=resource_version,
                    timeout_seconds=5, allow_watch_bookmarks=True, _preload_content=False,
                )
                for event in stream:
                    if self._stopping.is_set():
                        break
                    obj = event["raw_object"]
                    resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._handle(obj)
            except ApiException as error:
                if error.status == 410:  # resource version too old: list again
                    resource_version = ""
                elif not self._stopping.is_set():
                    log.warning("pod watch failed: %s", error.reason)
                    time.sleep(0.5)
            except Exception:
                if not self._stopping.is_set():
                    log.exception("pod watch failed")
                    time.sleep(0.5)

    def _handle(self, pod: dict[str, Any]) -> None:
        metadata, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
        namespace, name, uid = metadata["namespace"], metadata["name"], metadata["uid"]
        node_name = spec.get("nodeName")
        if metadata.get("deletionTimestamp"):
            if node_name == self.node_name:
                self._delete(pod)
            return
        if not node_name:
            selector = spec.get("nodeSelector") or {}
            if spec.get("schedulerName", "default-scheduler") == "default-scheduler" and all(
                self.node_labels.get(key) == value for key, value in selector.items()
            ):
                self._bind(namespace, name)  # a pod whose nodeSelector no node matches stays Pending
            return
        if node_name != self.node_name or status.get("phase") not in (None, "Pending"):
            return
        with self._lock:
            if uid in self._runs:
                return
            run = PodRun(namespace, name, uid, self.workdir / "pods" / f"{namespace}_{name}_{uid[:8]}")
            self._runs[uid] = run
        run.thread = threading.Thread(target=self._run_pod, args=(pod, run), name=f"pod-{name}", daemon=True)
        run.thread.start()

    def _bind(self, namespace: str, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}}
        try:
            # _preload_content=False: the client cannot deserialize the Status this call returns.
            self.core.create_namespaced_binding(namespace, body, _preload_content=False)
        except ApiException as error:
            if error.status not in (404, 409):
                log.warning("binding %s/%s failed: %s", namespace, name, error.reason)

    def _delete(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            run = self._runs.get(uid)
        if run is not None:
            run.deleted = True
            run.stop.set()
            self._kill(run)
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_pod(
                pod["metadata"]["name"], pod["metadata"]["namespace"], grace_period_seconds=0,
                body=kubernetes.client.V1DeleteOptions(grace_period_seconds=0, preconditions={"uid": uid}),
            )

    @staticmethod
    def _kill(run: PodRun) -> None:
        for container in run.containers.values():
            if container.process is not None and container.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.process.pid, signal.SIGKILL)

    # ----------------------------------------------------------------------------------------- running
    def _run_pod(self, pod: dict[str, Any], run: PodRun) -> None:
        spec = pod["spec"]
        try:
            run.directory.mkdir(parents=True, exist_ok=True)
            volumes = self._materialise_volumes(pod, run.directory / "volumes")
            deadline = spec.get("activeDeadlineSeconds")
            started = time.monotonic()
            self._patch_status(run, {"phase": "Pending", "hostIP": "127.0.0.1", "startTime": _now(),
                                     "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]})
            for init in spec.get("initContainers") or []:
                code, message, reason = self._run_container(pod, run, init, volumes, started, deadline)
                if code != 0:
                    self._finish(run, pod, {init["name"]: (code, message, reason)}, failed=True)
                    return
            results = self._run_containers(pod, run, volumes, started, deadline)
            failed = any(code != 0 for code, _, _ in results.values())
            self._finish(run, pod, results, failed=failed)
        except Exception as error:
            log.exception("running pod %s/%s failed", run.namespace, run.name)
            if not run.deleted:
                with contextlib.suppress(ApiException):
                    self._patch_status(run, {"phase": "Failed", "reason": "NodeAgentError",
                                             "message": f"test node agent: {error}"})

    def _run_containers(self, pod: dict[str, Any], run: PodRun, volumes: dict[str, Path], started: float,
                        deadline: int | None) -> dict[str, tuple[int, str, str]]:
        results: dict[str, tuple[int, str, str]] = {}
        threads = []
        for container in pod["spec"]["containers"]:
            def target(c: dict[str, Any] = container) -> None:
                results[c["name"]] = self._run_container(pod, run, c, volumes, started, deadline, main=True)
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        return results

    def _entrypoint(self, image: str) -> list[str] | None:
        for pattern, entrypoint in self.runnable_images.items():
            if pattern.search(image):
                return entrypoint
        return None

    def _run_container(self, pod: dict[str, Any], run: PodRun, container: dict[str, Any],
                       volumes: dict[str, Path], started: float, deadline: int | None,
                       main: bool = False) -> tuple[int, str, str]:
        name = container["name"]
        restart_policy = pod["spec"].get("restartPolicy", "Always")
        entrypoint = self._entrypoint(container.get("image", ""))
        container_dir = run.directory / "containers" / name
        container_dir.mkdir(parents=True, exist_ok=True)
        termination_path = container_dir / "termination-log"
        log_path = container_dir / "output.log"
        if entrypoint is None:  # placeholder: an image we cannot run behaves like a server that stays up
            run.containers[name] = RunningContainer(name, None, log_path, termination_path, _now())
            self._report_running(run, pod)
            run.stop.wait(None if deadline is None else max(0.0, deadline - (time.monotonic() - started)))
            return (137, "", "DeadlineExceeded") if not run.stop.is_set() else (0, "", "Completed")
        env = self._environment(pod, container)
        argv = self._command(container, entrypoint, env)
        mounts = self._mounts(container, volumes, termination_path)
        restart_count = 0
        while True:
            termination_path.write_bytes(b"")
            process = self._spawn(argv, env, mounts, container, container_dir, log_path)
            run.containers[name] = RunningContainer(name, process, log_path, termination_path, _now(),
                                                    restart_count)
            if main:
                self._report_running(run, pod)
            timeout = None if deadline is None else max(0.0, deadline - (time.monotonic() - started))
            reason = ""
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                code = process.wait()
                reason = "DeadlineExceeded"
            if run.stop.is_set() or reason:
                break
            if restart_policy == "Always" or (restart_policy == "OnFailure" and code != 0):
                if not main:
                    break
                restart_count += 1
                if run.stop.wait(min(10.0, 0.5 * 2 ** min(restart_count, 5))):
                    break
                continue
            break
        message = termination_path.read_bytes()[:TERMINATION_MESSAGE_LIMIT].decode(errors="replace")
        if not message.strip() and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            tail = log_path.read_bytes().splitlines()[-FALLBACK_LOG_LINES:]
            message = b"\n".join(tail)[-FALLBACK_LOG_BYTES:].decode(errors="replace")
        if not reason:
            reason = "Completed" if code == 0 else "Error"
        return code, message, reason

    def _spawn(self, argv: list[str], env: dict[str, str], mounts: list[tuple[Path, str, bool]],
               container: dict[str, Any], container_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
        # A container starts in its image's WORKDIR, usually "/"; without a mount namespace, in its own folder.
        working_dir = container.get("workingDir") or ("/" if self.use_mount_namespaces else str(container_dir))
        if self.use_mount_namespaces:
            script = []
            for source, target, read_only in _mount_order(self._visible_mounts(mounts)):
                quoted_target = shlex.quote(target)
                if source.is_dir():
                    script.append(f"mkdir -p {quoted_target}")
                else:
                    script.append(f"mkdir -p {shlex.quote(str(Path(target).parent))}; "
                                  f"[ -e {quoted_target} ] || touch {quoted_target}")
                script.append(f"mount --bind {shlex.quote(str(source))} {quoted_target}")
                if read_only:
                    script.append(f"mount -o remount,bind,ro {quoted_target}")
            script.append(f"cd {shlex.quote(working_dir)}")
            script.append("exec " + " ".join(shlex.quote(part) for part in argv))
            command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-ec",
                       "\n".join(script)]
        else:
            rewrites = sorted(((target, str(source)) for source, target, _ in mounts), key=lambda m: -len(m[0]))
            command = [_rewrite(part, rewrites) for part in argv]
            env = {key: _rewrite(value, rewrites) for key, value in env.items()}
            Path(working_dir).mkdir(parents=True, exist_ok=True)
        output = open(log_path, "ab")  # noqa: SIM115 - the child owns it; closed below
        try:
            return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=None if self.use_mount_namespaces else working_dir)
        finally:
            output.close()

    def _visible_mounts(self, mounts: list[tuple[Path, str, bool]]) -> list[tuple[Path, str, bool]]:
        """Mounts minus those that would hide what the process runs from: a pod's `/tmp` emptyDir over a checkout
        under /tmp would hide the project's virtualenv and source. Such a folder stays the host's (logged)."""
        kept = []
        for source, target, read_only in mounts:
            prefix = target.rstrip("/") + "/"
            hidden = [path for path in self._protected_paths if path == target.rstrip("/") or path.startswith(prefix)]
            if hidden:
                log.warning("not mounting %s at %s: it would hide %s; the host folder is used", source, target,
                            hidden[0])
                continue
            kept.append((source, target, read_only))
        return kept

    @property
    def _protected_paths(self) -> list[str]:
        """What a pod's process needs from the host: the Python environment and the project's source."""
        paths = {sys.prefix, str(Path(sys.executable).parent), str(Path(__file__).resolve().parents[2])}
        return sorted({str(Path(path).resolve()) for path in paths} | paths)

    # ----------------------------------------------------------------------------------------- pod inputs
    def _read(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        try:
            if kind == "secret":
                secret = self.core.read_namespaced_secret(name, namespace)
                return {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.data or {}).items()}
            config_map = self.core.read_namespaced_config_map(name, namespace)
            return dict(config_map.data or {})
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def _field(self, pod: dict[str, Any], path: str) -> str:
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if match:
            return str(pod["metadata"].get(match.group(1), {}).get(match.group(2), ""))
        values = {
            "metadata.name": pod["metadata"]["name"], "metadata.namespace": pod["metadata"]["namespace"],
            "metadata.uid": pod["metadata"]["uid"], "spec.nodeName": self.node_name,
            "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
            "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1", "status.podIPs": "127.0.0.1",
        }
        return str(values.get(path, ""))

    def _environment(self, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        namespace = pod["metadata"]["namespace"]
        python_bin = str(Path(sys.executable).parent)
        env: dict[str, str] = {
            "PATH": f"{python_bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOSTNAME": pod["metadata"]["name"],
            "HOME": str(self.workdir / "home"),
            "KUBERNETES_SERVICE_HOST": self.api_server_host,
            "KUBERNETES_SERVICE_PORT": str(self.api_server_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.api_server_port),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
                if key in source:
                    data = self._read(kind, namespace, source[key]["name"])
                    if data is None and not source[key].get("optional"):
                        raise RuntimeError(f"{kind} {namespace}/{source[key]['name']} not found")
                    env.update({prefix + k: v for k, v in (data or {}).items()})
        for variable in container.get("env") or []:
            name = variable["name"]
            if "value" in variable:
                env[name] = _expand(variable["value"], env)
                continue
            value_from = variable.get("valueFrom") or {}
            for kind, key in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
                if key in value_from:
                    ref = value_from[key]
                    data = self._read(kind, namespace, ref["name"])
                    if (data is None or ref["key"] not in data) and not ref.get("optional"):
                        raise RuntimeError(f"{kind} {namespace}/{ref['name']} has no key {ref['key']!r}")
                    if data is not None and ref["key"] in data:
                        env[name] = data[ref["key"]]
            if "fieldRef" in value_from:
                env[name] = self._field(pod, value_from["fieldRef"]["fieldPath"])
        return env

    def _command(self, container: dict[str, Any], entrypoint: list[str], env: Mapping[str, str]) -> list[str]:
        command = container.get("command") or entrypoint
        return [_expand(part, env) for part in [*command, *(container.get("args") or [])]]

    def _materialise_volumes(self, pod: dict[str, Any], root: Path) -> dict[str, Path]:
        namespace = pod["metadata"]["namespace"]
        paths: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes") or []:
            target = root / volume["name"]
            target.mkdir(parents=True, exist_ok=True)
            paths[volume["name"]] = target
            if "configMap" in volume:
                self._write_keys(target, "configmap", namespace, volume["configMap"])
            elif "secret" in volume:
                source = dict(volume["secret"])
                source["name"] = source.get("secretName", "")
                self._write_keys(target, "secret", namespace, source)
            elif "downwardAPI" in volume:
                for item in volume["downwardAPI"].get("items") or []:
                    (target / item["path"]).write_text(self._field(pod, item["fieldRef"]["fieldPath"]))
            elif "projected" in volume:
                for source in volume["projected"].get("sources") or []:
                    if "serviceAccountToken" in source:
                        token = self._token(pod, source["serviceAccountToken"])
                        (target / source["serviceAccountToken"]["path"]).write_text(token)
                    elif "configMap" in source:
                        self._write_keys(target, "configmap", namespace, source["configMap"])
                    elif "secret" in source:
                        self._write_keys(target, "secret", namespace, source["secret"])
                    elif "downwardAPI" in source:
                        for item in source["downwardAPI"].get("items") or []:
                            (target / item["path"]).write_text(self._field(pod, item["fieldRef"]["fieldPath"]))
            # emptyDir (and anything else): an empty folder
        return paths

    def _write_keys(self, target: Path, kind: str, namespace: str, source: dict[str, Any]) -> None:
        data = self._read(kind, namespace, source["name"])
        if data is None:
            if source.get("optional"):
                return
            raise RuntimeError(f"{kind} {namespace}/{source['name']} not found")
        items = source.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            if item["key"] in data:
                path = target / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data[item["key"]])

    def _token(self, pod: dict[str, Any], source: dict[str, Any]) -> str:
        request = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [source["audience"]] if source.get("audience") else None,
                     "expirationSeconds": int(source.get("expirationSeconds", 3600)),
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"],
                                        "uid": pod["metadata"]["uid"]}},
        }
        response = self.core.create_namespaced_service_account_token(
            pod["spec"].get("serviceAccountName", "default"), pod["metadata"]["namespace"], request)
        return str(response.status.token)

    @staticmethod
    def _mounts(container: dict[str, Any], volumes: Mapping[str, Path],
                termination_path: Path) -> list[tuple[Path, str, bool]]:
        mounts = []
        for mount in container.get("volumeMounts") or []:
            source = volumes[mount["name"]]
            if mount.get("subPath"):
                source = source / mount["subPath"]
            mounts.append((source, mount["mountPath"], bool(mount.get("readOnly"))))
        mounts.append((termination_path, container.get("terminationMessagePath", "/dev/termination-log"), False))
        return mounts

    # ----------------------------------------------------------------------------------------- status
    def _patch_status(self, run: PodRun, status: dict[str, Any]) -> None:
        if run.deleted:
            return
        try:
            self.core.patch_namespaced_pod_status(run.name, run.namespace, {"status": status})
        except ApiException as error:
            if error.status != 404:
                raise

    def _report_running(self, run: PodRun, pod: dict[str, Any]) -> None:
        statuses = []
        for container in pod["spec"]["containers"]:
            running = run.containers.get(container["name"])
            state: dict[str, Any] = ({"running": {"startedAt": running.started_at}} if running
                                     else {"waiting": {"reason": "ContainerCreating"}})
            statuses.append({"name": container["name"], "image": container.get("image", ""),
                             "imageID": "", "ready": running is not None, "started": running is not None,
                             "restartCount": running.restart_count if running else 0, "state": state})
        ready = all(s["ready"] for s in statuses)
        self._patch_status(run, {
            "phase": "Running", "containerStatuses": statuses,
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": _now()},
                {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": _now()},
                {"type": "Ready", "status": str(ready), "lastTransitionTime": _now()},
            ],
        })

    def _finish(self, run: PodRun, pod: dict[str, Any], results: Mapping[str, tuple[int, str, str]],
                failed: bool) -> None:
        statuses = []
        for container in pod["spec"]["containers"]:
            code, message, reason = results.get(container["name"], (1, "not started", "Error"))
            running = run.containers.get(container["name"])
            terminated = {"exitCode": code, "reason": reason, "finishedAt": _now(),
                          "startedAt": running.started_at if running else _now()}
            if message:
                terminated["message"] = message
            statuses.append({"name": container["name"], "image": container.get("image", ""), "imageID": "",
                             "ready": False, "started": False,
                             "restartCount": running.restart_count if running else 0,
                             "state": {"terminated": terminated}})
        deadline = any(reason == "DeadlineExceeded" for _, _, reason in results.values())
        status: dict[str, Any] = {
            "phase": "Failed" if failed else "Succeeded", "containerStatuses": statuses,
            "conditions": [
                {"type": "ContainersReady", "status": "False", "reason": "PodCompleted",
                 "lastTransitionTime": _now()},
                {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": _now()},
            ],
        }
        if deadline:
            status.update(reason="DeadlineExceeded", message="Pod was active on the node longer than the "
                          "specified deadline")
        self._patch_status(run, status)


def _mount_order(mounts: list[tuple[Path, str, bool]]) -> list[tuple[Path, str, bool]]:
    """Parents before children; and a mount whose target hides the agent's own folders (a pod's `/tmp` while the
    agent works under /tmp) after every mount whose source lies below it, or those sources would vanish."""

    def hides_a_source(target: str) -> bool:
        prefix = target.rstrip("/") + "/"
        return any(str(source).startswith(prefix) for source, _, _ in mounts)

    return sorted(mounts, key=lambda mount: (hides_a_source(mount[1]), mount[1].count("/")))


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known variables are replaced, `$$(VAR)` escapes, unknown ones stay."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0).startswith("$$"):
            return match.group(0)[1:]
        return env.get(match.group(1), match.group(0))
    return re.sub(r"\$?\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, value)


def _rewrite(value: str, rewrites: list[tuple[str, str]]) -> str:
    for target, source in rewrites:
        if value == target or value.startswith(target.rstrip("/") + "/"):
            return source + value[len(target):]
        value = value.replace(f"={target}", f"={source}")
    return value


def run_forever(api_client: kubernetes.client.ApiClient, workdir: Path, host: str, port: int,
                stop: Callable[[], bool]) -> None:
    """Run an agent until `stop()` is true (used by `tests.harness.cluster up`)."""
    with NodeAgent(api_client, workdir, host, port):
        while not stop():
            time.sleep(0.5)
