"""Thresholds in, violations, per-rule checks and a verdict out: pure functions the tests can pin down exactly.

A violation has a rule id (``metric:f1``, ``drift:age``, ``drift:dataset``, ``drift-test:classifier``), the
value, the threshold, which side was crossed and a one-line reason a person can read in a page or an SMS.

Every declared rule is accounted for by exactly one :class:`Check`: each ``spec.metrics`` entry
(``metric:<name>``) and each test of ``spec.drift.tests`` (``drift-test:<test>``) is ``ok`` or ``violated``
with its value, or ``pending`` with the reason it has no value yet (labels not arrived, coverage below the
minimum, too few values, no column the test applies to). A rule that can never be computed was refused when
the config was read (``api.metrics.unmeasurable_rules``), so it never gets here.

Metrics that are ``pending`` never become violations; the verdict is ``pending`` only when nothing else is
wrong, so real drift is not hidden behind late labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelmonitor.api.metrics import (
    CATEGORICAL_TESTS,
    HYPOTHESIS_TESTS,
    MODEL_BASED_TESTS,
    NUMERIC_TESTS,
    TESTS_WITH_SEVERITIES,
    drift_test_rule,
    drift_thresholds,
    metric_rule,
)
from modelmonitor.api.model import DriftSpec, MetricThreshold

__all__ = ["Check", "CheckState", "Verdict", "Violation", "decide_verdict", "format_value"]

_SEVERITY_RANK = {"warning": 1, "critical": 2}
CheckState = Literal["ok", "violated", "pending"]


@dataclass(frozen=True)
class Violation:
    rule: str
    value: float
    threshold: float
    op: str
    severity: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "value": self.value,
            "threshold": self.threshold,
            "op": self.op,
            "severity": self.severity,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Check:
    """One declared rule's outcome: ``ok``/``violated`` with its value, or ``pending`` with the reason."""

    rule: str
    state: CheckState
    value: float | None = None
    severity: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state": self.state,
            "value": self.value,
            "severity": self.severity,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Verdict:
    verdict: str
    violations: tuple[Violation, ...]
    checks: tuple[Check, ...] = ()


def format_value(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.3f}"


def _metric_violation(rule: MetricThreshold, value: float) -> Violation | None:
    if rule.min is not None and value < rule.min:
        op, threshold, side = "min", rule.min, "below the minimum"
    elif rule.max is not None and value > rule.max:
        op, threshold, side = "max", rule.max, "above the maximum"
    else:
        return None
    return Violation(
        rule=metric_rule(rule.name),
        value=value,
        threshold=threshold,
        op=op,
        severity=rule.severity,
        reason=f"{rule.name} {format_value(value)} is {side} {format_value(threshold)}",
    )


def _metric_checks(
    rules: Sequence[MetricThreshold],
    metrics: Mapping[str, float | None],
    pending_reason: str | None,
) -> tuple[list[Violation], list[Check]]:
    violations: list[Violation] = []
    checks: list[Check] = []
    for rule in rules:
        rule_id = metric_rule(rule.name)
        if pending_reason is not None:
            checks.append(Check(rule_id, "pending", reason=pending_reason))
            continue
        value = metrics.get(rule.name)
        if value is None or math.isnan(value):
            checks.append(
                Check(rule_id, "pending", reason=f"{rule.name} has no value: no labelled row has what it needs")
            )
            continue
        violation = _metric_violation(rule, value)
        if violation is None:
            checks.append(Check(rule_id, "ok", value=value))
        else:
            violations.append(violation)
            checks.append(Check(rule_id, "violated", value=value, severity=violation.severity, reason=violation.reason))
    return violations, checks


