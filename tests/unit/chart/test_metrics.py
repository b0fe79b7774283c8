"""The metrics Service and the optional Prometheus Operator ServiceMonitor."""

from __future__ import annotations

import pytest

from tests.unit.chart.rendering import RenderError, find, only, render


def test_metrics_service_targets_the_operator_pods() -> None:
    manifests = render({"metrics": {"port": 9191}})
    service = only(manifests, "Service", "mm-modelmonitor-operator-metrics")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9191, "targetPort": "metrics", "protocol": "TCP"}]
    pod_labels = only(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert find(manifests, "ServiceMonitor") == []


def test_service_monitor_when_enabled() -> None:
    manifests = render(
        {"metrics": {"serviceMonitor": {"enabled": True, "interval": "30s", "labels": {"release": "p"}}}}
    )
    monitor = only(manifests, "ServiceMonitor")
    service = only(manifests, "Service")
    assert monitor["metadata"]["labels"]["release"] == "p"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["interval"] == "30s"


def test_service_monitor_needs_the_service() -> None:
    with pytest.raises(RenderError, match=r"metrics\.service\.enabled"):
        render({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}})
