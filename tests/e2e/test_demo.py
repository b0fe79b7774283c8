"""`make demo`'s program end to end, as a user runs it: its own control plane, MinIO, SMTP sink and operator.

It starts everything itself, so it does not use the session's cluster fixtures (and does not run against
`USE_EXISTING_CLUSTER=1`: the demo is about the local stack).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.node import real_node_requested

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT = REPO_ROOT / ".local" / "demo" / "report.html"

# own_node: runs before the session's real node starts, so the demo gets the real node (one node at a time).
pytestmark = [pytest.mark.cluster, pytest.mark.s3, pytest.mark.own_node]


@pytest.mark.skipif(os.environ.get("USE_EXISTING_CLUSTER") == "1", reason="the demo runs its own local cluster")
def test_demo_prints_the_verdict_the_alert_email_and_the_report() -> None:
    REPORT.unlink(missing_ok=True)
    runs_before = set(REPORT.parent.glob("run-*"))
    started = time.monotonic()
    node = "real" if real_node_requested() else "agent"
    result = subprocess.run([sys.executable, "-m", "tests.harness.demo", "--node", node], cwd=REPO_ROOT, text=True,
                            capture_output=True, timeout=300, check=False)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert elapsed < 180, f"the demo took {elapsed:.0f} s (warm cache: it must take < 3 minutes)\n{output}"

    if node == "real":  # pods in containers of the project's image, not local processes
        assert result.stdout.startswith("Node: a real node (containerd + kubelet, the project image)"), output
        assert "Starting the node: containerd, kubelet, kube-proxy, kube-scheduler ... ok" in result.stdout
    progress = re.findall(r"^\[\s*(\d+)/(\d+)\] .* ok \(", result.stdout, re.MULTILINE)
    assert progress and all(total == progress[0][1] for _, total in progress)
    assert [int(number) for number, _ in progress] == list(range(1, int(progress[0][1]) + 1)), output

    table = result.stdout.split("$ kubectl -n risk get mm\n", 1)[1].splitlines()
    assert table[0].split()[:4] == ["NAME", "MODEL", "VERSION", "PHASE"]
    assert table[1].split()[:4] == ["credit-scoring", "credit-scoring", "7", "Degraded"], table
    assert re.search(r"accuracy=0\.\d+", table[1]), table
    assert "Verdict: critical (phase Degraded)" in result.stdout
    assert "feature debt_ratio drifted" in result.stdout

    assert "Alert e-mail received by the SMTP sink (STARTTLS: True, login: modelmonitor)" in result.stdout
    assert "  To: ml-oncall@example.com" in result.stdout
    subject = re.search(r"^  Subject: (.*)$", result.stdout, re.MULTILINE)
    assert subject and subject.group(1).startswith("[CRITICAL] risk/credit-scoring v7"), output
    assert re.search(r"^  \| .*drift:debt_ratio", result.stdout, re.MULTILINE), output

    uri = re.search(r"^HTML report: (s3://demo-ml/\S+/report\.html)$", result.stdout, re.MULTILINE)
    assert uri, output
    assert REPORT.exists() and "<html" in REPORT.read_text(errors="replace").lower()
    assert "Stopping the operator" in result.stdout
    assert set(REPORT.parent.glob("run-*")) == runs_before, "a successful run removes its folder"


@pytest.mark.skipif(os.environ.get("USE_EXISTING_CLUSTER") == "1", reason="the demo runs its own local cluster")
def test_demo_keep_leaves_the_cluster_up_until_stopped() -> None:
    # `make demo DEMO_ARGS=--keep` runs exactly this (the Makefile passes DEMO_ARGS through).
    process = subprocess.Popen([sys.executable, "-m", "tests.harness.demo", "--keep"], cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        exported = re.search(r"^  export KUBECONFIG=(\S+)$", output, re.MULTILINE)
        assert exported, output
        env = dict(os.environ, KUBECONFIG=exported.group(1))
        kubectl = str(REPO_ROOT / "bin" / "kubectl")
        described = subprocess.run([kubectl, "-n", "risk", "describe", "mm", "credit-scoring"], env=env, text=True,
                                   capture_output=True, timeout=30, check=False)
        assert described.returncode == 0, described.stderr
        assert "DataDrift" in described.stdout and "Degraded" in described.stdout

        process.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output + rest
        assert "Stopping the operator" in rest
        gone = subprocess.run([kubectl, "get", "namespaces", "--request-timeout=3s"], env=env, text=True,
                              capture_output=True, timeout=30, check=False)
        assert gone.returncode != 0, "the control plane should be stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
