"""docs/reference.md is what hack/generate_reference.py renders from the schema, and lists every field."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from modelmonitor.api.schema import monitor_schema

REPO_ROOT = Path(__file__).resolve().parents[3]
GENERATOR = REPO_ROOT / "hack" / "generate_reference.py"
REFERENCE = REPO_ROOT / "docs" / "reference.md"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def leaf_paths(schema: Mapping[str, Any], path: str) -> Iterator[str]:
    yield path
    for name, child in (schema.get("properties") or {}).items():
        yield from leaf_paths(child, f"{path}.{name}")
    for marker, nested in (("[]", schema.get("items")), ("{}", schema.get("additionalProperties"))):
        if isinstance(nested, Mapping):
            for name, child in (nested.get("properties") or {}).items():
                yield from leaf_paths(child, f"{path}{marker}.{name}")


def test_committed_reference_equals_the_generator_output() -> None:
    rendered = load_generator().render()
    assert REFERENCE.read_text(encoding="utf-8") == rendered, (
        "docs/reference.md is out of date: run .venv/bin/python hack/generate_reference.py"
    )


def test_check_mode_agrees() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_spec_and_status_field_has_a_row_with_its_default() -> None:
    schema = monitor_schema()
    text = REFERENCE.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")}
    for top in ("spec", "status"):
        for path in leaf_paths(schema["properties"][top], top):
            if path == top:
                continue
            assert path in rows, f"{path} is missing from docs/reference.md"
    assert "`24h`" in rows["spec.data.current.window"]
    assert "`0.05`" in rows["spec.drift.pValue"] and "0 < value < 1" in rows["spec.drift.pValue"]
    assert "**required**" in rows["spec.model.task"] and "`regression`" in rows["spec.model.task"]
    assert "spec.rollback.target must be set when spec.rollback.enabled is true" in text


def test_rendering_marks_required_and_escapes_table_cells() -> None:
    generator = load_generator()
    field = generator.Field("spec.x", {"type": "string", "enum": ["a|b"], "description": "one | two"}, True)
    assert generator.constraints(field) == ["**required**", "one of `a|b`"]
    assert generator._cell("one | two\n three") == "one \\| two three"
    assert generator.type_of({"type": "array", "items": {"type": "string"}}) == "list of strings"
    assert generator.type_of({"type": "object", "additionalProperties": {"type": "string"}}) == "map of string"


def test_every_rule_the_api_server_enforces_is_listed_with_its_field() -> None:
    """Rules on list items too (min <= max of each metric, e-mail channels needing `to`): they were missing."""
    from modelmonitor.api.rules import schema_rules

    text = REFERENCE.read_text(encoding="utf-8")
    rules = list(schema_rules(monitor_schema(), ""))
    assert len(rules) >= 50
    for node, rule in rules:
        field = f"{node}{rule.get('fieldPath', '')}".lstrip(".")
        if field.startswith(("spec", "status")):
            assert f"- `{field}`: {rule['message']}" in text, (field, rule["message"])
        else:
            assert f"- {rule['message']}" in text, rule["message"]
    assert "- `spec.metrics[].min`: spec.metrics min must be less than or equal to max" in text
    assert "- `spec.alerts.channels[]`: spec.alerts.channels of type email must set to and smtpSecret" in text