def _number_or_none(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return None


def _feature_severity(drift: DriftSpec, feature: Mapping[str, Any], psi: float | None) -> str:
    """Critical when a declared test with a critical level reached it on this feature, else warning."""
    if psi is not None and psi >= drift.psi.critical:
        return "critical"
    for result in feature.get("tests") or []:
        if result.get("test") in drift.tests and result.get("drifted") and result.get("severity") == "critical":
            return "critical"
    return "warning"


def _feature_violations(drift: DriftSpec, features: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """One violation per drifted feature: critical when a declared critical level is reached, else warning."""
    violations = []
    for feature in features:
        if feature.get("status") != "drifted":
            continue
        name = str(feature.get("feature"))
        test = str(feature.get("test") or "drift")
        psi = _number_or_none(feature.get("psi"))
        effect = _number_or_none(feature.get("effect"))
        effect_threshold = _number_or_none(feature.get("effectThreshold"))
        p_value = _number_or_none(feature.get("pValue"))
        evidence = [] if p_value is None else [f"{test} p={format_value(p_value)}"]
        if effect is not None:
            limit = "" if effect_threshold is None else f" >= {format_value(effect_threshold)}"
            evidence.append(f"effect {format_value(effect)}{limit}")
        severity = _feature_severity(drift, feature, psi)
        if psi is not None and psi >= drift.psi.warning:
            value = psi
            psi_severity = "critical" if psi >= drift.psi.critical else "warning"
            threshold = drift.psi.critical if psi_severity == "critical" else drift.psi.warning
            reason = f"feature {name} drifted: PSI {format_value(psi)} reaches the {psi_severity} level "
            reason += format_value(threshold) + (f" ({', '.join(evidence[:1])})" if evidence else "")
        else:
            value = effect if effect is not None else 0.0
            threshold = effect_threshold if effect_threshold is not None else 0.0
            if psi is not None:
                evidence.append(f"PSI {format_value(psi)}")
            reason = f"feature {name} drifted ({', '.join(evidence) or test})"
        violations.append(
            Violation(
                rule=f"drift:{name}", value=value, threshold=threshold, op="max", severity=severity, reason=reason
            )
        )
    return violations


def _p_value(result: Mapping[str, Any]) -> object:
    adjusted = result.get("adjustedPValue")
    return adjusted if adjusted is not None else result.get("pValue")


def _univariate_check(drift: DriftSpec, test: str, features: Sequence[Mapping[str, Any]]) -> Check:
    """A declared column test over every feature: violated when it drifted any, its value the most extreme."""
    rule_id = drift_test_rule(test)
    applicable = [
        feature
        for feature in features
        if (feature.get("kind") == "numeric" and test in NUMERIC_TESTS)
        or (feature.get("kind") == "categorical" and test in CATEGORICAL_TESTS)
    ]
    if not applicable:
        kinds = "numeric" if test not in CATEGORICAL_TESTS else "categorical"
        if test in NUMERIC_TESTS and test in CATEGORICAL_TESTS:
            kinds = "numeric or categorical"
        return Check(rule_id, "pending", reason=f"no {kinds} feature to apply {test} to")
    results = [
        result
        for feature in applicable
        if feature.get("status") != "inconclusive"
        for result in feature.get("tests") or []
        if result.get("test") == test
    ]
    if not results:
        reasons = {str(feature.get("reason")) for feature in applicable if feature.get("reason")}
        reason = "; ".join(sorted(reasons)[:1]) or "too few values to decide"
        return Check(rule_id, "pending", reason=f"every feature {test} applies to is inconclusive: {reason}")
    if test in HYPOTHESIS_TESTS:
        p_values = [value for result in results if (value := _number_or_none(_p_value(result))) is not None]
        value = min(p_values) if p_values else None
    else:
        statistics = [value for result in results if (value := _number_or_none(result.get("statistic"))) is not None]
        value = max(statistics) if statistics else None
    drifted = [result for result in results if result.get("drifted")]
    if not drifted:
        return Check(rule_id, "ok", value=value)
    thresholds = drift_thresholds(drift, test) if test in TESTS_WITH_SEVERITIES else None
    largest = max((_number_or_none(result.get("effect")) or 0.0) for result in drifted)
    severity = "critical" if thresholds is not None and largest >= thresholds.critical else "warning"
    names = [
        str(feature.get("feature"))
        for feature in applicable
        for result in feature.get("tests") or []
        if result.get("test") == test and result.get("drifted")
    ]
    return Check(
        rule_id,
        "violated",
        value=value,
        severity=severity,
        reason=f"{test} found drift in {len(names)} feature(s): {', '.join(names[:5])}",
    )


def _model_based_check(test: str, results: Sequence[Mapping[str, Any]]) -> tuple[Check, Violation | None]:
    rule_id = drift_test_rule(test)
    result = next((item for item in results if item.get("test") == test), None)
    if result is None:
        return Check(rule_id, "pending", reason=f"{test}: too few sampled rows (or features) to fit a model"), None
    value = _number_or_none(result.get("statistic"))
    if not result.get("drifted"):
        return Check(rule_id, "ok", value=value), None
    threshold = _number_or_none(result.get("threshold")) or 0.0
    reason = f"{test} tells the current rows from the reference ones: {format_value(value or 0.0)}"
    reason += f" >= {format_value(threshold)}"
    violation = Violation(
        rule=rule_id, value=value or 0.0, threshold=threshold, op="max", severity="warning", reason=reason
    )
    return Check(rule_id, "violated", value=value, severity="warning", reason=reason), violation


def decide_verdict(
    *,
    metric_rules: Sequence[MetricThreshold],
    metrics: Mapping[str, float | None],
    metrics_pending: bool,
    drift: DriftSpec | None,
    features: Sequence[Mapping[str, Any]],
    drift_share: float | None,
    drifted_count: int,
    feature_count: int,
    model_based: Sequence[Mapping[str, Any]] = (),
    pending_reason: str | None = None,
) -> Verdict:
    """The violations of one evaluation, worst first, the check of every declared rule, and the verdict.

    ``drift`` ``None`` (no ``spec.drift``): no drift test was declared, so none can be violated.
    """
    pending = (pending_reason or "labels have not arrived") if metrics_pending else None
    violations, checks = _metric_checks(metric_rules, metrics, pending)
    if drift is not None:
        violations.extend(_feature_violations(drift, features))
        for test in drift.tests:
            if test in MODEL_BASED_TESTS:
                check, violation = _model_based_check(test, model_based)
                if violation is not None:
                    violations.append(violation)
                checks.append(check)
            else:
                checks.append(_univariate_check(drift, test, features))
        if (
            drift_share is not None
            and feature_count > 0
            and drifted_count > 0
            and drift_share >= drift.dataset_drift_share
        ):
            violations.append(
                Violation(
                    rule="drift:dataset",
                    value=drift_share,
                    threshold=drift.dataset_drift_share,
                    op="max",
                    severity=drift.severity,
                    reason=(
                        f"{drifted_count} of {feature_count} features drifted ({drift_share:.0%}), "
                        "at or above the "
                        f"dataset drift share {drift.dataset_drift_share:.0%}"
                    ),
                )
            )
    violations.sort(key=lambda violation: -_SEVERITY_RANK[violation.severity])
    if any(violation.severity == "critical" for violation in violations):
        verdict = "critical"
    elif violations:
        verdict = "warning"
    elif metrics_pending and metric_rules:
        verdict = "pending"
    else:
        verdict = "healthy"
    return Verdict(verdict=verdict, violations=tuple(violations), checks=tuple(checks))
