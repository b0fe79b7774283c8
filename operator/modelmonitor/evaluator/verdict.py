"""Thresholds in, violations and a verdict out: a pure function the tests can pin down exactly.

A violation has a rule id (``metric:f1``, ``drift:age``, ``drift:dataset``), the value, the threshold, which
side was crossed and a one-line reason a person can read in a page or an SMS. Metrics that are ``pending``
(too few labels have arrived) never become violations; the verdict is ``pending`` only when nothing else is
wrong, so real drift is not hidden behind late labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelmonitor.evaluator.config import DriftConfig, MetricRule

__all__ = ["Verdict", "Violation", "decide_verdict", "format_value"]

_SEVERITY_RANK = {"warning": 1, "critical": 2}


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
class Verdict:
    verdict: str
    violations: tuple[Violation, ...]


def format_value(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.3f}"


def _metric_violations(rules: Sequence[MetricRule], metrics: Mapping[str, float | None]) -> list[Violation]:
    violations = []
    for rule in rules:
        value = metrics.get(rule.name)
        if value is None or math.isnan(value):
            continue
        if rule.minimum is not None and value < rule.minimum:
            violations.append(
                Violation(
                    rule=f"metric:{rule.name}",
                    value=value,
                    threshold=rule.minimum,
                    op="min",
                    severity=rule.severity,
                    reason=f"{rule.name} {format_value(value)} is below the minimum {format_value(rule.minimum)}",
                )
            )
        elif rule.maximum is not None and value > rule.maximum:
            violations.append(
                Violation(
                    rule=f"metric:{rule.name}",
                    value=value,
                    threshold=rule.maximum,
                    op="max",
                    severity=rule.severity,
                    reason=f"{rule.name} {format_value(value)} is above the maximum {format_value(rule.maximum)}",
                )
            )
    return violations


def _number_or_none(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return None


def _feature_violations(drift: DriftConfig, features: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """One violation per drifted feature: critical when its PSI reaches the critical level, else warning."""
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
        severity = "critical" if psi is not None and psi >= drift.psi_critical else "warning"
        if psi is not None and psi >= drift.psi_warning:
            value = psi
            threshold = drift.psi_critical if severity == "critical" else drift.psi_warning
            reason = f"feature {name} drifted: PSI {format_value(psi)} reaches the {severity} level "
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


def decide_verdict(
    *,
    metric_rules: Sequence[MetricRule],
    metrics: Mapping[str, float | None],
    metrics_pending: bool,
    drift: DriftConfig,
    features: Sequence[Mapping[str, Any]],
    drift_share: float | None,
    drifted_count: int,
    feature_count: int,
) -> Verdict:
    """The violations of one evaluation, worst first, and the verdict they add up to."""
    violations: list[Violation] = []
    if not metrics_pending:
        violations.extend(_metric_violations(metric_rules, metrics))
    violations.extend(_feature_violations(drift, features))
    if drift_share is not None and feature_count > 0 and drifted_count > 0 and drift_share >= drift.dataset_drift_share:
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
    return Verdict(verdict=verdict, violations=tuple(violations))
