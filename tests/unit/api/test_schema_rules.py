"""Properties of the schema that keep it usable: documented, within the CEL cost budget, kubectl-friendly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelmonitor.api import build_crd, monitor_schema, spec_schema


def _nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}.*")


SPEC_NODES = list(_nodes(spec_schema(), "spec"))


def test_every_spec_field_has_a_description() -> None:
    missing = [path for path, node in SPEC_NODES if not node.get("description")]
    assert missing == []


def test_spec_strings_and_lists_are_bounded_for_the_cel_cost_budget() -> None:
    unbounded = [
        path
        for path, node in SPEC_NODES
        if (node.get("type") == "string" and "maxLength" not in node and "enum" not in node)
        or (node.get("type") == "array" and "maxItems" not in node)
        or (node.get("type") == "object" and "additionalProperties" in node and "maxProperties" not in node)
    ]
    assert unbounded == []


def test_cel_messages_say_must() -> None:
    rules = [rule for _, node in _nodes(monitor_schema(), "") for rule in node.get("x-kubernetes-validations", [])]
    assert len(rules) >= 30
    assert [rule["message"] for rule in rules if "must" not in rule["message"]] == []


def test_cel_regular_expressions_are_raw_strings() -> None:
    """A backslash in a plain CEL string is an escape: regexes must be r'...' literals."""
    for path, node in _nodes(monitor_schema(), ""):
        for rule in node.get("x-kubernetes-validations", []):
            assert "matches('" not in rule["rule"].replace("matches('^https?://')", ""), path


def test_crd_names_columns_and_subresource() -> None:
    crd = build_crd()
    names = crd["spec"]["names"]
    assert names["shortNames"] == ["mm"]
    assert names["categories"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns == ["Model", "Version", "Phase", "Metric", "Drift", "Challenger", "Last-Evaluated", "Age"]
    status_summary = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["summary"]
    for column in version["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".status.summary."):
            assert column["jsonPath"].removeprefix(".status.summary.") in status_summary["properties"]


@pytest.mark.parametrize("field", ["lastEvaluation", "alerts", "rollback", "kopf"])
def test_operator_owned_status_objects_keep_unknown_fields(field: str) -> None:
    status = monitor_schema()["properties"]["status"]["properties"]
    assert status[field]["x-kubernetes-preserve-unknown-fields"] is True
