"""Prometheus series through the running operator: a new operator process (a restart, or the standby after a
leader failover: both start with empty gauges) exports the last values from status before any new evaluation,
and a deleted monitor's series leave /metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


def monitor_series(operator: OperatorProcess, namespace: str, monitor: str) -> dict[str, dict[str, float]]:
    """{metric name: {metric label or "": value}} of one monitor's series."""
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for sample in family.samples:
            if sample.labels.get("namespace") == namespace and sample.labels.get("monitor") == monitor:
                found.setdefault(sample.name, {})[sample.labels.get("metric", "")] = sample.value
    return found


def test_restart_reexports_from_status_and_delete_removes_series(world: MonitorWorld,
                                                                 operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 10_000, seed=90, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=91, drift=0.5)
    world.apply(world.monitor("gauged"))
    world.run_now("gauged")
    last = world.wait_for_evaluations("gauged", 1)["status"]["lastEvaluation"]
    expected = {name: float(value) for name, value in last["metrics"].items() if isinstance(value, int | float)}
    assert expected, last
    wait_until(lambda: monitor_series(operator, world.namespace, "gauged").get("modelmonitor_metric_value")
               == expected, 30, what="the metric gauges after the evaluation")

    operator.restart_with()  # a new process: its gauges start empty, no evaluation runs meanwhile
    wait_until(lambda: monitor_series(operator, world.namespace, "gauged").get("modelmonitor_metric_value")
               == expected, 60, interval=0.5, what="the gauges re-exported from status")
    restored = monitor_series(operator, world.namespace, "gauged")
    assert restored["modelmonitor_drift_share"][""] == last["drift"]["share"]
    assert len(world.read("gauged")["status"]["history"]) == 1  # restored from status, not re-evaluated

    world.custom.delete_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace, "modelmonitors",
                                                 "gauged")
    wait_until(lambda: monitor_series(operator, world.namespace, "gauged") == {}, 60, interval=0.5,
               what="the deleted monitor's series to leave /metrics")
