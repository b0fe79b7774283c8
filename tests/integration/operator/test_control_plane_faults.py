"""The control plane itself fails while the operator processes a finished evaluation: kube-apiserver
restarted, etcd restarted.

The operator is held (fault point `store.before-status-patch=wait-file:...`) just before it writes the
finished evaluation into status, having read the monitor; the component is then stopped (SIGTERM, as a
crash-restarting static pod would be) and started again with the same arguments, data and ports, and the
operator let go. Its watches break and reconnect; promised: the evaluation is recorded once (read back), the
alert arrives once at the receiver, and the operator never exits. (Stopping the API server while a pod runs is
not tested: the test node agent does not survive it.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from tests.conftest import KubeCluster
from tests.harness.processes import ManagedProcess, wait_until
from tests.integration.alerts.servers import HttpRecorder
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess
from tests.integration.operator.test_alert_lifecycle import events, hook_monitor, settled

pytestmark = [pytest.mark.cluster, pytest.mark.s3]
OUTAGE_SECONDS = 8  # how long the component stays down (the fault's length, not a wait for a step)


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    server = HttpRecorder()
    server.start()
    yield server
    server.stop()


def restart(cluster: KubeCluster, name: str) -> None:
    """Stop one control-plane process and start it again with the same command line and log."""
    plane = cluster.plane
    if plane is None:
        pytest.skip("needs the local control plane (USE_EXISTING_CLUSTER runs against a cluster it cannot restart)")
    index = next(i for i, process in enumerate(plane.processes) if process.name == name)
    old = plane.processes[index]
    old.stop()
    time.sleep(OUTAGE_SECONDS)
    plane.processes[index] = ManagedProcess(name, old.argv, old.log_path)


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_control_plane_component_restarted_while_a_finished_job_is_processed(
    component: str, world: MonitorWorld, operator: OperatorProcess, recorder: HttpRecorder, tmp_path: Path
) -> None:
    name = f"cp-{component.split('-')[-1]}"
    go = tmp_path / "go"
    operator.restart_with(env={"MODELMONITOR_FAULT_POINTS": f"store.before-status-patch=wait-file:{go}"})
    try:
        world.upload_credit_data("reference/", 10_000, seed=180, drift=0.0)
        world.upload_credit_data("current/", 3_000, seed=181, drift=1.0)
        world.apply(hook_monitor(world, name, recorder))
        world.run_now(name)
        wait_until(lambda: "fault point store.before-status-patch: waiting for" in operator.log(), 120,
                   interval=0.3, what="the operator to be about to write the evaluation")
        restart(world.cluster, component)

        def readable() -> bool:
            try:
                world.read(name)
            except (ApiException, urllib3.exceptions.HTTPError):  # refused / 5xx while it comes back
                return False
            return True

        wait_until(readable, 90, interval=0.5, what=f"the API back after restarting {component}")
        go.touch()
        monitor = world.wait_for_evaluations(name, 1, timeout=180)
        assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated"
        status = settled(world, name, timeout=120)
        assert len(status["history"]) == 1
        assert events(recorder, f"/{name}") == ["firing"]
        assert status["alerts"]["channels"]["hook"]["sent"] == 1
        assert not operator.exited()
    finally:
        go.touch()
        operator.restart_with()
