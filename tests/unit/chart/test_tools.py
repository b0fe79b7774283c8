"""hack/tools/install.sh: the pinned kubectl and helm are what bin/ holds, and a second run does nothing."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time

from tests.unit.chart.rendering import BIN_DIR, REPO_ROOT, tool

INSTALL_SCRIPT = REPO_ROOT / "hack" / "tools" / "install.sh"


def pins() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE))


def test_bin_holds_the_pinned_binaries() -> None:
    pinned = pins()
    for name in ("kubectl", "helm"):
        digest = hashlib.sha256(tool(name).read_bytes()).hexdigest()
        assert digest == pinned[f"{name.upper()}_SHA256"], f"bin/{name} is not the pinned build"


def test_second_run_only_prints_versions() -> None:
    tool("kubectl"), tool("helm")  # installed already (else the failure says how)
    before = {name: (BIN_DIR / name).stat().st_mtime_ns for name in ("kubectl", "helm")}
    started = time.monotonic()
    result = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert "downloading" not in result.stderr
    pinned = pins()
    assert f"kubectl {pinned['KUBECTL_VERSION']}" in result.stdout
    assert f"helm    {pinned['HELM_VERSION']}" in result.stdout
    assert before == {name: (BIN_DIR / name).stat().st_mtime_ns for name in ("kubectl", "helm")}
