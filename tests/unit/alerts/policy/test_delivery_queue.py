"""Exactly-once in spirit: evaluation dedup, restarts, the pending-retry queue and channel health."""

from __future__ import annotations

import json
from datetime import timedelta

from modelmonitor.alerts import DeliveryResult, Notification, NotificationKind
from modelmonitor.reconcile.alert_policy import plan_alerts, plan_notification
from modelmonitor.reconcile.alert_queue import (
    RetrySchedule,
    channel_failing,
    describe_delivery,
    due_retries,
    next_retry_at,
    record_delivery,
)
from tests.unit.alerts.policy.builders import CHANNELS, MONITOR, START, at, policy_of, summary, violation


def test_the_same_evaluation_never_alerts_twice_and_a_restart_resends_only_what_was_not_delivered() -> None:
    policy = policy_of({})
    critical = summary("run-1", violation("metric:accuracy", "critical"))
    plan = plan_alerts(None, critical, policy, CHANNELS, at(0), monitor=MONITOR)
    assert [d.channel for d in plan.deliveries] == ["mail", "pager"]

    # the state goes through the API server as JSON; the mail was sent and recorded, then the operator died
    persisted = json.loads(json.dumps(plan.new_state))
    persisted = record_delivery(persisted, plan.deliveries[0], DeliveryResult.success("mail"), at(0))
    persisted = json.loads(json.dumps(persisted))

    again = plan_alerts(persisted, critical, policy, CHANNELS, at(0.1), monitor=MONITOR)
    assert [d.channel for d in again.deliveries] == ["pager"], "only the undelivered page is due"
    assert again.deliveries[0] == plan.deliveries[1]
    assert again.new_state == persisted

    after = record_delivery(again.new_state, again.deliveries[0], DeliveryResult.success("pager"), at(0.1))
    assert plan_alerts(after, critical, policy, CHANNELS, at(0.2), monitor=MONITOR).deliveries == []
    assert due_retries(after, at(10)) == []


def test_an_older_evaluation_processed_late_is_recognised_as_processed() -> None:
    policy = policy_of({})
    state = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR).new_state
    state = plan_alerts(state, summary("run-2"), policy, CHANNELS, at(1), monitor=MONITOR).new_state
    state["pending"] = []
    assert plan_alerts(state, summary("run-1", violation()), policy, CHANNELS, at(2), monitor=MONITOR).deliveries == []


def test_a_failed_delivery_stays_pending_backs_off_marks_the_channel_failing_and_is_retried() -> None:
    policy = policy_of({})
    plan = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR)
    (delivery,) = plan.deliveries
    schedule = RetrySchedule(base=timedelta(minutes=1), maximum=timedelta(minutes=3), max_attempts=10)
    down = DeliveryResult.failure("mail", "channel 'mail': SMTP server smtp:587 refused the connection")

    state = record_delivery(plan.new_state, delivery, down, START, schedule)
    assert channel_failing(state) == ["mail"]
    assert state["channels"]["mail"]["lastError"].endswith("refused the connection")
    assert due_retries(state, START + timedelta(seconds=59)) == []
    assert next_retry_at(state) == START + timedelta(minutes=1)

    retry = due_retries(state, START + timedelta(minutes=1))
    assert [(d.id, d.attempts) for d in retry] == [(delivery.id, 1)]
    state = record_delivery(state, retry[0], down, START + timedelta(minutes=1), schedule)
    assert next_retry_at(state) == START + timedelta(minutes=3)
    state = record_delivery(state, due_retries(state, at(1))[0], down, at(1), schedule)
    assert next_retry_at(state) == at(1) + timedelta(minutes=3), "the backoff is capped"
    assert state["channels"]["mail"]["consecutiveFailures"] == 3

    (last,) = due_retries(state, at(2))
    assert last.notification == delivery.notification
    state = record_delivery(state, last, DeliveryResult.success("mail"), at(2), schedule)
    assert state["pending"] == []
    assert channel_failing(state) == []
    assert state["channels"]["mail"]["lastSuccessAt"] == "2026-11-23T19:00:00Z"
    assert (state["channels"]["mail"]["sent"], state["channels"]["mail"]["failed"]) == (1, 3)


def test_a_permanent_failure_or_too_many_attempts_gives_up_but_the_channel_stays_failing() -> None:
    policy = policy_of({})
    plan = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR)
    rejected = DeliveryResult.failure("mail", "channel 'mail': SMTP server refused the login", retryable=False)
    state = record_delivery(plan.new_state, plan.deliveries[0], rejected, at(0))
    assert state["pending"] == []
    assert state["channels"]["mail"]["dropped"] == 1
    assert channel_failing(state) == ["mail"]

    plan = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR)
    schedule = RetrySchedule(max_attempts=2)
    state = record_delivery(plan.new_state, plan.deliveries[0], DeliveryResult.failure("mail", "x"), at(0), schedule)
    assert len(state["pending"]) == 1
    state = record_delivery(state, due_retries(state, at(1))[0], DeliveryResult.failure("mail", "x"), at(1), schedule)
    assert state["pending"] == []


def test_record_delivery_does_not_mutate_its_input_and_recording_twice_is_harmless() -> None:
    plan = plan_alerts(None, summary("run-1", violation()), policy_of({}), CHANNELS, at(0), monitor=MONITOR)
    before = json.dumps(plan.new_state, sort_keys=True)
    once = record_delivery(plan.new_state, plan.deliveries[0], DeliveryResult.success("mail"), at(0))
    twice = record_delivery(once, plan.deliveries[0], DeliveryResult.success("mail"), at(0))
    assert json.dumps(plan.new_state, sort_keys=True) == before
    assert once["pending"] == twice["pending"] == []


def test_a_rollback_notice_is_queued_once_per_channel() -> None:
    notice = Notification(
        kind=NotificationKind.ROLLBACK,
        monitor_namespace="risk",
        monitor_name="credit-scoring",
        model_name="credit-scoring",
        model_version="7",
        severity="critical",
        dedup_key="modelmonitor/risk/credit-scoring/rollback",
        evaluation_id="run-9",
        occurred_at="2026-11-23T17:00:00Z",
        message="rolled back Deployment credit-scoring from v7 to v6",
    )
    first = plan_notification(None, notice, CHANNELS, at(0))
    assert [d.channel for d in first.deliveries] == ["mail", "pager"]
    second = plan_notification(first.new_state, notice, CHANNELS, at(0))
    assert len(second.new_state["pending"]) == 2


def test_events_describe_each_delivery_without_secrets() -> None:
    plan = plan_alerts(None, summary("run-1", violation()), policy_of({}), CHANNELS, at(0), monitor=MONITOR)
    (delivery,) = plan.deliveries
    assert describe_delivery(delivery, DeliveryResult.success("mail")) == (
        "AlertSent",
        "firing alert (warning) for evaluation run-1 sent to channel 'mail'",
    )
    failure = DeliveryResult.failure("mail", "channel 'mail': SMTP server smtp:587 refused the connection")
    assert describe_delivery(delivery, failure) == (
        "AlertDeliveryFailed",
        "firing alert (warning) for evaluation run-1 not delivered (will retry): "
        "channel 'mail': SMTP server smtp:587 refused the connection",
    )
