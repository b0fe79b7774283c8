"""Prometheus metrics of the operator: per monitor, the last evaluation's numbers; for the operator, how fast
it turns Job completions into status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

METRIC_VALUE = Gauge("modelmonitor_metric_value", "Last value of a quality metric",
                     ["namespace", "monitor", "metric"])
DRIFT_SHARE = Gauge("modelmonitor_drift_share", "Share of drifted features in the last evaluation",
                    ["namespace", "monitor"])
DRIFTED_FEATURES = Gauge("modelmonitor_drifted_features", "Drifted features in the last evaluation",
                         ["namespace", "monitor"])
EVALUATIONS = Counter("modelmonitor_evaluations", "Evaluations processed, by verdict and outcome",
                      ["namespace", "monitor", "verdict", "outcome"])
EVALUATION_SECONDS = Gauge("modelmonitor_evaluation_duration_seconds", "Duration of the last evaluation",
                           ["namespace", "monitor"])
ALERTS = Counter("modelmonitor_alerts", "Alert deliveries by channel and outcome",
                 ["namespace", "monitor", "channel", "outcome"])
RECONCILE_SECONDS = Histogram("modelmonitor_reconcile_seconds", "Time spent in a reconcile handler", ["kind"])
STATUS_LATENCY_SECONDS = Histogram(
    "modelmonitor_job_to_status_seconds", "From seeing a finished Job to its monitor's status being written",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))


def observe_evaluation(namespace: str, monitor: str, summary: Mapping[str, Any]) -> None:
    for name, value in (summary.get("metrics") or {}).items():
        if isinstance(value, int | float):
            METRIC_VALUE.labels(namespace, monitor, name).set(value)
    drift = summary.get("drift") or {}
    if isinstance(drift.get("share"), int | float):
        DRIFT_SHARE.labels(namespace, monitor).set(drift["share"])
    if isinstance(drift.get("drifted"), int):
        DRIFTED_FEATURES.labels(namespace, monitor).set(drift["drifted"])
    EVALUATIONS.labels(namespace, monitor, str(summary.get("verdict")), str(summary.get("outcome"))).inc()
    from datetime import datetime

    try:
        started = datetime.fromisoformat(str(summary["startedAt"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(summary["finishedAt"]).replace("Z", "+00:00"))
        EVALUATION_SECONDS.labels(namespace, monitor).set((finished - started).total_seconds())
    except (KeyError, ValueError):
        pass
