"""`python -m tests.harness.cluster up|down|status`: the local control plane for people.

`up` starts etcd, kube-apiserver, kube-controller-manager, a node and MinIO in a background supervisor process
and prints the `export KUBECONFIG=...` line; `down` stops them. The node is a real one (containerd + kubelet +
kube-proxy + kube-scheduler running the project's image, tests/harness/node.py) when the machine can run one
(root, podman, runc, no other real node of the harness running), else the test node agent, which runs pods as
local processes (`--node` chooses). State lives in `.local/cluster/` of the repository (kubeconfig, logs, pid,
MinIO credentials for the demo).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".local" / "cluster"


def _supervise(state: Path, with_minio: bool, real_node: bool) -> int:
    """Runs in the background process: start everything, write state, wait for SIGTERM, stop everything."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if real_node:
        from tests.harness.node import GATEWAY, real_cluster

        with real_cluster(state / "real") as cluster:
            return _serve(state, cluster.plane, with_minio, GATEWAY, "real", stop)
    from tests.harness.controlplane import LocalControlPlane, find_binaries
    from tests.harness.node_agent import NodeAgent

    plane = LocalControlPlane(state / "control-plane", find_binaries())
    (state / "control-plane").mkdir(parents=True, exist_ok=True)
    agent: NodeAgent | None = None
    try:
        plane.start()
        host, _, port = plane.server.removeprefix("https://").rpartition(":")
        agent = NodeAgent(plane.api_client(), state / "node", api_server_host=host,  # type: ignore[arg-type]
                          api_server_port=int(port))
        agent.start()
        return _serve(state, plane, with_minio, "127.0.0.1", "agent", stop)
    finally:
        if agent is not None:
            agent.stop()
        plane.stop()


def _serve(state: Path, plane: Any, with_minio: bool, s3_host: str, node: str, stop: threading.Event) -> int:
    """MinIO (optional) next to a running cluster; the state file; then wait until told to stop."""
    from tests.harness.minio import MinioServer, find_minio

    minio: MinioServer | None = None
    try:
        info: dict[str, object] = {"kubeconfig": str(plane.kubeconfig), "server": plane.server,
                                   "pid": os.getpid(), "node": node}
        if with_minio:
            minio = MinioServer(state / "minio", find_minio(), host=s3_host)
            (state / "minio").mkdir(parents=True, exist_ok=True)
            minio.start()
            info["s3"] = {"endpoint": minio.endpoint, "region": minio.region}
            credentials = state / "s3-credentials.env"
            credentials.write_text("".join(f"{k}={v}\n" for k, v in minio.env.items()))
            credentials.chmod(0o600)
        (state / "cluster.json").write_text(json.dumps(info, indent=2))
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        if minio is not None:
            minio.stop()


def up(with_minio: bool, timeout: float, node: str) -> int:
    if (STATE_DIR / "cluster.json").exists() and _alive():
        print(f"already running; export KUBECONFIG={STATE_DIR / 'control-plane' / 'kubeconfig'}")
        return 0
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    STATE_DIR.mkdir(parents=True)
    log = open(STATE_DIR / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
    from tests.harness.node import real_node_possible

    reason = real_node_possible()
    if node == "real" and reason:
        print(f"--node real: {reason}", file=sys.stderr)
        return 2
    real_node = node == "real" or (node == "auto" and reason is None)
    print("node: " + ("a real node (containerd + kubelet, the project image)" if real_node else
                      "the test node agent (pods as local processes)" + (f": {reason}" if reason else "")))
    args = [sys.executable, "-m", "tests.harness.cluster", "_supervise", str(STATE_DIR)]
    if with_minio:
        args.append("--minio")
    if real_node:
        args.append("--real-node")
    process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    (STATE_DIR / "pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while not (STATE_DIR / "cluster.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            print((STATE_DIR / "supervisor.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            print("the local cluster did not start (log above)", file=sys.stderr)
            down()
            return 1
        time.sleep(0.3)
    info = json.loads((STATE_DIR / "cluster.json").read_text())
    print(f"control plane up at {info['server']}" + (f", S3 at {info['s3']['endpoint']}" if "s3" in info else ""))
    print(f"export KUBECONFIG={info['kubeconfig']}")
    return 0


def _alive() -> bool:
    try:
        os.kill(int((STATE_DIR / "pid").read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def down() -> int:
    try:
        pid = int((STATE_DIR / "pid").read_text())
    except (OSError, ValueError):
        print("no local cluster is running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    (STATE_DIR / "pid").unlink(missing_ok=True)
    (STATE_DIR / "cluster.json").unlink(missing_ok=True)
    print("local cluster stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the local control plane in the background")
    up_parser.add_argument("--no-minio", action="store_true", help="do not start MinIO")
    up_parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait (first run builds)")
    up_parser.add_argument("--node", choices=("auto", "real", "agent"), default="auto",
                           help="real: containerd + kubelet running the project's image (root, podman, runc); "
                                "agent: the test node agent (pods as local processes); auto: real when possible")
    sub.add_parser("down", help="stop it")
    supervise = sub.add_parser("_supervise")
    supervise.add_argument("state", type=Path)
    supervise.add_argument("--minio", action="store_true")
    supervise.add_argument("--real-node", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(not args.no_minio, args.timeout, args.node)
    if args.command == "down":
        return down()
    return _supervise(args.state, args.minio, args.real_node)


if __name__ == "__main__":
    sys.exit(main())
