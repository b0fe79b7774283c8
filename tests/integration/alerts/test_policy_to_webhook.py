"""The policy driving a real PagerDuty-style endpoint: one trigger, nothing within the repeat, one resolve."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.alerts import ChannelSettings, RetryPolicy, build_channel
from modelmonitor.api import parse_spec
from modelmonitor.reconcile.alert_policy import AlertPlan, plan_alerts_for_monitor
from modelmonitor.reconcile.alert_queue import channel_failing, due_retries, record_delivery
from tests.integration.alerts.servers import HttpRecorder
from tests.unit.alerts.policy.builders import channel_of

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def monitor() -> dict[str, Any]:
    return {
        "metadata": {"namespace": "risk", "name": "credit-scoring"},
        "spec": {
            "model": {"name": "credit-scoring", "version": "7", "task": "binary-classification"},
            "data": {"reference": {"uri": "s3://ml/reference/"}, "current": {"uri": "s3://ml/current/"}},
            "drift": {},
            "alerts": {
                "channels": [{"name": "pager", "type": "webhook", "urlSecret": "pd", "format": "pagerduty"}],
                "policy": {"consecutiveViolations": 2, "repeatInterval": "6h", "sendResolved": True},
            },
        },
    }


def summary(run: str, violating: bool) -> dict[str, Any]:
    violations = [{"rule": "metric:accuracy", "value": 0.8, "threshold": 0.9, "op": "min", "severity": "critical"}]
    return {"runId": run, "outcome": "evaluated", "modelVersion": "7", "violations": violations if violating else []}


def deliver(plan: AlertPlan, recorder: HttpRecorder, now: datetime) -> dict[str, Any]:
    """The operator's part: send what is due, record each outcome, persist (here: a JSON round trip)."""
    secrets = {"pd": {"url": recorder.url("/v2/enqueue"), "routingKey": "ROUTINGKEY"}}
    settings = ChannelSettings(retry=RetryPolicy(max_attempts=2), sleep=lambda _: None)
    state = json.loads(json.dumps(plan.new_state))
    for delivery in plan.deliveries:
        spec = monitor()["spec"]["alerts"]["channels"][0]
        result = build_channel(channel_of(spec), secrets, settings).send(delivery.notification)
        state = record_delivery(state, delivery, result, now)
    return dict(json.loads(json.dumps(state)))


def test_trigger_once_then_resolve_once_through_the_policy(http_recorder: HttpRecorder) -> None:
    http_recorder.script("/v2/enqueue", [202])
    body = monitor()
    state: dict[str, Any] = {}
    runs = [("run-1", True), ("run-2", True), ("run-3", True), ("run-3", True), ("run-4", False)]
    for hour, (run, violating) in enumerate(runs):
        now = START + timedelta(hours=hour)
        plan = plan_alerts_for_monitor(body, parse_spec(body["spec"]), state, summary(run, violating), now)
        state = deliver(plan, http_recorder, now)

    events = [request.json() for request in http_recorder.requests_to("/v2/enqueue")]
    assert [event["event_action"] for event in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"] == "modelmonitor/risk/credit-scoring/violations"
    assert state["pending"] == [] and channel_failing(state) == []
    assert state["channels"]["pager"]["sent"] == 2


def test_an_endpoint_that_is_down_keeps_the_trigger_pending_until_it_answers(http_recorder: HttpRecorder) -> None:
    http_recorder.script("/v2/enqueue", [503, 503, 202])
    body = monitor()
    body["spec"]["alerts"]["policy"] = {"consecutiveViolations": 1}
    plan = plan_alerts_for_monitor(body, parse_spec(body["spec"]), {}, summary("run-1", True), START)
    state = deliver(plan, http_recorder, START)
    assert channel_failing(state) == ["pager"] and len(state["pending"]) == 1
    assert "ROUTINGKEY" not in json.dumps(state)

    later = START + timedelta(minutes=1)
    retry_plan = AlertPlan(new_state=state, deliveries=due_retries(state, later))
    state = deliver(retry_plan, http_recorder, later)
    assert state["pending"] == [] and channel_failing(state) == []
    events = [request.json() for request in http_recorder.requests_to("/v2/enqueue")]
    assert [event["event_action"] for event in events] == ["trigger"] * 3, "two 503s, then the accepted one"
