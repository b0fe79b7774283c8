"""More monitors than kopf workers: the operator limits kopf's per-object workers (10 per executor thread) to
bound its memory when a fleet resumes at once (bench/operator_load/README.md: 5,000 monitors). Every monitor
must still be reconciled: a kopf index would hold each worker until all objects are indexed, a deadlock
once there are more monitors than workers (seen in the bench: 5,000 monitors, 200 workers, nothing done)."""

from __future__ import annotations

import pytest

from tests.harness.processes import wait_until
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition

pytestmark = [pytest.mark.cluster]

MONITORS = 25  # with --max-workers=1 kopf gets 10 workers


def test_more_monitors_than_kopf_workers_all_become_ready_when_the_operator_starts(
    world: MonitorWorld, operator: OperatorProcess
) -> None:
    operator.kill()
    try:
        names = [f"fleet-{i:02d}" for i in range(MONITORS)]
        for name in names:
            world.custom.create_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace,
                                                         "modelmonitors", world.monitor(name))
        operator.restart_with(args=["--max-workers=1"])

        def ready() -> list[str]:
            items = world.custom.list_namespaced_custom_object("modelmonitor.io", "v1alpha1", world.namespace,
                                                               "modelmonitors")["items"]
            return [m["metadata"]["name"] for m in items if m["metadata"]["name"] in names
                    and any(c["type"] == "Ready" for c in (m.get("status") or {}).get("conditions") or [])
                    and condition(m, "Ready")["status"] == "True"]

        wait_until(lambda: len(ready()) == MONITORS, 180, interval=1,
                   what=f"all {MONITORS} monitors Ready with 10 kopf workers")
        cron_jobs = world.batch.list_namespaced_cron_job(world.namespace,
                                                         label_selector="modelmonitor.io/monitor").items
        assert {c.metadata.labels["modelmonitor.io/monitor"] for c in cron_jobs} >= set(names)
    finally:
        operator.restart_with()
