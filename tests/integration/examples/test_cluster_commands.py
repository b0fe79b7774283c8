"""`make cluster-up` / `make cluster-down`, as the README and the examples' README use them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.harness.node import GATEWAY

REPO_ROOT = Path(__file__).resolve().parents[3]
STATE = REPO_ROOT / ".local" / "cluster"

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def developer_cluster_running() -> bool:
    try:
        os.kill(int((STATE / "pid").read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def make(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", target], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.skipif(os.environ.get("USE_EXISTING_CLUSTER") == "1", reason="starts the local control plane")
@pytest.mark.skipif(developer_cluster_running(), reason="a cluster from `make cluster-up` is in use here")
def test_cluster_up_prints_a_working_kubeconfig_and_down_stops_it() -> None:
    up = make("cluster-up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        exported = re.search(r"^export KUBECONFIG=(\S+)$", up.stdout, re.MULTILINE)
        assert exported, up.stdout
        env = dict(os.environ, KUBECONFIG=exported.group(1))
        namespaces = subprocess.run([str(REPO_ROOT / "bin" / "kubectl"), "get", "namespaces", "-o", "name"],
                                    env=env, capture_output=True, text=True, timeout=30, check=False)
        assert "namespace/default" in namespaces.stdout, namespaces.stderr
        info = json.loads((STATE / "cluster.json").read_text())
        # `auto`: the real node when this machine can run one (not while the session's real node runs: one at a
        # time), else the node agent, saying why; MinIO listens where the node's pods reach it.
        assert info["node"] == ("agent" if "node: the test node agent" in up.stdout else "real"), up.stdout
        host = "127.0.0.1" if info["node"] == "agent" else GATEWAY
        assert info["s3"]["endpoint"].startswith(f"http://{host}:"), info
        assert "AWS_SECRET_ACCESS_KEY=" in (STATE / "s3-credentials.env").read_text()
    finally:
        down = make("cluster-down")
    assert down.returncode == 0, down.stderr
    assert "local cluster stopped" in down.stdout
    assert not developer_cluster_running()
