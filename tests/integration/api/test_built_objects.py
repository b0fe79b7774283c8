"""The objects the manifest builders make are valid for the real API server and die with their monitor.

Owner references are only proven by the garbage collector: a monitor is created for real, its ConfigMap,
CronJob and run-now Job are created from the builders, and deleting the monitor must remove all three.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kubernetes
import pytest

from modelmonitor.api import GROUP, PLURAL, VERSION, parse_spec
from modelmonitor.manifests import build_config_map, build_cron_job, build_job_from_cron_job, run_now_job_name
from tests.integration.api.conftest import load_fixture

pytestmark = pytest.mark.cluster

IMAGE = "ghcr.io/example/modelmonitor:0.1.0"


def _gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


@pytest.mark.parametrize(
    "fixture", ["valid-binary-classification.yaml", "valid-regression.yaml", "valid-drift-only.yaml"]
)
def test_built_objects_are_accepted_and_collected_with_their_monitor(
    kube_cluster: Any, monitor_namespace: str, fixture: str
) -> None:
    monitor = load_fixture(fixture)
    monitor["metadata"]["name"] = f"gc-{monitor['metadata']['name']}"
    with kube_cluster.api_client() as client:
        objects = kubernetes.client.CustomObjectsApi(client)
        core: Any = kubernetes.client.CoreV1Api(client)
        batch: Any = kubernetes.client.BatchV1Api(client)
        created: Any = objects.create_namespaced_custom_object(GROUP, VERSION, monitor_namespace, PLURAL, monitor)
        spec = parse_spec(created["spec"])
        config_map = build_config_map(created, spec)
        cron_job = build_cron_job(created, spec, IMAGE)
        job = build_job_from_cron_job(
            cron_job, run_now_job_name(created["metadata"]["name"], datetime.now(UTC)), created
        )
        core.create_namespaced_config_map(monitor_namespace, config_map)
        batch.create_namespaced_cron_job(monitor_namespace, cron_job)
        batch.create_namespaced_job(monitor_namespace, job)

        stored: Any = batch.read_namespaced_cron_job(cron_job["metadata"]["name"], monitor_namespace)
        assert stored.spec.job_template.spec.template.spec.containers[0].security_context.read_only_root_filesystem

        objects.delete_namespaced_custom_object(GROUP, VERSION, monitor_namespace, PLURAL, created["metadata"]["name"])
        reads: list[Callable[[], Any]] = [
            lambda: core.read_namespaced_config_map(config_map["metadata"]["name"], monitor_namespace),
            lambda: batch.read_namespaced_cron_job(cron_job["metadata"]["name"], monitor_namespace),
            lambda: batch.read_namespaced_job(job["metadata"]["name"], monitor_namespace),
        ]
        deadline = time.monotonic() + 60
        while not all(_gone(read) for read in reads):
            assert time.monotonic() < deadline, "the garbage collector did not delete the monitor's objects"
            time.sleep(0.5)
