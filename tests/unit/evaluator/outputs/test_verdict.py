"""Thresholds become violations with severities and readable reasons; pending metrics never violate."""

from __future__ import annotations

from typing import Any

from modelmonitor.api.model import DriftSpec, DriftThresholds, MetricThreshold
from modelmonitor.evaluator.verdict import decide_verdict

RULES = (
    MetricThreshold(name="accuracy", min=0.9, severity="critical"),
    MetricThreshold(name="f1", min=0.8, severity="warning"),
    MetricThreshold(name="log_loss", max=0.45, severity="warning"),
)
DRIFT = DriftSpec(psi=DriftThresholds(warning=0.1, critical=0.25), dataset_drift_share=0.3)


def decide(
    metrics: dict[str, float | None],
    features: list[dict[str, Any]] | None = None,
    pending: bool = False,
    share: float = 0.0,
    drifted: int = 0,
    count: int = 10,
) -> Any:
    return decide_verdict(
        metric_rules=RULES,
        metrics=metrics,
        metrics_pending=pending,
        drift=DRIFT,
        features=features or [],
        drift_share=share,
        drifted_count=drifted,
        feature_count=count,
    )


def test_all_within_thresholds_is_healthy() -> None:
    verdict = decide({"accuracy": 0.95, "f1": 0.85, "log_loss": 0.3})
    assert verdict.verdict == "healthy"
    assert verdict.violations == ()


def test_the_worst_severity_decides_and_reasons_name_metric_value_and_threshold() -> None:
    verdict = decide({"accuracy": 0.88, "f1": 0.78, "log_loss": 0.5})
    assert verdict.verdict == "critical"
    assert verdict.violations[0].rule == "metric:accuracy"
    reasons = {violation.rule: violation.reason for violation in verdict.violations}
    assert reasons["metric:f1"] == "f1 0.780 is below the minimum 0.800"
    assert reasons["metric:log_loss"] == "log_loss 0.500 is above the maximum 0.450"
    f1 = next(violation for violation in verdict.violations if violation.rule == "metric:f1")
    assert (f1.op, f1.value, f1.threshold, f1.severity) == ("min", 0.78, 0.8, "warning")


def test_a_value_on_the_threshold_is_not_a_violation() -> None:
    assert decide({"accuracy": 0.9, "f1": 0.8, "log_loss": 0.45}).verdict == "healthy"


def test_missing_or_nan_metrics_are_skipped() -> None:
    assert decide({"accuracy": None, "f1": float("nan")}).verdict == "healthy"


def test_pending_metrics_never_violate_but_drift_still_does() -> None:
    assert decide({"accuracy": 0.1}, pending=True).verdict == "pending"
    drifted = [{"feature": "age", "status": "drifted", "psi": 0.3, "test": "ks", "pValue": 1e-9}]
    verdict = decide({"accuracy": 0.1}, drifted, pending=True, share=0.1, drifted=1)
    assert verdict.verdict == "critical"
    assert [violation.rule for violation in verdict.violations] == ["drift:age"]


def test_feature_drift_severity_follows_psi_levels() -> None:
    features = [
        {"feature": "age", "status": "drifted", "psi": 0.3, "test": "ks", "pValue": 1e-9},
        {"feature": "income", "status": "drifted", "psi": 0.12, "test": "ks", "pValue": 1e-4},
        {"feature": "region", "status": "stable", "psi": 0.5},
        {"feature": "tenure", "status": "inconclusive", "psi": 0.9},
    ]
    verdict = decide({}, features, share=0.2, drifted=2)
    by_rule = {violation.rule: violation for violation in verdict.violations}
    assert set(by_rule) == {"drift:age", "drift:income"}
    assert by_rule["drift:age"].severity == "critical"
    assert by_rule["drift:income"].severity == "warning"
    assert "PSI 0.120 reaches the warning level 0.100 (ks p=0.0001)" in by_rule["drift:income"].reason


def test_drift_decided_by_an_effect_size_below_the_psi_levels_is_a_warning_naming_the_effect() -> None:
    features = [
        {
            "feature": "tenure",
            "status": "drifted",
            "psi": 0.01,
            "test": "ks",
            "pValue": 1e-6,
            "effect": 0.15,
            "effectThreshold": 0.1,
        }
    ]
    violation = decide({}, features, share=0.04, drifted=1).violations[0]
    assert violation.severity == "warning"
    assert (violation.value, violation.threshold) == (0.15, 0.1)
    assert violation.reason == "feature tenure drifted (ks p=1e-06, effect 0.150 >= 0.100, PSI 0.010)"


def test_dataset_drift_at_the_configured_share() -> None:
    verdict = decide({}, share=0.3, drifted=3, count=10)
    assert [violation.rule for violation in verdict.violations] == ["drift:dataset"]
    assert verdict.violations[0].reason.startswith("3 of 10 features drifted (30%)")
    assert decide({}, share=0.2, drifted=2, count=10).verdict == "healthy"
