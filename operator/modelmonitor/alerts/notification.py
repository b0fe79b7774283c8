"""What an alert says, independent of how it travels.

A ``Notification`` is plain data built by the alert policy from a monitor and an evaluation summary
(docs/contracts.md §2). It round-trips through JSON (``to_dict`` / ``from_dict``) because undelivered
notifications wait in the monitor's status until a later reconcile retries them; an operator restart must
find them exactly as they were planned. Channels only render it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "SEVERITY_RANK",
    "DriftedFeature",
    "Notification",
    "NotificationKind",
    "Severity",
    "Violation",
    "make_dedup_key",
    "severity_at_least",
]


class NotificationKind(StrEnum):
    """Why a notification is sent."""

    FIRING = "firing"
    RESOLVED = "resolved"
    EVALUATION_FAILED = "evaluation_failed"
    LABELS_PENDING = "labels_pending"
    ROLLBACK = "rollback"
    COMPARISON = "comparison"  # spec.challenger's decision changed
    PROMOTION = "promotion"  # the challenger was (or would be) promoted


class Severity(StrEnum):
    """Ordered severities; a channel's ``minSeverity`` keeps notifications at or above its level."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK: Mapping[str, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is at or above ``minimum`` (unknown names rank as warning)."""
    return SEVERITY_RANK.get(severity, 1) >= SEVERITY_RANK.get(minimum, 1)


@dataclass(frozen=True)
class Violation:
    """One broken rule of one evaluation, as the evaluator reported it."""

    rule: str
    severity: str
    reason: str
    value: float | None = None
    threshold: float | None = None
    op: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "reason": self.reason,
            "value": self.value,
            "threshold": self.threshold,
            "op": self.op,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Violation:
        value = data.get("value")
        threshold = data.get("threshold")
        return cls(
            rule=str(data.get("rule", "unknown")),
            severity=str(data.get("severity") or Severity.WARNING),
            reason=str(data.get("reason") or ""),
            value=float(value) if isinstance(value, int | float) else None,
            threshold=float(threshold) if isinstance(threshold, int | float) else None,
            op=str(data["op"]) if data.get("op") is not None else None,
        )


@dataclass(frozen=True)
class DriftedFeature:
    """A feature whose distribution moved, with the test that said so."""

    feature: str
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "test": self.test, "statistic": self.statistic, "pValue": self.p_value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftedFeature:
        statistic = data.get("statistic")
        p_value = data.get("pValue")
        return cls(
            feature=str(data.get("feature", "unknown")),
            test=str(data["test"]) if data.get("test") is not None else None,
            statistic=float(statistic) if isinstance(statistic, int | float) else None,
            p_value=float(p_value) if isinstance(p_value, int | float) else None,
        )


@dataclass(frozen=True)
class Notification:
    """Everything any channel needs to tell a person what happened and where to look.

    ``dedup_key`` is stable per monitor and rule group (the same for a problem's firing, repeats and
    resolution: PagerDuty's ``dedup_key``); ``evaluation_id`` is the run that caused it; ``message`` carries
    the human explanation for kinds without violations (the evaluation error, the rollback performed).
    """

    kind: NotificationKind
    monitor_namespace: str
    monitor_name: str
    model_name: str
    model_version: str
    severity: str
    dedup_key: str
    evaluation_id: str
    occurred_at: str
    violations: Sequence[Violation] = field(default_factory=tuple)
    drifted_features: Sequence[DriftedFeature] = field(default_factory=tuple)
    drift_share: float | None = None
    report_uri: str | None = None
    message: str = ""

    @property
    def monitor_path(self) -> str:
        """``namespace/name``, the way kubectl users spell a namespaced object."""
        return f"{self.monitor_namespace}/{self.monitor_name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "monitor": {"namespace": self.monitor_namespace, "name": self.monitor_name},
            "model": {"name": self.model_name, "version": self.model_version},
            "severity": self.severity,
            "dedupKey": self.dedup_key,
            "evaluationId": self.evaluation_id,
            "occurredAt": self.occurred_at,
            "violations": [violation.to_dict() for violation in self.violations],
            "driftedFeatures": [feature.to_dict() for feature in self.drifted_features],
            "driftShare": self.drift_share,
            "reportUri": self.report_uri,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        monitor = data.get("monitor") or {}
        model = data.get("model") or {}
        drift_share = data.get("driftShare")
        return cls(
            kind=NotificationKind(data["kind"]),
            monitor_namespace=str(monitor.get("namespace", "")),
            monitor_name=str(monitor.get("name", "")),
            model_name=str(model.get("name", "")),
            model_version=str(model.get("version", "")),
            severity=str(data.get("severity") or Severity.WARNING),
            dedup_key=str(data.get("dedupKey", "")),
            evaluation_id=str(data.get("evaluationId", "")),
            occurred_at=str(data.get("occurredAt", "")),
            violations=tuple(Violation.from_dict(item) for item in data.get("violations") or ()),
            drifted_features=tuple(DriftedFeature.from_dict(item) for item in data.get("driftedFeatures") or ()),
            drift_share=float(drift_share) if isinstance(drift_share, int | float) else None,
            report_uri=str(data["reportUri"]) if data.get("reportUri") else None,
            message=str(data.get("message") or ""),
        )


_DEDUP_KEY_LIMIT = 255  # PagerDuty's limit for dedup_key


def make_dedup_key(namespace: str, name: str, group: str) -> str:
    """A key stable per monitor and rule group, short enough for PagerDuty (hashed when too long)."""
    key = f"modelmonitor/{namespace}/{name}/{group}"
    if len(key) <= _DEDUP_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"modelmonitor/{digest}/{group}"[:_DEDUP_KEY_LIMIT]
