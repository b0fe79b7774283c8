"""Summaries and monitors shaped like docs/contracts.md §2, for the policy tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.api import AlertChannel, AlertPolicy, parse_part
from modelmonitor.reconcile.alert_policy import MonitorIdentity

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
MONITOR = MonitorIdentity(namespace="risk", name="credit-scoring", model_name="credit-scoring", model_version="7")
CHANNELS = [
    AlertChannel(name="mail", type="webhook"),
    AlertChannel(name="pager", type="webhook", min_severity="critical"),
]


def policy_of(raw: dict[str, Any] | None = None) -> AlertPolicy:
    """``spec.alerts.policy`` as the spec parser reads it (the CRD's defaults)."""
    return parse_part(AlertPolicy, raw or {}, "spec.alerts.policy")


def channels_of(raw: list[dict[str, Any]]) -> list[AlertChannel]:
    """``spec.alerts.channels`` as the spec parser reads them."""
    return [parse_part(AlertChannel, item, f"spec.alerts.channels[{index}]") for index, item in enumerate(raw)]


def channel_of(raw: dict[str, Any]) -> AlertChannel:
    """One ``spec.alerts.channels[]`` entry as the spec parser reads it (structure only, no CEL rules)."""
    return parse_part(AlertChannel, raw, "spec.alerts.channels[0]")


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def violation(rule: str = "metric:f1", severity: str = "warning") -> dict[str, Any]:
    return {
        "rule": rule,
        "value": 0.78,
        "threshold": 0.8,
        "op": "min",
        "severity": severity,
        "reason": f"{rule} is below the minimum",
    }


def summary(run: str, *violations: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    verdict = "healthy"
    if violations:
        verdict = "critical" if any(v["severity"] == "critical" for v in violations) else "warning"
    result: dict[str, Any] = {
        "schemaVersion": 1,
        "runId": run,
        "outcome": "evaluated",
        "error": None,
        "modelVersion": "7",
        "labels": {"coverage": 0.9, "pending": False},
        "verdict": verdict,
        "drift": {
            "share": 0.2,
            "drifted": 1,
            "features": 5,
            "top": [{"feature": "age", "test": "ks", "statistic": 0.3, "pValue": 1e-9}],
        },
        "violations": list(violations),
        "reportUri": f"https://reports.example.com/{run}/report.html",
    }
    result.update(overrides)
    return result


def failed(run: str, reason: str = "NoSuchBucket") -> dict[str, Any]:
    return summary(
        run,
        outcome="storage_error",
        verdict="error",
        error={"reason": reason, "message": "bucket 'ml' does not exist"},
    )


def labels_pending(run: str) -> dict[str, Any]:
    return summary(run, violation(), labels={"coverage": 0.0, "pending": True}, verdict="pending")
