"""Property: every declared rule yields exactly one check, and a check says what happened (issue 17).

Hypothesis generates valid monitors for every task and data shape (with or without scores, labels in the
current data, in their own source, not matched yet, or absent; with or without ``spec.drift``), runs each on
small generated data through the real evaluator and asserts:

- each ``spec.metrics`` entry and each test of ``spec.drift.tests`` has exactly one check, in the result and
  in the summary, and nothing else has one;
- ``ok`` / ``violated`` carry a finite value, and a metric is violated exactly when its value is outside
  ``[min, max]`` (with a violation of the same rule id); ``pending`` carries a reason;
- a monitor without ``spec.drift`` runs no drift test: no drift result, no drift violation, no drift check.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmonitor.api.metrics import DRIFT_TESTS, METRICS_BY_TASK, SCORE_METRICS, drift_test_rule, metric_rule
from tests.unit.evaluator.accountability.scenarios import DataShape, run_scenario

TASKS = list(METRICS_BY_TASK)
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def thresholds(draw: st.DrawFn, name: str) -> dict[str, Any]:
    low = draw(st.floats(min_value=-1.0, max_value=2.0, allow_nan=False))
    high = draw(st.floats(min_value=low, max_value=3.0, allow_nan=False))
    sides = draw(st.sampled_from(["min", "max", "both"]))
    rule: dict[str, Any] = {"name": name, "severity": draw(st.sampled_from(["warning", "critical"]))}
    if sides in ("min", "both"):
        rule["min"] = low
    if sides in ("max", "both"):
        rule["max"] = high
    return rule


@st.composite
def drift_specs(draw: st.DrawFn) -> dict[str, Any]:
    drift: dict[str, Any] = {
        "tests": draw(st.lists(st.sampled_from(DRIFT_TESTS), min_size=1, max_size=4, unique=True)),
        "minSampleSize": draw(st.sampled_from([10, 30, 1000])),
    }
    for key in ("wasserstein", "jensenShannon"):
        if draw(st.booleans()):
            warning = draw(st.floats(min_value=0.01, max_value=0.5))
            drift[key] = {"warning": warning, "critical": warning + draw(st.floats(min_value=0.01, max_value=1.0))}
    return drift


@st.composite
def scenarios(draw: st.DrawFn, task: str) -> tuple[DataShape, dict[str, Any]]:
    score = task == "binary-classification" and draw(st.booleans())
    labels = draw(st.sampled_from(["in-current", "separate", "separate-partial", "separate-unmatched", "none"]))
    with_drift = labels == "none" or draw(st.booleans())
    prediction = labels != "none" or draw(st.booleans())
    shape = DataShape(
        task=task,
        rows=draw(st.sampled_from([60, 200])),
        prediction=prediction,
        score=score,
        labels=labels,
        shift=draw(st.sampled_from([0.0, 0.3, 2.0])),
        categorical_shift=draw(st.sampled_from([0.0, 0.9])),
        seed=draw(st.integers(min_value=0, max_value=50)),
        min_coverage=draw(st.sampled_from([0.0, 0.3, 0.8])),
    )
    rules: dict[str, Any] = {}
    if labels != "none":
        names = [name for name in METRICS_BY_TASK[task] if score or name not in SCORE_METRICS]
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
        rules["metrics"] = [draw(thresholds(name)) for name in chosen]
    if with_drift:
        rules["drift"] = draw(drift_specs())
    return shape, rules


def _expected_rules(rules: dict[str, Any]) -> list[str]:
    expected = [metric_rule(rule["name"]) for rule in rules.get("metrics", [])]
    expected += [drift_test_rule(test) for test in (rules.get("drift") or {}).get("tests", [])]
    return expected


@pytest.mark.parametrize("task", TASKS)
def test_every_declared_rule_has_exactly_one_check(task: str) -> None:
    every_declared_rule_has_exactly_one_check(task)


@SETTINGS
@given(data=st.data())
def every_declared_rule_has_exactly_one_check(task: str, data: st.DataObject) -> None:
    shape, rules = data.draw(scenarios(task))
    result, summary = run_scenario(shape, rules)
    checks = result["checks"]
    assert [check["rule"] for check in checks] == _expected_rules(rules)
    assert list(summary["checks"]) == _expected_rules(rules)
    violated_rules = {violation["rule"] for violation in result["violations"]}
    by_name = {rule["name"]: rule for rule in rules.get("metrics", [])}
    for check in checks:
        assert summary["checks"][check["rule"]]["state"] == check["state"]
        if check["state"] == "pending":
            assert check["reason"], check
            continue
        assert check["state"] in ("ok", "violated")
        assert isinstance(check["value"], float) and math.isfinite(check["value"]), check
        if check["rule"].startswith("metric:"):
            rule = by_name[check["rule"].removeprefix("metric:")]
            outside = check["value"] < rule.get("min", -math.inf) or check["value"] > rule.get("max", math.inf)
            assert (check["state"] == "violated") == outside, (check, rule)
            assert (check["rule"] in violated_rules) == outside
            if outside:
                assert check["severity"] == rule["severity"]
        elif check["state"] == "violated":
            assert any(rule.startswith("drift") for rule in violated_rules), (check, result["violations"])
    metric_checks = checks[: len(by_name)]
    if shape.labels == "separate-unmatched":
        assert result["metricsPending"]
        assert all("labels have not arrived" in check["reason"] for check in metric_checks)
    if shape.labels == "separate-partial" and shape.min_coverage > 0.4:
        assert result["metricsPending"]
        assert all("below spec.data.labels.minCoverage" in check["reason"] for check in metric_checks)
    if shape.labels in ("in-current", "separate") or (shape.labels == "separate-partial" and shape.min_coverage < 0.4):
        assert not result["metricsPending"]


@pytest.mark.parametrize("task", TASKS)
def test_a_metrics_only_monitor_runs_no_drift_test(task: str) -> None:
    a_metrics_only_monitor_runs_no_drift_test(task)


@SETTINGS
@given(data=st.data())
def a_metrics_only_monitor_runs_no_drift_test(task: str, data: st.DataObject) -> None:
    shape, rules = data.draw(scenarios(task).filter(lambda scenario: "drift" not in scenario[1]))
    result, summary = run_scenario(shape, rules)
    assert result["drift"]["features"] == [] and result["drift"]["featureCount"] == 0
    assert result["statistics"]["predictionDrift"] == [] and result["statistics"]["targetDrift"] is None
    assert not any(violation["rule"].startswith("drift") for violation in result["violations"])
    assert not any(rule.startswith("drift") for rule in summary["checks"])
    assert result["rules"]["drift"] is None
