"""parse_spec evaluates a spec's CEL rules once per distinct spec (the operator parses the same monitor's spec
several times per evaluation; the rules are most of the cost: bench/operator_load/README.md). What it returns
and what it refuses must not change."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelmonitor.api import parsing, rules
from modelmonitor.api.errors import SpecError
from modelmonitor.api.parsing import parse_spec


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {"name": "m", "version": "1", "task": "binary-classification"},
        "schedule": "0 * * * *",
        "data": {
            "store": {"endpoint": "http://127.0.0.1:1", "credentialsSecret": "s3"},
            "reference": {"uri": "s3://b/ref/", "format": "parquet"},
            "current": {"uri": "s3://b/cur/", "format": "parquet", "window": "24h", "timestampColumn": "ts"},
            "columns": {"target": "label", "prediction": "pred", "score": "proba"},
        },
        "metrics": [{"name": "accuracy", "min": 0.6}],
    }
    base.update(overrides)
    return base


@pytest.fixture
def rule_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts check_rules calls (the real one runs), with an empty memory of passed specs."""
    calls: list[str] = []
    real = rules.check_rules

    def counting(value: Any, schema: Any, path: str) -> None:
        calls.append(path)
        real(value, schema, path)

    monkeypatch.setattr(parsing, "check_rules", counting)
    monkeypatch.setattr(parsing, "_RULES_HELD", type(parsing._RULES_HELD)())
    return calls


def test_the_same_spec_has_its_rules_evaluated_once_and_parses_equal(rule_checks: list[str]) -> None:
    first = parse_spec(spec())
    again = parse_spec(copy.deepcopy(spec()))  # an equal spec in another dict (a fresh GET of the monitor)
    assert again == first
    assert rule_checks == ["spec"]
    parse_spec(spec(schedule="5 * * * *"))  # a changed spec is checked again
    assert rule_checks == ["spec", "spec"]


def test_a_spec_breaking_a_rule_is_refused_every_time(rule_checks: list[str]) -> None:
    # min above max breaks the metric's CEL rule; refusals are never remembered as passed
    broken = spec(metrics=[{"name": "accuracy", "min": 0.9, "max": 0.5}])
    for _ in range(2):
        with pytest.raises(SpecError):
            parse_spec(broken)
    assert rule_checks == ["spec", "spec"]


def test_the_memory_of_passed_specs_is_bounded(rule_checks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "_RULES_HELD_SIZE", 2)
    for minute in range(4):
        parse_spec(spec(schedule=f"{minute} * * * *"))
    assert len(parsing._RULES_HELD) == 2
    parse_spec(spec(schedule="0 * * * *"))  # the oldest went: checked again
    assert len(rule_checks) == 5
