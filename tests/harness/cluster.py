"""`python -m tests.harness.cluster up|down|status`: the local control plane for people.

`up` starts etcd, kube-apiserver, kube-controller-manager, the test node agent and MinIO in a background
supervisor process and prints the `export KUBECONFIG=...` line; `down` stops them. State lives in
`.local/cluster/` of the repository (kubeconfig, logs, pid, MinIO credentials for the demo).
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

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".local" / "cluster"


def _supervise(state: Path, with_minio: bool) -> int:
    """Runs in the background process: start everything, write state, wait for SIGTERM, stop everything."""
    from tests.harness.controlplane import LocalControlPlane, find_binaries
    from tests.harness.minio import MinioServer, find_minio
    from tests.harness.node_agent import NodeAgent

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    plane = LocalControlPlane(state / "control-plane", find_binaries())
    (state / "control-plane").mkdir(parents=True, exist_ok=True)
    minio: MinioServer | None = None
    agent: NodeAgent | None = None
    try:
        plane.start()
        host, _, port = plane.server.removeprefix("https://").rpartition(":")
        agent = NodeAgent(plane.api_client(), state / "node", api_server_host=host,  # type: ignore[arg-type]
                          api_server_port=int(port))
        agent.start()
        info: dict[str, object] = {"kubeconfig": str(plane.kubeconfig), "server": plane.server,
                                   "pid": os.getpid()}
        if with_minio:
            minio = MinioServer(state / "minio", find_minio())
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
        if agent is not None:
            agent.stop()
        if minio is not None:
            minio.stop()
        plane.stop()


def up(with_minio: bool, timeout: float) -> int:
    if (STATE_DIR / "cluster.json").exists() and _alive():
        print(f"already running; export KUBECONFIG={STATE_DIR / 'control-plane' / 'kubeconfig'}")
        return 0
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    STATE_DIR.mkdir(parents=True)
    log = open(STATE_DIR / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
    args = [sys.executable, "-m", "tests.harness.cluster", "_supervise", str(STATE_DIR)]
    if with_minio:
        args.append("--minio")
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
    sub.add_parser("down", help="stop it")
    supervise = sub.add_parser("_supervise")
    supervise.add_argument("state", type=Path)
    supervise.add_argument("--minio", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(not args.no_minio, args.timeout)
    if args.command == "down":
        return down()
    return _supervise(args.state, args.minio)


if __name__ == "__main__":
    sys.exit(main())
