"""Per-monitor Prometheus series: removed with their monitor, and restored from status by a new process."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelmonitor.controller import metrics


def series(namespace: str, monitor: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            if sample.labels.get("namespace") == namespace and sample.labels.get("monitor") == monitor:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


SUMMARY = {"verdict": "critical", "outcome": "evaluated", "metrics": {"accuracy": 0.8125, "roc_auc": 0.71},
           "drift": {"share": 0.25, "drifted": 2}, "startedAt": "2026-12-01T10:00:00Z",
           "finishedAt": "2026-12-01T10:00:42Z"}


def test_a_deleted_monitors_series_are_removed_and_no_other() -> None:
    metrics.observe_evaluation("ns-del", "gone", SUMMARY)
    metrics.ALERTS.labels("ns-del", "gone", "hook", "sent").inc()
    metrics.observe_evaluation("ns-del", "stays", SUMMARY)
    assert len(series("ns-del", "gone")) >= 7
    kept = series("ns-del", "stays")
    removed = metrics.forget_monitor("ns-del", "gone")
    assert removed == 7  # 2 metric values, share, drifted, evaluations, duration, alerts
    assert series("ns-del", "gone") == {}
    assert series("ns-del", "stays") == kept


def test_gauges_are_restored_from_status_last_evaluation() -> None:
    restored = metrics.restore_from_status("ns-restore", "m", {"lastEvaluation": {"id": "e1", **SUMMARY}})
    assert restored
    values = {(name, dict(labels).get("metric")): value for (name, labels), value in series("ns-restore", "m").items()}
    assert values[("modelmonitor_metric_value", "accuracy")] == 0.8125
    assert values[("modelmonitor_metric_value", "roc_auc")] == 0.71
    assert values[("modelmonitor_drift_share", None)] == 0.25
    assert values[("modelmonitor_drifted_features", None)] == 2
    assert values[("modelmonitor_evaluation_duration_seconds", None)] == 42
    assert not any(name.startswith("modelmonitor_evaluations") for name, _ in values)  # counters are not invented


def test_nothing_is_restored_from_a_failed_or_missing_evaluation() -> None:
    assert not metrics.restore_from_status("ns-restore", "failed", {"lastEvaluation": {"outcome": "data_error"}})
    assert not metrics.restore_from_status("ns-restore", "new", None)
    assert series("ns-restore", "failed") == {} and series("ns-restore", "new") == {}


def segment_values(namespace: str, monitor: str) -> dict[tuple[str, str], float]:
    return {(dict(labels)["segment"], dict(labels)["metric"]): value
            for (name, labels), value in series(namespace, monitor).items()
            if name == "modelmonitor_segment_metric_value"}


def with_segments(*top: tuple[str, dict[str, float]]) -> dict[str, object]:
    return {**SUMMARY, "segments": {"top": [{"segment": segment, "metrics": values} for segment, values in top]}}


def test_an_evaluation_replaces_its_own_segment_series_and_no_other_monitors() -> None:
    metrics.observe_evaluation("ns-seg", "other", with_segments(("region=north", {"accuracy": 0.5})))
    metrics.observe_evaluation("ns-seg", "m", with_segments(("region=north", {"accuracy": 0.6, "f1": 0.4}),
                                                            ("region=south", {"accuracy": 0.7})))
    assert segment_values("ns-seg", "m") == {("region=north", "accuracy"): 0.6, ("region=north", "f1"): 0.4,
                                             ("region=south", "accuracy"): 0.7}
    metrics.observe_evaluation("ns-seg", "m", with_segments(("region=south", {"accuracy": 0.65}),
                                                            ("region=east", {"accuracy": 0.2, "f1": True})))
    assert segment_values("ns-seg", "m") == {("region=south", "accuracy"): 0.65, ("region=east", "accuracy"): 0.2}
    metrics.observe_evaluation("ns-seg", "m", SUMMARY)  # no segments any more
    assert segment_values("ns-seg", "m") == {}
    assert segment_values("ns-seg", "other") == {("region=north", "accuracy"): 0.5}
    metrics.forget_monitor("ns-seg", "other")
    metrics.observe_evaluation("ns-seg", "other", with_segments(("region=west", {"accuracy": 0.1})))
    assert segment_values("ns-seg", "other") == {("region=west", "accuracy"): 0.1}
