"""An incident's whole life through the running operator, proven by reading status back from the API server.

A JSON merge patch deletes a key only when it says `null`: before the fix a resolved problem stayed `firing`
in `status.alerts`, every later healthy evaluation re-sent RESOLVED, and a new incident within repeatInterval
was not alerted at all. The policy's unit tests could not see it (they pass the state back in directly), so
here every step's state is read from the API server and every alert is counted at a real HTTP receiver.

Also: exactly one send when the Job-finished path and the retry timer race for the same delivery (forced by
the `alerting.before-claim=meet:2` fault point, not by timing), and a crash between sending and recording
(`alerting.after-send=exit`) redelivers once with the same delivery id (the documented at-least-once window).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.processes import wait_until
from tests.integration.alerts.servers import HttpRecorder
from tests.integration.operator.conftest import MonitorWorld, OperatorProcess

pytestmark = [pytest.mark.cluster, pytest.mark.s3]


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    server = HttpRecorder()
    server.start()
    yield server
    server.stop()


def hook_monitor(world: MonitorWorld, name: str, recorder: HttpRecorder, **policy: Any) -> dict[str, Any]:
    return hook_monitor_at(world, name, recorder.url(f"/{name}"), **policy)


def hook_monitor_at(world: MonitorWorld, name: str, url: str, **policy: Any) -> dict[str, Any]:
    world.core.create_namespaced_secret(world.namespace, {"metadata": {"name": f"{name}-hook"}, "data": {
        "url": base64.b64encode(url.encode()).decode()}})
    # roc_auc of the generated healthy data is close to the default 0.6 minimum: healthy must be healthy here
    body = world.monitor(name, metrics=[{"name": "accuracy", "min": 0.6, "severity": "critical"},
                                        {"name": "roc_auc", "min": 0.5}])
    body["spec"]["alerts"] = {
        "channels": [{"name": "hook", "type": "webhook", "urlSecret": f"{name}-hook", "format": "generic"}],
        "policy": {"consecutiveViolations": 1, "repeatInterval": "6h", "sendResolved": True, **policy},
    }
    return body


def evaluate(world: MonitorWorld, name: str, drift: float, seed: int, count: int) -> dict[str, Any]:
    world.upload_credit_data("current/", 3_000, seed=seed, drift=drift)
    world.run_now(name)
    return world.wait_for_evaluations(name, count)


def settled(world: MonitorWorld, name: str, timeout: float = 60) -> dict[str, Any]:
    """The monitor once its newest evaluation is planned in status.alerts and nothing is queued or claimed."""
    found: dict[str, Any] = {}

    def done() -> bool:
        status = world.read(name).get("status") or {}
        found["status"] = status
        alerts = status.get("alerts") or {}
        return bool(alerts) and alerts.get("lastEvaluationId") == (status.get("lastEvaluation") or {}).get("id") \
            and not alerts.get("pending")

    wait_until(done, timeout, interval=0.5, what=f"alerts of {name} delivered and recorded")
    return dict(found["status"])


def events(recorder: HttpRecorder, path: str) -> list[str]:
    return [request.headers["x-modelmonitor-event"] for request in recorder.requests_to(path)]


def test_resolve_clears_status_and_a_new_incident_alerts_again(world: MonitorWorld, operator: OperatorProcess,
                                                               recorder: HttpRecorder) -> None:
    world.upload_credit_data("reference/", 10_000, seed=60, drift=0.0)
    world.apply(hook_monitor(world, "cycle", recorder))

    evaluate(world, "cycle", 1.0, 61, 1)  # violation -> one alert
    status = settled(world, "cycle")
    assert status["alerts"]["problems"]["violations"]["status"] == "firing"
    assert events(recorder, "/cycle") == ["firing"]

    evaluate(world, "cycle", 0.0, 62, 2)  # resolved -> one RESOLVED, and the problem leaves status
    status = settled(world, "cycle")
    assert events(recorder, "/cycle") == ["firing", "resolved"], json.dumps(status["lastEvaluation"]["violations"])
    assert "violations" not in status["alerts"]["problems"], status["alerts"]

    evaluate(world, "cycle", 0.0, 63, 3)  # still healthy -> nothing
    status = settled(world, "cycle")
    assert status["alerts"]["problems"] == {} and status["alerts"]["channels"]["hook"]["sent"] == 2
    assert events(recorder, "/cycle") == ["firing", "resolved"], json.dumps(status["lastEvaluation"]["violations"])

    evaluate(world, "cycle", 1.0, 64, 4)  # a new incident well within repeatInterval (6h) -> alerted again
    status = settled(world, "cycle")
    assert events(recorder, "/cycle") == ["firing", "resolved", "firing"]
    assert status["alerts"]["problems"]["violations"]["status"] == "firing"
    assert status["alerts"]["channels"]["hook"]["sent"] == 3
    ids = [request.headers["x-modelmonitor-delivery-id"] for request in recorder.requests_to("/cycle")]
    assert len(set(ids)) == 3  # three different notifications, three idempotency keys


def test_job_finished_path_and_retry_timer_racing_send_once(world: MonitorWorld, operator: OperatorProcess,
                                                            recorder: HttpRecorder) -> None:
    # Both senders wait for each other just before claiming, so both have read the same unclaimed delivery;
    # without claims both would send it.
    operator.restart_with(env={"MODELMONITOR_FAULT_POINTS": "alerting.before-claim=meet:2"})
    try:
        world.upload_credit_data("reference/", 10_000, seed=70, drift=0.0)
        world.apply(hook_monitor(world, "race", recorder))
        evaluate(world, "race", 1.0, 71, 1)
        settled(world, "race")
        log = operator.log()
        assert "fault point alerting.before-claim: waiting for 2 threads" in log
        assert "not every thread arrived" not in log  # the race really happened
        wait_until(lambda: len(recorder.requests_to("/race")) >= 1, 30, what="the alert")
        status = settled(world, "race")
        assert len(recorder.requests_to("/race")) == 1
        assert status["alerts"]["channels"]["hook"]["sent"] == 1
    finally:
        operator.restart_with()


def test_crash_between_send_and_record_redelivers_once_with_the_same_delivery_id(
    world: MonitorWorld, operator: OperatorProcess, recorder: HttpRecorder
) -> None:
    operator.restart_with(args=["--delivery-claim-seconds=5"],
                          env={"MODELMONITOR_FAULT_POINTS": "alerting.after-send=exit"})
    try:
        world.upload_credit_data("reference/", 10_000, seed=80, drift=0.0)
        world.apply(hook_monitor(world, "crash", recorder))
        world.upload_credit_data("current/", 3_000, seed=81, drift=1.0)
        world.run_now("crash")
        wait_until(operator.exited, 120, interval=0.5, what="the operator to die after sending")
        assert len(recorder.requests_to("/crash")) == 1
        pending = world.read("crash")["status"]["alerts"]["pending"]
        assert len(pending) == 1 and pending[0].get("claim"), pending  # claimed, sent, never recorded
        operator.restart_with(args=["--delivery-claim-seconds=5"])
        status = settled(world, "crash", timeout=90)
        requests = recorder.requests_to("/crash")
        assert len(requests) == 2  # at-least-once in exactly this window, and only once more
        assert requests[0].headers["x-modelmonitor-delivery-id"] == requests[1].headers["x-modelmonitor-delivery-id"]
        assert status["alerts"]["channels"]["hook"]["sent"] == 1
    finally:
        operator.restart_with()
