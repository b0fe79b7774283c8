"""Stopping a real cluster (tests/harness/node.py) leaves nothing behind: no process, mount, bridge, shim or
iptables chain. Marked `own_node`, so it runs before the session's real node starts (one node at a time)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.node import BRIDGE, real_cluster, real_node_possible

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.own_node,
    pytest.mark.skipif(os.environ.get("USE_EXISTING_CLUSTER") == "1", reason="starts its own local real node"),
]


def test_teardown_leaves_nothing_behind() -> None:
    """A second cluster, started and stopped here: no process, mount, bridge or iptables chain remains."""
    reason = real_node_possible()
    if reason:
        pytest.fail(f"this machine cannot run the real node: {reason}")
    before_chains = _kube_chains()
    with real_cluster() as cluster:
        pids = [process.pid for process in cluster.node.processes + cluster.plane.processes]
        workdir = cluster.workdir
        assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} survived"
    assert str(workdir) not in Path("/proc/self/mountinfo").read_text()
    assert not any(b"containerd-shim" in _cmdline(proc) for proc in Path("/proc").iterdir() if proc.name.isdigit())
    assert _kube_chains() <= before_chains, _kube_chains() - before_chains


def _kube_chains() -> set[str]:
    chains = set()
    for table in ("filter", "nat", "mangle"):
        listed = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout
        chains |= {f"{table}/{line.split()[1]}" for line in listed.splitlines()
                   if line.startswith("-N KUBE-")}
    return chains


def _cmdline(proc: Path) -> bytes:
    with contextlib.suppress(OSError):
        return (proc / "cmdline").read_bytes()
    return b""
