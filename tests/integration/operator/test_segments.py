"""spec.segments through the running operator (real API server, MinIO, an evaluation Job): the CRD accepts it,
the segments reach status.lastEvaluation as read back from the API server, a violation names its segment and
raises PerformanceDegraded, the bounded segment series appear on /metrics, and a later evaluation without
segments removes them from status (the merge patch's explicit null)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

SEGMENTS: dict[str, Any] = {
    "columns": [{"column": "region"}, {"column": "age", "bins": [35, 45]}],
    "minSize": 100,
    "overrides": [{"segment": "region=north", "metrics": [{"name": "accuracy", "min": 0.999}]}],
    "discover": {"fdr": 0.05, "columns": ["region", "age"]},
}


def segment_series(operator: OperatorProcess, namespace: str, monitor: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "modelmonitor_segment_metric_value" and labels.get("namespace") == namespace \
                    and labels.get("monitor") == monitor:
                found[(labels["segment"], labels["metric"])] = sample.value
    return found


def test_segments_reach_status_and_metrics_and_leave_with_the_spec(world: MonitorWorld,
                                                                  operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 8_000, seed=160, drift=0.0)
    world.upload_credit_data("current/", 4_000, seed=161, drift=0.0)
    world.apply(world.monitor("sliced", segments=SEGMENTS))
    world.run_now("sliced")
    monitor = world.wait_for_evaluations("sliced", 1, timeout=240)
    last = monitor["status"]["lastEvaluation"]
    assert last["outcome"] == "evaluated", last

    segments = last["segments"]
    top = {entry["segment"]: entry for entry in segments["top"]}
    assert {"region=north", "region=south", "region=east", "region=west"} <= set(top)
    assert segments["count"] >= 7  # 4 regions + 3 age bins
    assert set(top["region=north"]["metrics"]) == {"accuracy", "roc_auc"}  # the rule metrics only
    rules = {violation["rule"]: violation for violation in last["violations"]}
    assert rules["metric:accuracy[region=north]"]["threshold"] == 0.999
    assert last["checks"]["metric:accuracy[region=north]"]["state"] == "violated"
    assert last["checks"]["segments:discovery"]["state"] in ("ok", "violated")
    assert condition(monitor, "PerformanceDegraded")["status"] == "True"

    expected = {(entry["segment"], name): value for entry in segments["top"]
                for name, value in entry["metrics"].items()}
    wait_until(lambda: segment_series(operator, world.namespace, "sliced") == expected, 30,
               what="the segment series on /metrics")

    world.apply(world.monitor("sliced"))  # segments removed from the spec
    world.run_now("sliced")
    monitor = world.wait_for_evaluations("sliced", 2, timeout=240)
    last = monitor["status"]["lastEvaluation"]
    assert "segments" not in last
    assert not any("[" in violation["rule"] for violation in last.get("violations") or [])
    assert condition(monitor, "PerformanceDegraded")["status"] == "False"
    wait_until(lambda: segment_series(operator, world.namespace, "sliced") == {}, 30,
               what="the segment series to leave /metrics")
