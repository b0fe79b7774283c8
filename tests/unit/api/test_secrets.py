"""secret_references: every Secret a spec names, with its field, found through the schema."""

from __future__ import annotations

import json
from typing import Any

from modelmonitor.api import parse_spec, spec_schema
from modelmonitor.api.schema import SECRET_NAME_NOTE
from modelmonitor.api.secrets import secret_references
from tests.unit.api.rule_cases import BINARY, load_monitor


def test_every_secret_of_the_binary_fixture_is_named_with_its_field() -> None:
    spec = parse_spec(load_monitor(BINARY)["spec"])
    assert secret_references(spec) == [
        ("spec.data.store.credentialsSecret", "s3-creds"),
        ("spec.alerts.channels[0].smtpSecret", "smtp"),
        ("spec.alerts.channels[2].secret", "twilio"),
        ("spec.alerts.channels[3].urlSecret", "slack-hook"),
        ("spec.alerts.channels[3].signingSecret", "hook-key"),
    ]


def _secret_fields(node: dict[str, Any], path: str) -> list[str]:
    found = [path] if str(node.get("description", "")).endswith(SECRET_NAME_NOTE) else []
    for name, child in (node.get("properties") or {}).items():
        found += _secret_fields(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _secret_fields(node["items"], f"{path}[]")
    return found


def test_every_secret_field_of_the_schema_is_found_when_set() -> None:
    """A spec setting each Secret field of the schema: each is reported (none is on a hand-kept list)."""
    fields = _secret_fields(spec_schema(), "spec")
    assert "spec.alerts.channels[].headersSecret" in fields and "spec.data.store.credentialsSecret" in fields
    monitor = load_monitor(BINARY)
    monitor["spec"]["alerts"]["channels"][3]["headersSecret"] = "extra-headers"
    found = {
        path.replace("[3]", "[]").replace("[0]", "[]").replace("[2]", "[]")
        for path, _ in secret_references(parse_spec(monitor["spec"]))
    }
    assert {"spec.alerts.channels[].headersSecret", "spec.alerts.channels[].smtpSecret"} <= found
    assert json.dumps(spec_schema()).count(SECRET_NAME_NOTE) == len(fields)
