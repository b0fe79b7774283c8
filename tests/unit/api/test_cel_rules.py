"""parse_spec evaluates the CRD's own CEL rules: each rule's refusing example is refused with its message and
field, its accepting example accepted (the same examples go to the real API server in tests/integration/api).
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from typing import Any

import pytest

from modelmonitor.api import SpecError, parse_spec, spec_schema
from modelmonitor.api.rules import _program, check_rules, defaulted, schema_rules
from tests.unit.api.rule_cases import BINARY, DRIFT_ONLY, RULE_CASES, RuleCase, load_monitor

SCHEMA = spec_schema()


def test_every_cel_rule_of_the_schema_has_a_refusing_and_an_accepting_example() -> None:
    declared = Counter((node.replace("[]", "[]"), rule["message"]) for node, rule in schema_rules(SCHEMA))
    covered = Counter((case.node, case.message) for case in RULE_CASES)
    assert covered == declared


@pytest.mark.parametrize("node_rule", list(schema_rules(SCHEMA)), ids=lambda item: str(item)[:80])
def test_every_cel_rule_compiles(node_rule: tuple[str, dict[str, Any]]) -> None:
    assert _program(node_rule[1]["rule"]) is not None


@pytest.mark.parametrize("case", RULE_CASES, ids=[case.id for case in RULE_CASES])
def test_rule_refuses_its_refusing_example_naming_the_field(case: RuleCase) -> None:
    spec = case.monitor(accepting=False)["spec"]
    with pytest.raises(SpecError):
        parse_spec(spec)
    with pytest.raises(SpecError) as refused:  # the rule itself, not a structural check before it
        check_rules(defaulted(spec, SCHEMA), SCHEMA, "spec")
    assert (refused.value.field, refused.value.message) == (case.field, case.message)


@pytest.mark.parametrize("case", RULE_CASES, ids=[case.id for case in RULE_CASES])
def test_rule_accepts_its_accepting_example(case: RuleCase) -> None:
    parse_spec(case.monitor(accepting=True)["spec"])


def test_min_above_max_is_refused_by_parse_spec_with_the_crd_message() -> None:
    spec = load_monitor(BINARY)["spec"]
    spec["metrics"][0]["max"] = 0.5  # accuracy min 0.9
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert str(refused.value) == "spec.metrics[0].min: spec.metrics min must be less than or equal to max"


def test_email_channel_without_to_is_refused_by_parse_spec() -> None:
    spec = load_monitor(BINARY)["spec"]
    del spec["alerts"]["channels"][0]["to"]
    with pytest.raises(SpecError, match=r"spec\.alerts\.channels\[0\]: .* must set to and smtpSecret"):
        parse_spec(spec)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", ["metrics[0].min", "drift.pValue", "drift.psi.critical", "data.labels.minCoverage"])
def test_nan_and_infinite_numbers_are_refused(bad: float, where: str) -> None:
    spec = load_monitor(BINARY)["spec"]
    node: Any = spec
    parts = where.replace("[0]", ".0").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = bad
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.field == "spec." + where
    assert "must be a finite number" in refused.value.message


@pytest.mark.parametrize(
    ("change", "field", "suggestion"),
    [
        (lambda s: s.update(metrcs=s.pop("metrics")), "spec.metrcs", "did you mean metrics?"),
        (lambda s: s["drift"].update(pvalue=s["drift"].pop("pValue")), "spec.drift.pvalue", "did you mean pValue?"),
        (
            lambda s: s["alerts"]["channels"][0].update(smtp_secret="smtp"),
            "spec.alerts.channels[0].smtp_secret",
            "did you mean smtpSecret?",
        ),
        (lambda s: s["rollback"].update(cooldwn="1h"), "spec.rollback.cooldwn", "did you mean cooldown?"),
        (lambda s: s["data"]["columns"].update(zzz="x"), "spec.data.columns.zzz", "known: categorical, exclude"),
    ],
)
def test_unknown_key_is_refused_naming_the_closest_known_key(change: Any, field: str, suggestion: str) -> None:
    spec = copy.deepcopy(load_monitor(BINARY)["spec"])
    change(spec)
    with pytest.raises(SpecError) as refused:
        parse_spec(spec)
    assert refused.value.field == field
    assert suggestion in refused.value.message


def test_a_whole_monitor_passed_as_the_spec_is_refused_saying_where_the_fields_go() -> None:
    monitor = load_monitor(DRIFT_ONLY)
    with pytest.raises(SpecError) as refused:
        parse_spec({"spec": monitor["spec"]})
    assert refused.value.field == "spec.spec"
    assert "go directly under spec:" in refused.value.message


def test_spec_fields_without_the_spec_wrapper_are_refused() -> None:
    """A config file with model/data at the top (no `spec:`): its keys are not fields of a monitor document."""
    from modelmonitor.api import parse_monitor

    monitor = load_monitor(DRIFT_ONLY)
    with pytest.raises(SpecError) as refused:
        parse_monitor({"apiVersion": monitor["apiVersion"], **monitor["spec"]})
    assert refused.value.field in {"model", "data", "drift"}
    assert "did you mean spec" in refused.value.message or "under spec:" in refused.value.message
