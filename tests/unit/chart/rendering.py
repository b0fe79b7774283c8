"""Render the Helm chart with the project's pinned helm (``bin/helm``, from ``hack/tools/install.sh``).

Shared by the unit tests (render and inspect) and the integration tests (render, then hand the output to the
real API server). Rendering goes through the real ``helm`` binary rather than a re-implementation of its
template language, so what is tested is what users install.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "modelmonitor-operator"
BIN_DIR = REPO_ROOT / "bin"

Manifest = dict[str, Any]


def tool(name: str) -> Path:
    """The project-local kubectl / helm; a clear failure when they were not installed."""
    path = BIN_DIR / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `hack/tools/install.sh` to install the pinned kubectl and helm")
    return path


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("helm")), *args], capture_output=True, text=True, check=check, timeout=60)


def template_args(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "mm",
    namespace: str = "modelmonitor-system",
    extra: Sequence[str] = (),
) -> list[str]:
    # Values go in as one JSON document on --set-json per top-level key: exact types, no --set escaping rules.
    args = ["template", release, str(CHART_DIR), "--namespace", namespace, *extra]
    for key, value in (values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def render_text(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "mm",
    namespace: str = "modelmonitor-system",
    extra: Sequence[str] = (),
) -> str:
    result = helm(*template_args(values, release=release, namespace=namespace, extra=extra), check=False)
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return result.stdout


def render(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "mm",
    namespace: str = "modelmonitor-system",
    extra: Sequence[str] = (),
) -> list[Manifest]:
    text = render_text(values, release=release, namespace=namespace, extra=extra)
    return [document for document in yaml.safe_load_all(text) if document]


class RenderError(Exception):
    """helm template refused the values (schema violation or a `fail` in a template); the message is helm's."""


def find(manifests: Sequence[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        manifest
        for manifest in manifests
        if manifest["kind"] == kind and (name is None or manifest["metadata"]["name"] == name)
    ]


def only(manifests: Sequence[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[m['metadata']['name'] for m in found]}"
    return found[0]


def grants(rules: Sequence[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """The (apiGroup, resource, verb) triples a list of RBAC rules grants (resourceNames kept apart)."""
    return {
        (group, resource, verb)
        for rule in rules
        if not rule.get("resourceNames")
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
