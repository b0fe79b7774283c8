"""Two operator replicas behind one Lease: only the leader works, and the standby takes over when it dies.

Both replicas are real `modelmonitor operator` processes against the real control plane, watching one
namespace; the session's cluster-wide operator is paused meanwhile so that it cannot do the work itself.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import KubeCluster
from tests.harness.processes import ManagedProcess, free_port, wait_until
from tests.integration.operator.conftest import EVALUATOR_IMAGE, STORE_OUTBOUND, MonitorWorld, OperatorProcess

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

LEASE = "modelmonitor-leader"
LEASE_SECONDS = 15  # the operator's default (`LeaderElector.lease_seconds`)
RENEW_SECONDS = 5
SLACK_SECONDS = 3  # process scheduling on a busy 2-core machine


class Replica:
    """One `modelmonitor operator --leader-election-lease` process with its own identity."""

    def __init__(self, cluster: KubeCluster, namespace: str, identity: str, workdir: Path) -> None:
        self.identity, self.liveness_port, self.metrics_port = identity, free_port(), free_port()
        self.log_path = workdir / f"{identity}.log"
        self.process = ManagedProcess(identity, [
            sys.executable, "-m", "modelmonitor.cli", "operator", f"--namespace={namespace}",
            f"--leader-election-lease={LEASE}", f"--lease-namespace={namespace}",
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz", f"--metrics-port={self.metrics_port}",
            f"--evaluator-image={EVALUATOR_IMAGE}", "--log-format=plain", "--verbose", *STORE_OUTBOUND,
        ], self.log_path, env={**cluster.env, "POD_NAME": identity, "POD_NAMESPACE": namespace})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric_values(self, namespace: str, monitor: str) -> dict[str, float]:
        """`modelmonitor_metric_value` of one monitor as this replica exports it: {metric: value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {sample.labels["metric"]: sample.value for family in text_string_to_metric_families(text)
                for sample in family.samples if sample.name == "modelmonitor_metric_value"
                and sample.labels.get("namespace") == namespace and sample.labels.get("monitor") == monitor}

    def live(self) -> bool:
        if not self.process.running():
            raise RuntimeError(f"{self.identity} exited:\n{self.process.log_tail(60)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2) as response:
                # A standby answers too (`{"standby": true}`), before kopf runs: only kopf's own answer counts.
                return bool(response.status == 200) and b"standby" not in response.read()
        except OSError:
            return False

    def kill_hard(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.process.wait(timeout=10)

    def stop(self) -> None:
        self.process.stop(timeout=5)


@pytest.fixture
def cluster_wide_operator_paused(operator: OperatorProcess) -> Iterator[None]:
    operator.kill()
    try:
        yield
    finally:
        operator.start()


def _lease(world: MonitorWorld) -> Any:
    return kubernetes.client.CoordinationV1Api(world.client).read_namespaced_lease(LEASE, world.namespace)


def _holder(world: MonitorWorld) -> str | None:
    try:
        return str(_lease(world).spec.holder_identity or "") or None
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise


def _run_now_jobs(world: MonitorWorld, monitor: str) -> list[str]:
    jobs = world.batch.list_namespaced_job(
        world.namespace, label_selector=f"modelmonitor.io/monitor={monitor},modelmonitor.io/trigger=run-now")
    return sorted(job.metadata.name for job in jobs.items)


def _handled_run_now(log: str) -> bool:
    return "Handler 'run-now' succeeded" in log


def _leader_and_standby(world: MonitorWorld, tmp_path: Path, replicas: list[Replica]) -> tuple[Replica, Replica]:
    """replica-a holding the Lease and live, replica-b standing by; both appended to ``replicas`` as started."""
    first = Replica(world.cluster, world.namespace, "replica-a", tmp_path)
    replicas.append(first)
    wait_until(lambda: _holder(world) == "replica-a", 60, interval=0.2, what="replica-a to take the Lease")
    wait_until(first.live, 60, interval=0.3, what="replica-a's kopf liveness endpoint")
    second = Replica(world.cluster, world.namespace, "replica-b", tmp_path)
    replicas.append(second)
    wait_until(lambda: "is held by replica-a; standing by" in second.log(), 60, interval=0.2,
               what="replica-b to stand by")
    return first, second


def test_one_replica_works_and_the_standby_takes_over_when_it_dies(
    world: MonitorWorld, cluster_wide_operator_paused: None, tmp_path: Path
) -> None:
    world.upload_credit_data("reference/", 5_000, seed=11, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=12, drift=0.0)
    replicas: list[Replica] = []
    try:
        first, second = _leader_and_standby(world, tmp_path, replicas)

        # The leader alone acts on the monitor: one Job for one run-now, evaluated once.
        world.apply(world.monitor("failover"))
        world.run_now("failover")
        monitor = world.wait_for_evaluations("failover", 1)
        assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]
        time.sleep(RENEW_SECONDS)  # a standby that wrongly worked would have had time to
        assert len(_run_now_jobs(world, "failover")) == 1
        assert _handled_run_now(first.log())
        assert second.process.running()
        assert "Handler" not in second.log(), second.log()
        assert _holder(world) == "replica-a"
        transitions = _lease(world).spec.lease_transitions

        # The leader dies without a word; the standby takes over once the lease has run out.
        last_renewal: datetime = _lease(world).spec.renew_time
        first.kill_hard()
        killed_at = time.monotonic()
        wait_until(lambda: _holder(world) == "replica-b", LEASE_SECONDS + RENEW_SECONDS + SLACK_SECONDS,
                   interval=0.1, what="replica-b to take over the Lease")
        took_over_after = time.monotonic() - killed_at
        lease = _lease(world)
        assert took_over_after <= LEASE_SECONDS + SLACK_SECONDS, took_over_after
        assert lease.spec.lease_transitions == transitions + 1
        assert (lease.spec.acquire_time - last_renewal).total_seconds() <= LEASE_SECONDS + SLACK_SECONDS
        assert "taking over the leader Lease" in second.log()

        # The new leader exports the last evaluation's values (from status) before evaluating anything.
        wait_until(second.live, 60, interval=0.3, what="replica-b's kopf liveness endpoint")
        expected = {name: float(value) for name, value in monitor["status"]["lastEvaluation"]["metrics"].items()
                    if isinstance(value, int | float)}
        wait_until(lambda: second.metric_values(world.namespace, "failover") == expected, 30, interval=0.3,
                   what="replica-b to re-export the gauges from status")
        assert len(world.read("failover")["status"]["history"]) == 1

        # The new leader works: the next run-now is acted on, once.
        world.run_now("failover")
        monitor = world.wait_for_evaluations("failover", 2)
        assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated", monitor["status"]
        assert len(_run_now_jobs(world, "failover")) == 2
        assert _handled_run_now(second.log())
        assert len(monitor["status"]["history"]) == 2
    finally:
        for replica in replicas:
            replica.stop()


def test_a_leader_stopped_normally_hands_the_lease_over(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    namespace = kube_cluster.create_namespace("mm-lease")
    replicas: list[Replica] = []
    try:
        leader = Replica(kube_cluster, namespace, "replica-a", tmp_path)
        replicas.append(leader)
        with kube_cluster.api_client() as client:
            leases: Any = kubernetes.client.CoordinationV1Api(client)

            def holder() -> str | None:
                return str(leases.read_namespaced_lease(LEASE, namespace).spec.holder_identity or "") or None

            wait_until(lambda: holder() == "replica-a" and leader.live(), 60, interval=0.2,
                       what="replica-a to lead")
            standby = Replica(kube_cluster, namespace, "replica-b", tmp_path)
            replicas.append(standby)
            wait_until(lambda: "is held by replica-a; standing by" in standby.log(), 60, interval=0.2,
                       what="replica-b to stand by")
            os.killpg(leader.process.pid, signal.SIGTERM)
            stopped_at = time.monotonic()
            wait_until(lambda: not leader.process.running(), 10, interval=0.1, what="replica-a to exit on SIGTERM")
            assert leader.process.process.returncode == 0
            assert "released the leader Lease" in leader.log()
            wait_until(lambda: holder() == "replica-b", RENEW_SECONDS + SLACK_SECONDS, interval=0.1,
                       what="replica-b to take over the released Lease")
            assert time.monotonic() - stopped_at < LEASE_SECONDS
    finally:
        for replica in replicas:
            replica.stop()


def test_a_frozen_leader_loses_the_lease_and_does_nothing_when_it_wakes(
    world: MonitorWorld, cluster_wide_operator_paused: None, tmp_path: Path
) -> None:
    """The leader is frozen (SIGSTOP: no renewals, no requests — a partition as the Lease sees it) while the
    standby takes over and acts on a run-now; woken (SIGCONT), the old leader must not act on what it missed
    (its watches deliver the stale run-now) and must step down: one Job, one evaluation."""
    world.upload_credit_data("reference/", 5_000, seed=13, drift=0.0)
    world.upload_credit_data("current/", 2_000, seed=14, drift=0.0)
    replicas: list[Replica] = []
    try:
        first, second = _leader_and_standby(world, tmp_path, replicas)
        world.apply(world.monitor("frozen"))
        wait_until(lambda: "Handler 'reconcile' succeeded" in first.log(), 60, interval=0.3,
                   what="replica-a to reconcile the monitor")

        os.killpg(first.process.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: _holder(world) == "replica-b", LEASE_SECONDS + RENEW_SECONDS + SLACK_SECONDS,
                       interval=0.1, what="replica-b to take over from the frozen leader")
            wait_until(second.live, 60, interval=0.3, what="replica-b's kopf liveness endpoint")
            world.run_now("frozen")
            world.wait_for_evaluations("frozen", 1)
        finally:
            os.killpg(first.process.pid, signal.SIGCONT)
        wait_until(lambda: not first.process.running(), 30, interval=0.2, what="the old leader to step down")
        # Stepped down by whichever noticed first: the renewal thread, or fencing at the start of a handler.
        assert any(words in first.log() for words in ("lost the leader Lease", "another replica took the leader Lease",
                                                      "no longer sure to hold the leader Lease"))
        assert "Handler 'run-now' succeeded" not in first.log(), first.log()[-3000:]
        assert len(_run_now_jobs(world, "frozen")) == 1
        assert len(world.read("frozen")["status"]["history"]) == 1
        assert _holder(world) == "replica-b"
    finally:
        for replica in replicas:
            replica.stop()
