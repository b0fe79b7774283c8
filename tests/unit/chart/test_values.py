"""values.yaml and values.schema.json stay one description: every value documented, typed and typo-proof."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.chart.rendering import CHART_DIR, RenderError, render

SCHEMA: dict[str, Any] = json.loads((CHART_DIR / "values.schema.json").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

# Values whose content is a Kubernetes object (documented upstream), so their own keys need no comment.
KUBERNETES_OBJECT_VALUES = {
    "livenessProbe",
    "readinessProbe",
    "resources",
    "podSecurityContext",
    "containerSecurityContext",
    "nodeSelector",
}


def test_defaults_satisfy_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(VALUES, SCHEMA, cls=jsonschema.Draft7Validator)


def declared_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, node in schema.get("properties", {}).items():
        paths.add(prefix + key)
        paths |= declared_paths(node, f"{prefix}{key}.")
    return paths


def closed_objects(schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of schema objects with declared properties that do not forbid unknown ones."""
    found = []
    if "properties" in schema and schema.get("additionalProperties") is not False:
        found.append(path or "<root>")
    for key, node in schema.get("properties", {}).items():
        found += closed_objects(node, f"{path}.{key}" if path else key)
        if "items" in node:
            found += closed_objects(node["items"], f"{path}.{key}[]" if path else f"{key}[]")
    return found


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in values.items():
        paths.add(prefix + key)
        node = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in node:
            paths |= value_paths(value, node, f"{prefix}{key}.")
    return paths


def test_every_schema_object_forbids_unknown_keys() -> None:
    assert closed_objects(SCHEMA) == []


def test_schema_declares_exactly_the_values_in_values_yaml() -> None:
    # Optional keys the defaults leave out on purpose.
    optional = {"operator.resources.claims"}
    assert value_paths(VALUES, SCHEMA) == declared_paths(SCHEMA) - optional


def test_every_value_is_commented() -> None:
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    key_line = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][\w.-]*):")
    parents: list[tuple[int, str]] = []
    uncommented = []
    for number, line in enumerate(lines):
        match = key_line.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        parents = [(i, k) for i, k in parents if i < indent]
        inside_kubernetes_object = any(k in KUBERNETES_OBJECT_VALUES for _, k in parents)
        if not inside_kubernetes_object and not lines[number - 1].lstrip().startswith("#"):
            uncommented.append(f"{number + 1}: {line.strip()}")
        parents.append((indent, match["key"]))
    assert uncommented == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 2}, "replicas"),
        ({"operator": {"resource": {}}}, "resource"),
        ({"rollback": {"targets": [{"apiGroup": "apps", "resources": []}]}}, "resources"),
        ({"rollback": {"targets": [{"group": "apps", "resources": ["deployments"]}]}}, "group"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
        ({"image": {"digest": "latest"}}, "digest"),
        ({"metrics": {"serviceMonitor": {"interval": "soon"}}}, "interval"),
    ],
)
def test_helm_refuses_a_wrong_value_naming_it(values: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(values)
