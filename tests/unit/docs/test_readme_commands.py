"""Every command the README shows is run by a test, by CI or by `make demo`.

Commands are the lines of the README's ```sh blocks and the inline code spans that start with `make`,
`kubectl`, `helm` or `modelmonitor`. Each must be in EXERCISED, which names where it is run and a piece of
text that must be found there; a new command in the README without an entry here fails, and so does an entry
whose test has gone. The cheap ones (`make help`, `make test-unit`, `make generate`) are run right here.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
README = REPO_ROOT / "README.md"
COMMAND_PREFIXES = ("make ", "kubectl ", "helm ", "modelmonitor ")
THIS_FILE = "tests/unit/docs/test_readme_commands.py"
# `make test` depends on venv first and lint last (other prerequisites may come and go in between).
MAKE_TEST_PREREQUISITES = [("Makefile", "test: venv tools control-plane"),
                           ("Makefile", " lint ## Lint, then run every test"), (".ci/run", "make test")]

EVALUATOR_ACCOUNT_TEST = [
    ("tests/integration/chart/test_evaluator_service_account.py", "def readme_service_account_commands")]

# command -> [(file that runs it, text that must be in that file)]
EXERCISED: dict[str, list[tuple[str, str]]] = {
    "make demo": [("Makefile", "-m tests.harness.demo $(DEMO_ARGS)"),
                  ("tests/e2e/test_demo.py", "def test_demo_prints_the_verdict_the_alert_email_and_the_report")],
    "make demo DEMO_ARGS=--keep": [
        ("tests/e2e/test_demo.py", "def test_demo_keep_leaves_the_cluster_up_until_stopped")],
    "make test": [(".ci/run", "make test")],
    "modelmonitor evaluate --config": [
        ("tests/integration/evaluator/test_spec_refusals.py", '"evaluate", "--config", str(config)')],
    "modelmonitor evaluate --no-step-profiles": [
        ("tests/unit/evaluator/step_profiles/test_stored_steps.py", '("raw", ["--no-step-profiles"])')],
    "make help": [(THIS_FILE, "def test_make_help_lists_every_target_the_readme_names")],
    "make test-unit": [(THIS_FILE, "def test_make_test_unit_runs_the_unit_tests")],
    "make generate": [(THIS_FILE, "def test_make_generate_leaves_an_up_to_date_tree_unchanged")],
    "make venv": MAKE_TEST_PREREQUISITES,
    "make lint": MAKE_TEST_PREREQUISITES,
    "make cluster-up": [("tests/integration/examples/test_cluster_commands.py", '"cluster-up"')],
    "make cluster-down": [("tests/integration/examples/test_cluster_commands.py", '"cluster-down"')],
    "helm install modelmonitor charts/modelmonitor-operator -n modelmonitor-system --create-namespace": [
        ("tests/integration/chart/test_chart_on_api_server.py", "def test_install_upgrade_uninstall")],
    "kubectl apply --server-side -f charts/modelmonitor-operator/crds/": [
        ("tests/harness/demo.py", '"apply", "--server-side", "-f", f"{CRD_FOLDER.relative_to(REPO_ROOT)}/"'),
        ("tests/harness/demo.py", 'CRD_FOLDER = REPO_ROOT / "charts" / "modelmonitor-operator" / "crds"')],
    "kubectl apply": [("tests/integration/conftest.py", '"apply", "-f", "-"')],
    "kubectl get mm": [("tests/harness/demo.py", '"get", "mm"'), ("tests/e2e/test_demo.py", "get mm")],
    "kubectl describe mm": [("tests/e2e/test_demo.py", '"describe", "mm"')],
    "modelmonitor evaluate": [("tests/integration/evaluator/conftest.py", '["evaluate", "--config"')],
    "modelmonitor baseline --reference ...": [("tests/integration/evaluator/test_local_files.py", '"baseline"')],
    "modelmonitor compare": [("tests/unit/evaluator/comparison/test_gate.py", 'main(["compare", "--config"')],
    "make image": [("Makefile", "hack/image/build.sh"), ("tests/harness/node.py", "IMAGE_BUILD_SCRIPT")],
    "make node": [("Makefile", "hack/node/build.sh all"), ("tests/harness/node.py", "NODE_BUILD_SCRIPT")],
    "kubectl logs": [("tests/e2e/test_real_node.py", 'world.kubectl("logs"')],
    "helm install": [("tests/e2e/test_real_node.py", '"install", release')],
    "kubectl -n <namespace> create serviceaccount modelmonitor-evaluator": EVALUATOR_ACCOUNT_TEST,
    "kubectl -n <namespace> patch serviceaccount modelmonitor-evaluator -p "
    "'{\"automountServiceAccountToken\": false}'": EVALUATOR_ACCOUNT_TEST,
}


def readme_commands(text: str) -> list[str]:
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line and not line.startswith("#"):
                commands.append(line)
    prose = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    commands.extend(span for span in re.findall(r"`([^`\n]+)`", prose) if span.startswith(COMMAND_PREFIXES))
    return list(dict.fromkeys(commands))


def make(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))


def venv_is_current() -> bool:
    return make("-q", ".venv/.installed").returncode == 0


def test_extraction_finds_blocks_continuations_and_inline_commands() -> None:
    text = ("intro `make demo` and `kubectl get mm`, not `values.yaml`\n"
            "```sh\n# comment\nmake  test\nhelm x \\\n  --y\n```\n")
    assert readme_commands(text) == ["make test", "helm x --y", "make demo", "kubectl get mm"]


def test_quickstart_is_exactly_make_demo_and_make_test() -> None:
    quickstart = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert readme_commands(quickstart.split("`make demo` creates")[0]) == ["make demo", "make test"]


def test_every_readme_command_is_exercised() -> None:
    unexercised = [command for command in readme_commands(README.read_text(encoding="utf-8"))
                   if command not in EXERCISED]
    assert not unexercised, f"README commands that no test runs (add a test and an EXERCISED entry): {unexercised}"


def test_every_exerciser_exists_and_runs_its_command() -> None:
    for command, places in EXERCISED.items():
        for path, needle in places:
            file = REPO_ROOT / path
            assert file.exists(), f"{command!r}: {path} does not exist"
            assert needle in file.read_text(encoding="utf-8"), f"{command!r}: {needle!r} not found in {path}"


def test_make_help_lists_every_target_the_readme_names() -> None:
    result = make("help")
    assert result.returncode == 0, result.stderr
    listed = {re.sub(r"\x1b\[[0-9;]*m", "", line).split()[0] for line in result.stdout.splitlines() if line.strip()}
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`make ([a-z-]+)", text))
    for row in (line for line in text.splitlines() if line.startswith("| `make ")):
        named |= set(re.findall(r"`(?:make )?([a-z-]+)`", row.split("|")[1]))
    assert {"tools", "control-plane", "cluster-down"} <= named
    assert named <= listed, f"README names targets `make help` does not list: {named - listed}"


@pytest.mark.skipif(not venv_is_current(), reason="the virtualenv is being rebuilt (make would reinstall it)")
def test_make_test_unit_runs_the_unit_tests() -> None:
    result = make("test-unit", "PYTEST_ARGS=-q -p no:cacheprovider -k test_committed_reference_equals_the_generator",
                  timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout[-2000:]


@pytest.mark.skipif(not venv_is_current(), reason="the virtualenv is being rebuilt (make would reinstall it)")
def test_make_generate_leaves_an_up_to_date_tree_unchanged() -> None:
    check = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "hack/generate_crd.py", "--check"],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert check.returncode == 0, f"the committed CRDs are stale (make generate would rewrite them): {check.stderr}"
    result = make("generate")
    assert result.returncode == 0, result.stderr
    assert "wrote" not in result.stdout, result.stdout
