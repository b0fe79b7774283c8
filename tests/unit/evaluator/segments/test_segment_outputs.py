"""Segments in the summary (bounded, shed first when too long), in status.lastEvaluation, as Prometheus series
(bounded, replaced each evaluation, removed with the monitor) and in the HTML report (escaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelmonitor.controller import metrics
from modelmonitor.evaluator.report import render_report
from modelmonitor.evaluator.result import SUMMARY_LIMIT_BYTES, build_summary, encode_summary
from modelmonitor.evaluator.segments.summary import TOP_SEGMENTS
from modelmonitor.reconcile.status import apply_evaluation


def _entry(name: str, rows: int, accuracy: float, state: str = "ok") -> dict[str, Any]:
    return {"segment": name, "dimension": name.split("=")[0], "rows": rows, "labelled": rows, "state": state,
            "metrics": {"accuracy": accuracy, "f1": 0.5, "macro_f1": 0.4}, "referenceMetrics": {"accuracy": 0.9},
            "referenceRows": rows, "drift": None, "checks": []}


def _result(segments: int) -> dict[str, Any]:
    entries = [_entry(f"customer=<c{index}>", 1000 - index, 0.9 - index / 1000) for index in range(segments)]
    return {
        "runId": "r1", "outcome": "evaluated", "verdict": "warning", "modelVersion": "3",
        "model": {"name": "credit", "task": "binary-classification"},
        "rows": {"reference": 10, "current": 10, "labelled": 10}, "metrics": {"accuracy": 0.9},
        "rules": {"metrics": [{"name": "accuracy", "min": 0.8}]}, "checks": [], "violations": [],
        "segments": {
            "minSize": 100, "maxSegments": 100, "dimensions": [{"name": "customer", "columns": ["customer"],
                                                                 "segments": entries}],
            "discovery": {"fdr": 0.05, "tested": 40, "significant": 1, "explainedByOneColumn": 0, "slices": [
                {"slice": "region=<EU>", "metric": "accuracy", "reference": {"rows": 500, "value": 0.9},
                 "current": {"rows": 480, "value": 0.78}, "drop": 0.12, "qValue": 0.001}]},
        },
    }


def test_the_summary_keeps_the_largest_segments_and_only_rule_metrics() -> None:
    summary = build_summary(_result(60))
    segments = summary["segments"]
    assert segments["count"] == 60 and len(segments["top"]) == TOP_SEGMENTS
    assert segments["top"][0] == {"segment": "customer=<c0>", "rows": 1000, "state": "ok",
                                  "metrics": {"accuracy": 0.9}}
    assert segments["weakSlices"] == [{"slice": "region=<EU>", "metric": "accuracy", "drop": 0.12, "qValue": 0.001}]


def test_segment_detail_is_shed_before_anything_else_when_the_summary_is_too_long() -> None:
    summary = build_summary(_result(60))
    summary["violations"] = [{"rule": f"metric:accuracy[customer=c{index}]", "value": 0.5, "threshold": 0.8,
                              "op": "min", "severity": "warning", "reason": "x" * 150} for index in range(20)]
    encoded = encode_summary(summary)
    assert len(encoded) <= SUMMARY_LIMIT_BYTES
    decoded = json.loads(encoded)
    assert decoded["segments"]["count"] == 60  # counts stay
    assert decoded["segments"]["top"] == [] and decoded["segments"]["weakSlices"] == []
    assert decoded["violationsOmitted"] > 0  # violations went only after the segment detail


def test_status_last_evaluation_carries_the_segments() -> None:
    summary = build_summary(_result(3))
    patch = apply_evaluation({}, summary, "job-1", 1, ["accuracy"], datetime(2026, 12, 1, tzinfo=UTC))
    assert patch["lastEvaluation"]["segments"]["top"][2]["segment"] == "customer=<c2>"


def _segment_series(namespace: str, monitor: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "modelmonitor_segment_metric_value" and labels.get("namespace") == namespace \
                    and labels.get("monitor") == monitor:
                found[(labels["segment"], labels["metric"])] = sample.value
    return found


def test_prometheus_segment_series_are_bounded_replaced_and_removed_with_the_monitor() -> None:
    metrics.observe_evaluation("ns-seg", "m", build_summary(_result(60)))
    first = _segment_series("ns-seg", "m")
    assert len(first) == TOP_SEGMENTS and first[("customer=<c0>", "accuracy")] == 0.9
    later = _result(3)
    later["segments"]["dimensions"][0]["segments"] = [_entry("customer=new", 5, 0.5)]
    metrics.observe_evaluation("ns-seg", "m", build_summary(later))
    assert _segment_series("ns-seg", "m") == {("customer=new", "accuracy"): 0.5}  # the old top is gone
    metrics.forget_monitor("ns-seg", "m")
    assert _segment_series("ns-seg", "m") == {}


def test_the_report_has_an_escaped_segments_table_and_a_worst_slices_chart() -> None:
    report = render_report(_result(3))
    assert "<h2>Segments</h2>" in report and "Worst slices" in report
    assert 'aria-label="worst slices: reference and current"' in report
    assert "customer=&lt;c0&gt;" in report and "<c0>" not in report
    assert "region=&lt;EU&gt;" in report
    assert "<h2>Segments</h2>" not in render_report({**_result(3), "segments": None})
