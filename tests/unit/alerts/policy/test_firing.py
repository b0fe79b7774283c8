"""Firing, repeating and resolving: N consecutive, M of N, repeat interval, escalation, one message per run."""

from __future__ import annotations

from typing import Any

from modelmonitor.api import AlertPolicy
from modelmonitor.reconcile.alert_policy import (
    AlertPlan,
    plan_alerts,
)
from tests.unit.alerts.policy.builders import CHANNELS, MONITOR, at, channels_of, policy_of, summary, violation


def run(state: dict[str, Any] | None, summary_: dict[str, Any], policy: AlertPolicy, hours: float) -> AlertPlan:
    return plan_alerts(state, summary_, policy, CHANNELS, at(hours), monitor=MONITOR)


def kinds(plan: AlertPlan) -> list[tuple[str, str]]:
    return [(delivery.channel, str(delivery.notification.kind)) for delivery in plan.deliveries]


def deliver_all(plan: AlertPlan) -> dict[str, Any]:
    """What the operator does after a successful send of everything: the queue empties."""
    state = plan.new_state
    state["pending"] = []
    return state


def test_two_consecutive_violations_give_exactly_one_alert_then_none_within_repeat_then_one_resolved() -> None:
    policy = policy_of({"consecutiveViolations": 2, "repeatInterval": "6h", "sendResolved": True})

    first = run(None, summary("run-1", violation()), policy, 0)
    assert first.deliveries == []
    assert first.new_state["problems"]["violations"]["status"] == "pending"

    second = run(first.new_state, summary("run-2", violation()), policy, 1)
    assert kinds(second) == [("mail", "firing")]
    notification = second.deliveries[0].notification
    assert notification.evaluation_id == "run-2"
    assert [v.rule for v in notification.violations] == ["metric:f1"]

    third = run(deliver_all(second), summary("run-3", violation()), policy, 2)
    assert third.deliveries == []

    recovered = run(third.new_state, summary("run-4"), policy, 3)
    assert kinds(recovered) == [("mail", "resolved")]
    assert recovered.deliveries[0].notification.dedup_key == notification.dedup_key
    assert "violations" not in recovered.new_state["problems"]

    healthy_again = run(deliver_all(recovered), summary("run-5"), policy, 4)
    assert healthy_again.deliveries == []


def test_a_problem_that_lasts_repeats_once_per_repeat_interval() -> None:
    policy = policy_of({"repeatInterval": "6h"})
    state = deliver_all(run(None, summary("run-1", violation()), policy, 0))
    sent_at: list[float] = []
    for index, hour in enumerate([1, 5, 6, 7, 11.5, 12], start=2):
        plan = run(state, summary(f"run-{index}", violation()), policy, hour)
        if plan.deliveries:
            sent_at.append(hour)
        state = deliver_all(plan)
    assert sent_at == [6, 12]


def test_one_message_per_evaluation_groups_all_its_violations_and_takes_the_highest_severity() -> None:
    policy = policy_of({})
    plan = run(
        None,
        summary("run-1", violation("metric:f1"), violation("drift:age", "critical"), violation("drift:dataset")),
        policy,
        0,
    )
    assert kinds(plan) == [("mail", "firing"), ("pager", "firing")]
    notification = plan.deliveries[0].notification
    assert notification.severity == "critical"
    assert [v.rule for v in notification.violations] == ["metric:f1", "drift:age", "drift:dataset"]
    assert [f.feature for f in notification.drifted_features] == ["age"]
    assert notification.report_uri == "https://reports.example.com/run-1/report.html"


def test_min_severity_keeps_warnings_from_a_critical_only_channel_until_the_problem_escalates() -> None:
    policy = policy_of({"repeatInterval": "6h"})
    warning = run(None, summary("run-1", violation()), policy, 0)
    assert kinds(warning) == [("mail", "firing")]

    escalated = run(deliver_all(warning), summary("run-2", violation("metric:accuracy", "critical")), policy, 1)
    assert kinds(escalated) == [("mail", "firing"), ("pager", "firing")]

    resolved = run(deliver_all(escalated), summary("run-3"), policy, 2)
    assert sorted(kinds(resolved)) == [("mail", "resolved"), ("pager", "resolved")]


def test_m_of_n_fires_on_the_mth_violation_within_the_last_n_and_resolves_below_m() -> None:
    policy = policy_of({"mOfN": {"violations": 2, "evaluations": 3}})  # alone: the CRD refuses it with the other
    plans = []
    state: dict[str, Any] | None = None
    # the 2nd violation within 3 fires; it stays firing while 2 of the last 3 violate, then resolves
    pattern = [True, False, True, True, False, False]
    for index, violating in enumerate(pattern):
        plan = run(state, summary(f"run-{index}", *([violation()] if violating else [])), policy, index)
        plans.append(kinds(plan))
        state = deliver_all(plan)
    assert plans == [[], [], [("mail", "firing")], [], [], [("mail", "resolved")]]


def test_without_send_resolved_recovery_is_silent_but_clears_the_problem() -> None:
    policy = policy_of({"sendResolved": False})
    state = deliver_all(run(None, summary("run-1", violation()), policy, 0))
    recovered = run(state, summary("run-2"), policy, 1)
    assert recovered.deliveries == []
    assert recovered.new_state["problems"] == {}


def test_a_channel_can_override_repeat_interval_and_send_resolved() -> None:
    policy = policy_of({"repeatInterval": "6h"})
    channels = channels_of(
        [
            {"name": "mail", "type": "webhook"},
            {"name": "chat", "type": "webhook", "policy": {"repeatInterval": "1h", "sendResolved": False}},
        ]
    )
    state = plan_alerts(None, summary("run-1", violation()), policy, channels, at(0), monitor=MONITOR).new_state
    state["pending"] = []
    repeat = plan_alerts(state, summary("run-2", violation()), policy, channels, at(1), monitor=MONITOR)
    assert kinds(repeat) == [("chat", "firing")]
    repeat.new_state["pending"] = []
    resolved = plan_alerts(repeat.new_state, summary("run-3"), policy, channels, at(2), monitor=MONITOR)
    assert kinds(resolved) == [("mail", "resolved")]
