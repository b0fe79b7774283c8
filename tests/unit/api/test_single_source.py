"""The schema, the typed model and the committed CRD files cannot drift apart.

The schema (``modelmonitor.api.schema``) is the source; these tests fail when the YAML copies were not
regenerated, or when a field exists on one side only, or when a default differs between the two.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from modelmonitor.api import MonitorSpec, render_crd_yaml, spec_schema
from modelmonitor.api.parsing import json_name, parse_value

REPO_ROOT = Path(__file__).resolve().parents[3]
GENERATED_COPIES = [
    REPO_ROOT / "crds" / "modelmonitors.yaml",
    REPO_ROOT / "charts" / "modelmonitor-operator" / "crds" / "modelmonitors.yaml",
]


@pytest.mark.parametrize("path", GENERATED_COPIES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_committed_crd_equals_generator_output(path: Path) -> None:
    assert path.exists(), f"{path} is missing: run hack/generate_crd.py"
    assert path.read_text(encoding="utf-8") == render_crd_yaml(), f"{path} is stale: run hack/generate_crd.py"


# Keys kubectl and helm (go-yaml, YAML 1.1) read as booleans when written bare: `on: critical` becomes
# `true: critical` and the API server refuses it with a message about a field the user never wrote.
YAML_11_BOOLEAN_WORDS = {"y", "yes", "n", "no", "on", "off", "true", "false"}


def _property_paths(schema: dict[str, Any], path: str) -> list[str]:
    paths = []
    for name, node in schema.get("properties", {}).items():
        paths.append(f"{path}.{name}")
        paths.extend(_property_paths(node, f"{path}.{name}"))
    if "items" in schema:
        paths.extend(_property_paths(schema["items"], f"{path}[]"))
    if isinstance(schema.get("additionalProperties"), dict):
        paths.extend(_property_paths(schema["additionalProperties"], f"{path}.*"))
    return paths


def test_no_field_name_is_a_yaml_boolean() -> None:
    paths = _property_paths(spec_schema(), "spec")
    assert "spec.rollback.minSeverity" in paths and "spec.alerts.policy.mOfN.evaluations" in paths
    assert [path for path in paths if path.rsplit(".", 1)[-1].lower() in YAML_11_BOOLEAN_WORDS] == []


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass inside ``X``, ``X | None`` or ``list[X]``, if any."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union, list):
        for argument in typing.get_args(hint):
            found = _dataclass_of(argument)
            if found is not None:
                return found
    return None


def _object_pairs(cls: type, schema: dict[str, Any], path: str) -> list[tuple[type, dict[str, Any], str]]:
    """Every (dataclass, schema object, path) pair reachable from the spec."""
    pairs = [(cls, schema, path)]
    hints = typing.get_type_hints(cls)
    for spec_field in dataclasses.fields(cls):
        name = json_name(spec_field)
        nested = _dataclass_of(hints[spec_field.name])
        if nested is None or name not in schema.get("properties", {}):
            continue
        node = schema["properties"][name]
        node = node["items"] if node.get("type") == "array" else node
        pairs.extend(_object_pairs(nested, node, f"{path}.{name}"))
    return pairs


PAIRS = _object_pairs(MonitorSpec, spec_schema(), "spec")


def test_every_object_of_the_spec_is_paired() -> None:
    assert len(PAIRS) >= 20
    assert {path for _, _, path in PAIRS} >= {"spec.alerts.channels", "spec.rollback.target", "spec.drift.psi"}


@pytest.mark.parametrize(("cls", "schema", "path"), PAIRS, ids=[path for _, _, path in PAIRS])
def test_model_fields_are_the_schema_properties(cls: type, schema: dict[str, Any], path: str) -> None:
    fields = {json_name(spec_field) for spec_field in dataclasses.fields(cls)}
    assert fields == set(schema["properties"]), f"{path}: {cls.__name__} and the schema differ"


@pytest.mark.parametrize(("cls", "schema", "path"), PAIRS, ids=[path for _, _, path in PAIRS])
def test_required_properties_are_the_fields_without_default(cls: type, schema: dict[str, Any], path: str) -> None:
    without_default = {
        json_name(spec_field)
        for spec_field in dataclasses.fields(cls)
        if spec_field.default is dataclasses.MISSING and spec_field.default_factory is dataclasses.MISSING
    }
    assert without_default == set(schema.get("required", [])), path


def _model_default(spec_field: dataclasses.Field[Any]) -> Any:
    if spec_field.default_factory is not dataclasses.MISSING:
        return spec_field.default_factory()
    return spec_field.default


@pytest.mark.parametrize(("cls", "schema", "path"), PAIRS, ids=[path for _, _, path in PAIRS])
def test_model_defaults_are_the_schema_defaults(cls: type, schema: dict[str, Any], path: str) -> None:
    hints = typing.get_type_hints(cls)
    for spec_field in dataclasses.fields(cls):
        if spec_field.default is dataclasses.MISSING and spec_field.default_factory is dataclasses.MISSING:
            continue
        name = json_name(spec_field)
        node = schema["properties"][name]
        model_default = _model_default(spec_field)
        if "default" in node:
            schema_default = parse_value(hints[spec_field.name], node["default"], node, f"{path}.{name}")
            assert model_default == schema_default, f"{path}.{name}: model {model_default!r}, schema {schema_default!r}"
        else:  # absent in the spec means "nothing": None, or an empty list or map
            assert model_default in (None, [], {}), f"{path}.{name} has a model default but no schema default"
