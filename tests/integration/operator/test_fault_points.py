"""The operator killed at each step of processing a finished evaluation Job: nothing lost, nothing twice.

The operator is started with `MODELMONITOR_FAULT_POINTS=<step>=exit` and exits at that step (as if killed:
`os._exit`, nothing flushed), then started again normally. Whatever the step, the evaluation is recorded once
(read back from the API server), the Job is marked processed, and the alert reaches a real HTTP receiver
exactly once. (The one step where a copy is possible, after a send and before its record, is
test_alert_lifecycle.py::test_crash_between_send_and_record_redelivers_once_with_the_same_delivery_id.)
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.datasets import credit_scoring, parquet_bytes
from tests.harness.minio import MinioServer, find_minio
from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder, free_port
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess, condition
from tests.integration.operator.test_alert_lifecycle import events, hook_monitor, hook_monitor_at, settled

pytestmark = [pytest.mark.cluster, pytest.mark.s3]
PROCESSED = "modelmonitor.io/processed"
CLAIM_SECONDS = "--delivery-claim-seconds=5"


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    server = HttpRecorder()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("step", [
    "evaluations.after-status",  # status (evaluation + queued alert) written; Job not marked, nothing sent
    "evaluations.after-mark",  # Job marked processed; nothing sent
    "alerting.after-claim",  # the delivery claimed in status; not sent
])
def test_killed_at_a_step_of_job_processing(step: str, world: MonitorWorld, operator: OperatorProcess,
                                            recorder: HttpRecorder) -> None:
    name = "killed-" + step.replace(".", "-")
    operator.restart_with(args=[CLAIM_SECONDS], env={"MODELMONITOR_FAULT_POINTS": f"{step}=exit"})
    try:
        world.upload_credit_data("reference/", 10_000, seed=110, drift=0.0)
        world.upload_credit_data("current/", 3_000, seed=111, drift=1.0)
        world.apply(hook_monitor(world, name, recorder))
        world.run_now(name)
        wait_until(operator.exited, 120, interval=0.5, what=f"the operator to die at {step}")
        assert f"fault point {step}: exiting as if killed" in operator.log()
        assert recorder.requests_to(f"/{name}") == []
        operator.restart_with(args=[CLAIM_SECONDS])
        status = settled(world, name, timeout=120)
        assert len(status["history"]) == 1  # the evaluation recorded once
        assert len(recorder.requests_to(f"/{name}")) == 1  # the alert delivered once
        assert status["alerts"]["channels"]["hook"]["sent"] == 1
        jobs = world.batch.list_namespaced_job(world.namespace, label_selector=f"modelmonitor.io/monitor={name}")
        assert [job.metadata.annotations.get(PROCESSED) for job in jobs.items] == [status["lastEvaluation"]["id"]]
    finally:
        operator.restart_with()


def test_webhook_receiver_down_then_back_is_delivered_once(world: MonitorWorld, operator: OperatorProcess) -> None:
    """The receiver's port refuses connections (nothing listens), then a receiver comes up on that port: the
    queued alert is retried from status on the backoff schedule and arrives once."""
    port = free_port()  # nothing listens there yet: connections are refused
    world.upload_credit_data("reference/", 10_000, seed=150, drift=0.0)
    world.upload_credit_data("current/", 3_000, seed=151, drift=1.0)
    world.apply(hook_monitor_at(world, "downhook", f"http://127.0.0.1:{port}/downhook"))
    world.run_now("downhook")
    world.wait_for_evaluations("downhook", 1)

    def failed_once() -> bool:
        stats = ((world.read("downhook")["status"].get("alerts") or {}).get("channels") or {}).get("hook") or {}
        return int(stats.get("failed") or 0) >= 1

    wait_until(failed_once, 60, interval=0.5, what="the first delivery to fail")
    status = world.read("downhook")["status"]
    assert status["alerts"]["pending"] and status["alerts"]["pending"][0]["attempts"] == 1
    up = HttpRecorder(port=port)
    up.start()
    try:
        settled(world, "downhook", timeout=150)  # the first retry is due a minute after the failure
        assert len(up.requests_to("/downhook")) == 1
        stats = world.read("downhook")["status"]["alerts"]["channels"]["hook"]
        assert stats["sent"] == 1 and stats["failed"] == 1
    finally:
        up.stop()


def test_s3_down_during_an_evaluation_is_a_condition_then_recovers(world: MonitorWorld, operator: OperatorProcess,
                                                                   recorder: HttpRecorder, tmp_path: Path) -> None:
    """The monitor's own MinIO stops: the evaluation fails into the EvaluationFailed condition and one
    `evaluation_failed` alert (no crash loop); MinIO comes back on the same endpoint: the next evaluation
    succeeds, the condition clears and one RESOLVED is sent. Everything read back from the API server."""
    # On the session MinIO's address: loopback, or the real node's bridge gateway that pods can reach.
    s3 = MinioServer(tmp_path / "minio", find_minio(), host=world.s3.host)
    s3.start()
    try:
        bucket = s3.create_bucket("down-then-up")
        client = s3.client()
        client.put_object(Bucket=bucket, Key="reference/part-0.parquet",
                          Body=parquet_bytes(credit_scoring(10_000, 170, 0.0)))
        client.put_object(Bucket=bucket, Key="current/part-0.parquet",
                          Body=parquet_bytes(credit_scoring(3_000, 171, 0.0)))
        world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": "own-s3"}, "data": {
            "AWS_ACCESS_KEY_ID": base64.b64encode(s3.access_key.encode()).decode(),
            "AWS_SECRET_ACCESS_KEY": base64.b64encode(s3.secret_key.encode()).decode()}})
        body = hook_monitor(world, "s3down", recorder)
        data = body["spec"]["data"]
        data["store"] = {"endpoint": s3.endpoint, "region": s3.region, "credentialsSecret": "own-s3"}
        data["reference"]["uri"] = f"s3://{bucket}/reference/"
        data["current"]["uri"] = f"s3://{bucket}/current/"
        body["spec"]["evaluation"] = {"backoffLimit": 0}
        world.apply(body)
        world.run_now("s3down")
        assert world.wait_for_evaluations("s3down", 1)["status"]["lastEvaluation"]["outcome"] == "evaluated"

        s3.stop()
        world.run_now("s3down")
        monitor = world.wait_for_evaluations("s3down", 2, timeout=240)
        assert monitor["status"]["lastEvaluation"]["outcome"] != "evaluated", monitor["status"]["lastEvaluation"]
        assert condition(monitor, "EvaluationFailed")["status"] == "True"
        status = settled(world, "s3down")
        assert status["alerts"]["problems"]["evaluation"]["status"] == "firing"
        assert events(recorder, "/s3down") == ["evaluation_failed"]

        s3.start()  # the same port: the same endpoint as in the spec
        world.run_now("s3down")
        monitor = world.wait_for_evaluations("s3down", 3)
        assert monitor["status"]["lastEvaluation"]["outcome"] == "evaluated"
        assert condition(monitor, "EvaluationFailed")["status"] == "False"
        status = settled(world, "s3down")
        assert "evaluation" not in status["alerts"]["problems"]
        assert events(recorder, "/s3down") == ["evaluation_failed", "resolved"]
        assert not operator.exited()
    finally:
        s3.stop()
