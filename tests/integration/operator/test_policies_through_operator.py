"""Features tested below the operator, now through it: a `*/1 * * * *` schedule that fires on its own (and a
suspended one that does not), M-of-N alerting and silences. Alerts are counted at a real HTTP receiver;
states are read back from the API server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess
from tests.integration.operator.test_alert_lifecycle import evaluate, events, hook_monitor, settled

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    server = HttpRecorder()
    server.start()
    yield server
    server.stop()


def test_a_minutely_schedule_fires_on_its_own_and_a_suspended_one_does_not(world: MonitorWorld,
                                                                           operator: OperatorProcess) -> None:
    world.upload_credit_data("reference/", 10_000, seed=120, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=121, drift=0.0)
    world.apply(world.monitor("ticking", schedule="*/1 * * * *"))
    world.apply(world.monitor("paused", schedule="*/1 * * * *", suspend=True))
    wait_until(lambda: world.batch.read_namespaced_cron_job("paused-eval", world.namespace).spec.suspend is True,
               60, what="the suspended monitor's CronJob")
    started = datetime.now(UTC)
    # Kubernetes' CronJob controller starts the Job at the next minute: nobody asks for this evaluation.
    monitor = world.wait_for_evaluations("ticking", 1, timeout=150)
    assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated"
    jobs = world.batch.list_namespaced_job(world.namespace, label_selector="modelmonitor.io/monitor=ticking").items
    assert jobs and all(job.metadata.owner_references[0].kind == "CronJob" for job in jobs)
    # By now the suspended monitor's schedule has come round too (same schedule); it made no Job.
    assert datetime.now(UTC) - started < timedelta(seconds=150)
    assert world.batch.list_namespaced_job(world.namespace,
                                           label_selector="modelmonitor.io/monitor=paused").items == []
    assert not (world.read("paused").get("status") or {}).get("history")


def test_m_of_n_alerts_on_the_second_violation_of_three(world: MonitorWorld, operator: OperatorProcess,
                                                        recorder: HttpRecorder) -> None:
    world.upload_credit_data("reference/", 10_000, seed=130, drift=0.0)
    body = hook_monitor(world, "mofn", recorder, mOfN={"violations": 2, "evaluations": 3})
    del body["spec"]["alerts"]["policy"]["consecutiveViolations"]  # the CRD allows one of the two
    world.apply(body)
    evaluate(world, "mofn", 1.0, 131, 1)
    status = settled(world, "mofn")
    assert status["alerts"]["problems"]["violations"]["status"] == "pending" and events(recorder, "/mofn") == []
    evaluate(world, "mofn", 0.0, 132, 2)
    settled(world, "mofn")
    assert events(recorder, "/mofn") == []  # 1 violation of the last 2
    evaluate(world, "mofn", 1.0, 133, 3)  # 2 of the last 3: fires (never 2 in a row)
    status = settled(world, "mofn")
    assert events(recorder, "/mofn") == ["firing"]
    assert status["alerts"]["problems"]["violations"]["status"] == "firing"


def test_a_silence_annotation_mutes_and_status_still_shows_the_problem(world: MonitorWorld,
                                                                        operator: OperatorProcess,
                                                                        recorder: HttpRecorder) -> None:
    world.upload_credit_data("reference/", 10_000, seed=140, drift=0.0)
    body = hook_monitor(world, "hushed", recorder)
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body["metadata"]["annotations"] = {"modelmonitor.io/silence": json.dumps(
        [{"rule": "*", "until": until, "reason": "maintenance"}])}
    world.apply(body)
    monitor = evaluate(world, "hushed", 1.0, 141, 1)
    assert monitor["status"]["lastEvaluation"]["violations"]
    status = settled(world, "hushed")
    assert status["alerts"]["problems"]["violations"]["status"] == "firing"
    assert events(recorder, "/hushed") == []


def test_notify_only_names_the_version_to_restore_and_never_patches(world: MonitorWorld, operator: OperatorProcess,
                                                                     recorder: HttpRecorder) -> None:
    import kubernetes

    from tests.integration.operator.test_rollback import _deployment, _rolled_out, _served

    apps = kubernetes.client.AppsV1Api(world.client)
    apps.create_namespaced_deployment(world.namespace, _deployment("notified-model", "1", "image"))
    wait_until(lambda: _rolled_out(world, "notified-model"), 60, interval=0.5, what="version 1 rolled out")
    world.upload_credit_data("reference/", 10_000, seed=160, drift=0.0)
    body = hook_monitor(world, "notifier", recorder, consecutiveViolations=5)  # only rollback notices here
    body["spec"]["rollback"] = {"enabled": True, "mode": "NotifyOnly", "consecutiveViolations": 1, "target": {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "notified-model", "container": "server",
        "versionFrom": "image"}}
    world.apply(body)
    assert evaluate(world, "notifier", 0.0, 161, 1)["status"]["lastEvaluation"]["verdict"] == "healthy"
    apps.patch_namespaced_deployment("notified-model", world.namespace,
                                     {"spec": _deployment("notified-model", "2", "image")["spec"]})
    wait_until(lambda: _served(world, "notified-model", "image") == "2" and _rolled_out(world, "notified-model"),
               60, interval=0.5, what="version 2 rolled out")
    for count in (2, 3):  # critical twice: a notice for each evaluation (NotifyOnly keeps no proposal), once each
        evaluate(world, "notifier", 1.0, 161 + count, count)
        wait_until(lambda: ((world.read("notifier")["status"].get("rollback") or {}).get("lastDecision") or {})
                   .get("evaluationId") == world.read("notifier")["status"]["lastEvaluation"]["id"], 60,
                   interval=0.5, what="the rollback decision on the newest evaluation")
        settled(world, "notifier")
    status = world.read("notifier")["status"]
    decision = status["rollback"]["lastDecision"]
    assert decision["action"] == "notify" and decision["toVersion"] == "1", decision
    assert _served(world, "notified-model", "image") == "2"  # never patched
    assert not status["rollback"].get("history")
    assert events(recorder, "/notifier") == ["rollback", "rollback"]
    delivery_ids = [request.headers["x-modelmonitor-delivery-id"] for request in recorder.requests_to("/notifier")]
    assert len(set(delivery_ids)) == 2
    assert all("back to 1 is recommended" in request.body.decode() for request in recorder.requests_to("/notifier"))
