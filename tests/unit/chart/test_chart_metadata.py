"""The chart as a package: it lints strictly, its versions follow the Python package, its NOTES say what next."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.chart.rendering import CHART_DIR, REPO_ROOT, helm, render_text

FULL_VALUES: dict[str, Any] = {
    "watchNamespaces": ["risk", "fraud"],
    "replicaCount": 2,
    "rollback": {"targets": [{"apiGroup": "apps", "resources": ["deployments", "statefulsets"]}]},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "evaluator": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}}},
}


def test_appversion_is_the_python_package_version() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART_DIR.name


@pytest.mark.parametrize("values", [{}, FULL_VALUES], ids=["defaults", "namespaced-with-everything"])
def test_lint_strict_passes(values: dict[str, Any], tmp_path: Path) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = helm("lint", "--strict", str(CHART_DIR), "--values", str(values_file), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_templates_are_named_component_kind() -> None:
    names = sorted(path.name for path in (CHART_DIR / "templates").iterdir())
    assert "NOTES.txt" in names and "_helpers.tpl" in names
    components = {"operator", "evaluator", "aggregate"}
    for name in names:
        if name in {"NOTES.txt", "_helpers.tpl"}:
            continue
        assert name.endswith(".yaml") and name.split("-", 1)[0] in components, name


def notes(values: dict[str, Any]) -> str:
    # `helm template` does not render NOTES.txt; a client-side install dry-run does, without any cluster.
    args = ["install", "mm", str(CHART_DIR), "--namespace", "ops", "--dry-run=client"]
    for key, value in values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    output = helm(*args).stdout
    return output.split("NOTES:", 1)[1]


def test_notes_tell_the_next_command() -> None:
    text = notes({})
    assert "kubectl --namespace ops rollout status deployment/mm-modelmonitor-operator" in text
    assert "kubectl get modelmonitors --all-namespaces" in text
    assert "watches all namespaces" in text
    assert "Rollback is not permitted" in text


def test_notes_name_the_watched_namespaces_and_rollback() -> None:
    text = notes({"watchNamespaces": ["risk", "fraud"], "rollback": FULL_VALUES["rollback"]})
    assert "watches the namespaces: risk, fraud." in text
    assert "Rollback is not permitted" not in text


def test_crd_in_chart_matches_rbac_group_and_plural() -> None:
    crd_files = sorted((CHART_DIR / "crds").glob("*.yaml"))
    if not crd_files:
        pytest.skip("charts/modelmonitor-operator/crds/ not generated yet (hack/generate_crd.py)")
    (crd,) = [doc for path in crd_files for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["spec"]["group"] == "modelmonitor.io"
    assert crd["spec"]["names"]["plural"] == "modelmonitors"
    # The RBAC templates grant on exactly this group/plural.
    assert '"modelmonitor.io"' in render_text() and '"modelmonitors"' in render_text()
