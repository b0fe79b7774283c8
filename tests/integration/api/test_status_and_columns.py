"""The status schema keeps what the operator writes, and `kubectl get mm` shows it in the printer columns."""

from __future__ import annotations

import subprocess
from typing import Any

import kubernetes
import pytest

from modelmonitor.api import GROUP, PLURAL, VERSION
from tests.integration.api.conftest import load_fixture

pytestmark = pytest.mark.cluster

STATUS = {
    "observedGeneration": 1,
    "phase": "Degraded",
    "conditions": [
        {
            "type": "DataDrift",
            "status": "True",
            "reason": "DatasetDrift",
            "message": "4 of 10 features drifted",
            "lastTransitionTime": "2026-11-23T17:00:00Z",
            "observedGeneration": 1,
        }
    ],
    "summary": {
        "modelVersion": "7",
        "firstMetric": "accuracy=0.912",
        "driftShare": 0.4,
        "verdict": "critical",
        "lastEvaluated": "2026-11-23T17:05:00Z",
    },
    "lastEvaluation": {"id": "credit-scoring-29012345", "metrics": {"accuracy": 0.912}, "anything": {"new": 1}},
    "history": [{"id": "credit-scoring-29012345", "verdict": "critical"}],
    "versions": [{"version": "7", "everHealthy": True}],
    "alerts": {"active": {"drift": {"since": "2026-11-23T17:05:00Z"}}},
    "rollback": {"last": None},
}


def test_status_is_kept_and_printed(kube_cluster: Any, monitor_namespace: str) -> None:
    monitor = load_fixture("valid-binary-classification.yaml")
    monitor["metadata"]["name"] = "columns"
    with kube_cluster.api_client() as client:
        objects = kubernetes.client.CustomObjectsApi(client)
        objects.create_namespaced_custom_object(GROUP, VERSION, monitor_namespace, PLURAL, monitor)
        objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, monitor_namespace, PLURAL, "columns", {"status": STATUS}
        )
        stored: Any = objects.get_namespaced_custom_object(GROUP, VERSION, monitor_namespace, PLURAL, "columns")
    assert stored["status"]["lastEvaluation"]["anything"] == {"new": 1}
    assert stored["status"]["summary"] == STATUS["summary"]
    assert stored["status"]["conditions"][0]["reason"] == "DatasetDrift"

    printed = subprocess.run(
        ["kubectl", "get", "mm", "columns", "-n", monitor_namespace],
        capture_output=True,
        text=True,
        env=kube_cluster.env,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert printed[0].split() == ["NAME", "MODEL", "VERSION", "PHASE", "METRIC", "DRIFT", "LAST-EVALUATED", "AGE"]
    assert printed[1].split()[:6] == ["columns", "credit-scoring", "7", "Degraded", "accuracy=0.912", "0.4"]
