"""Inhibition (failed evaluation, pending labels) and silences from the spec and the annotation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from modelmonitor.alerts import SilenceFormatError
from modelmonitor.api import SpecError, parse_spec
from modelmonitor.api.model import Silence
from modelmonitor.reconcile.alert_policy import (
    SILENCE_ANNOTATION,
    mutes,
    parse_silence_annotation,
    plan_alerts,
    plan_alerts_for_monitor,
)
from tests.unit.alerts.policy.builders import (
    CHANNELS,
    MONITOR,
    at,
    failed,
    labels_pending,
    policy_of,
    summary,
    violation,
)


def test_a_failed_evaluation_sends_an_evaluation_notice_not_a_violation_alert_and_keeps_the_streak() -> None:
    policy = policy_of({"consecutiveViolations": 2, "repeatInterval": "6h"})
    first = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR)
    assert first.deliveries == []

    broken = plan_alerts(first.new_state, failed("run-2"), policy, CHANNELS, at(1), monitor=MONITOR)
    assert [(d.channel, str(d.notification.kind)) for d in broken.deliveries] == [("mail", "evaluation_failed")]
    assert broken.deliveries[0].notification.message == "NoSuchBucket: bucket 'ml' does not exist"
    assert broken.deliveries[0].notification.violations == ()
    broken.new_state["pending"] = []

    broken_again = plan_alerts(broken.new_state, failed("run-3"), policy, CHANNELS, at(2), monitor=MONITOR)
    assert broken_again.deliveries == [], "the evaluation notice is subject to the repeat interval"

    # the violation streak survived the failures: this second violating evaluation fires,
    # and the evaluation problem resolves in the same run
    back = plan_alerts(broken_again.new_state, summary("run-4", violation()), policy, CHANNELS, at(3), monitor=MONITOR)
    assert sorted((d.channel, str(d.notification.kind)) for d in back.deliveries) == [
        ("mail", "firing"),
        ("mail", "resolved"),
    ]
    resolved = next(d.notification for d in back.deliveries if str(d.notification.kind) == "resolved")
    assert resolved.dedup_key.endswith("/evaluation")


def test_pending_labels_inhibit_violation_alerts_and_say_so_instead() -> None:
    policy = policy_of({})
    plan = plan_alerts(None, labels_pending("run-1"), policy, CHANNELS, at(0), monitor=MONITOR)
    assert [str(d.notification.kind) for d in plan.deliveries] == ["labels_pending"]
    assert "violations" not in plan.new_state["problems"]
    assert plan.new_state["history"] == []


def test_an_active_problem_is_not_resolved_by_a_failed_evaluation() -> None:
    policy = policy_of({})
    state = plan_alerts(None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR).new_state
    state["pending"] = []
    broken = plan_alerts(state, failed("run-2"), policy, CHANNELS, at(1), monitor=MONITOR)
    assert [str(d.notification.kind) for d in broken.deliveries] == ["evaluation_failed"]
    assert broken.new_state["problems"]["violations"]["status"] == "firing"


def test_a_silenced_rule_is_left_out_and_an_evaluation_with_only_silenced_rules_sends_nothing() -> None:
    policy = policy_of(
        {"silences": [{"rule": "drift:*", "until": "2026-11-23T20:00:00Z", "reason": "known seasonal shift"}]}
    )
    only_drift = plan_alerts(None, summary("run-1", violation("drift:age")), policy, CHANNELS, at(0), monitor=MONITOR)
    assert only_drift.deliveries == []

    mixed = plan_alerts(
        only_drift.new_state,
        summary("run-2", violation("drift:age"), violation("metric:f1")),
        policy,
        CHANNELS,
        at(1),
        monitor=MONITOR,
    )
    assert [[v.rule for v in d.notification.violations] for d in mixed.deliveries] == [["metric:f1"]]


def test_when_a_silence_expires_the_still_firing_problem_is_notified() -> None:
    silence = Silence(rule="metric:f1", until=at(2))
    policy = policy_of({"repeatInterval": "6h"})
    state = plan_alerts(
        None, summary("run-1", violation()), policy, CHANNELS, at(0), monitor=MONITOR, silences=[silence]
    ).new_state
    assert state["pending"] == []
    later = plan_alerts(
        state, summary("run-2", violation()), policy, CHANNELS, at(3), monitor=MONITOR, silences=[silence]
    )
    assert [str(d.notification.kind) for d in later.deliveries] == ["firing"]


def test_the_evaluation_notice_can_be_silenced_by_its_rule_name() -> None:
    policy = policy_of({})
    silence = Silence(rule="evaluation:failed", until=at(5))
    plan = plan_alerts(None, failed("run-1"), policy, CHANNELS, at(0), monitor=MONITOR, silences=[silence])
    assert plan.deliveries == []


def test_the_silence_annotation_is_json_and_a_malformed_one_is_reported_not_fatal() -> None:
    silences = parse_silence_annotation(json.dumps({"rule": "metric:*", "until": "2026-11-24T00:00:00Z"}))
    assert silences == [Silence(rule="metric:*", until=at(7))]
    assert mutes(silences[0], "metric:f1", at(6)) and not mutes(silences[0], "metric:f1", at(7))
    with pytest.raises(SilenceFormatError, match=r"modelmonitor.io/silence\[0\].until"):
        parse_silence_annotation('[{"rule": "metric:f1", "until": "tomorrow"}]')

    metadata: dict[str, Any] = {
        "namespace": "risk",
        "name": "credit-scoring",
        "annotations": {SILENCE_ANNOTATION: "{oops"},
    }
    body = {"metadata": metadata, "spec": _spec({})}
    spec = parse_spec(body["spec"])
    plan = plan_alerts_for_monitor(body, spec, None, summary("run-1", violation()), at(0))
    assert [d.channel for d in plan.deliveries] == ["mail"]
    assert plan.deliveries[0].notification.monitor_path == "risk/credit-scoring"
    assert plan.warnings and SILENCE_ANNOTATION in plan.warnings[0]

    metadata["annotations"] = {
        SILENCE_ANNOTATION: json.dumps([{"rule": "*", "until": "2026-11-24T00:00:00Z", "reason": "maintenance"}])
    }
    assert plan_alerts_for_monitor(body, spec, None, summary("run-1", violation()), at(0)).deliveries == []


def _spec(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"name": "credit-scoring", "version": "7", "task": "binary-classification"},
        "data": {"reference": {"uri": "s3://ml/ref/"}, "current": {"uri": "s3://ml/cur/"}},
        "drift": {},
        "alerts": {"channels": [{"name": "mail", "type": "webhook", "urlSecret": "hook"}], "policy": policy},
    }


@pytest.mark.parametrize(
    ("policy_spec", "field"),
    [
        ({"consecutiveViolations": 0}, "spec.alerts.policy.consecutiveViolations: must be at least 1"),
        ({"mOfN": {"violations": 4, "evaluations": 3}}, "spec.alerts.policy.mOfN.violations: .* less than or equal"),
        ({"mOfN": {"violations": 2}}, "spec.alerts.policy.mOfN.evaluations: must be set"),
        ({"repeatInterval": "soon"}, "spec.alerts.policy.repeatInterval: must be a duration"),
        ({"silences": [{"until": "2026-11-24T00:00:00Z"}]}, r"spec.alerts.policy.silences\[0\].rule: must be set"),
        ({"silences": [{"rule": "x", "until": "2026-11-24T00:00:00"}]}, "time zone"),
    ],
)
def test_a_bad_policy_is_refused_by_the_spec_parser_naming_the_field(policy_spec: dict[str, Any], field: str) -> None:
    """The policy reads only the parsed spec: a bad value is refused before it (CRD rules included)."""
    with pytest.raises(SpecError, match=field):
        parse_spec(_spec(policy_spec))


def test_policy_defaults_come_from_the_crd() -> None:
    policy = parse_spec(_spec({})).alerts.policy
    assert (policy.consecutive_violations, policy.m_of_n, policy.repeat_interval, policy.send_resolved) == (
        None,  # unset: one violation fires (the CRD cannot default it, it excludes mOfN)
        None,
        timedelta(hours=6),
        True,
    )
