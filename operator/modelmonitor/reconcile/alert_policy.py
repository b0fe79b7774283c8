"""When to tell whom: the alert policy, as pure functions over a JSON-able state kept in the monitor's status.

The operator holds no state outside the API server, so everything the policy needs to avoid both alert storms
and silent failures lives in ``status.alerts``: which evaluations were already processed (the same evaluation
never alerts twice), the recent violating / healthy history (N consecutive, M of N), each problem's state and
when each channel last heard about it (repeat interval, escalation, resolution), each channel's delivery
outcome, and a queue of planned notifications not yet delivered. The operator's loop is:

1. ``plan = plan_alerts(state, summary, ...)`` and persist ``plan.new_state`` (the planned notifications are
   now queued in it, so a crash before sending loses nothing);
2. for each ``delivery`` in ``plan.deliveries``: ``result = channel.send(delivery.notification)`` and
   ``state = record_delivery(state, delivery, result, now)``; persist ``state``;
3. on a timer, ``due_retries(state, now)`` gives the queued deliveries whose next attempt is due
   (``next_retry_at`` says when to look again).

The policy reads the parsed spec (``MonitorSpec.alerts``: ``AlertPolicy`` and ``AlertChannel``, defaults from the
CRD); the queue's transitions (step 2 and 3) live in ``alert_queue`` and the words of the notices in
``alerts.render``.

A crash between a successful send and persisting its record re-sends that one message (at-least-once);
PagerDuty's ``dedup_key`` and the e-mail ``X-ModelMonitor-Dedup-Key`` header make that visible as a duplicate.

Problems are grouped: ``violations`` (metric and drift rules of a completed evaluation), ``evaluation`` (the
evaluation failed) and ``labels`` (ground truth not there yet). While an evaluation failed or labels are
pending, the violation problem is neither raised nor cleared (inhibition): those evaluations say nothing
about the model, and the evaluation / labels notice is sent instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from modelmonitor.alerts.errors import AlertPolicyError, SilenceFormatError
from modelmonitor.alerts.notification import (
    SEVERITY_RANK,
    DriftedFeature,
    Notification,
    NotificationKind,
    Severity,
    Violation,
    make_dedup_key,
    severity_at_least,
)
from modelmonitor.alerts.render import LABELS_PENDING_MESSAGE, resolved_message
from modelmonitor.api import AlertChannel, AlertPolicy, MonitorSpec, SpecError, parse_part
from modelmonitor.api.metrics import rule_matches
from modelmonitor.api.model import DEFAULT_CONSECUTIVE_VIOLATIONS, Silence
from modelmonitor.reconcile.alert_queue import (
    Delivery,
    check_now,
    due_retries,
    enqueue,
    normalised,
    read_time,
    timestamp,
)

__all__ = [
    "EVALUATION_FAILED_RULE",
    "LABELS_PENDING_RULE",
    "SILENCE_ANNOTATION",
    "AlertPlan",
    "Delivery",
    "MonitorIdentity",
    "mutes",
    "parse_silence_annotation",
    "plan_alerts",
    "plan_alerts_for_monitor",
    "plan_notification",
]

SILENCE_ANNOTATION = "modelmonitor.io/silence"
#: Rule names of the inhibiting problems, so silences can match them like any evaluator rule.
EVALUATION_FAILED_RULE = "evaluation:failed"
LABELS_PENDING_RULE = "labels:pending"

_GROUP_VIOLATIONS = "violations"
_GROUP_EVALUATION = "evaluation"
_GROUP_LABELS = "labels"
_PROCESSED_LIMIT = 20


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class MonitorIdentity:
    """Who the notifications are about (from the monitor's metadata and ``spec.model``)."""

    namespace: str
    name: str
    model_name: str
    model_version: str = ""


@dataclass(frozen=True)
class AlertPlan:
    """The state to persist, the deliveries due now (new ones and due retries), and non-fatal warnings."""

    new_state: dict[str, Any]
    deliveries: list[Delivery]
    warnings: list[str] = field(default_factory=list)


def mutes(silence: Silence, rule: str, now: datetime) -> bool:
    """Whether ``silence`` (a glob over rule names: ``metric:f1``, ``drift:*``, ``*``) mutes ``rule`` at ``now``."""
    return now < silence.until and rule_matches(rule, silence.rule)


def parse_silence_annotation(value: str | None) -> list[Silence]:
    """Read the ``modelmonitor.io/silence`` annotation.

    Its value is JSON: one object or a list of objects ``{"rule": "<glob>", "until": "<RFC 3339>",
    "reason": "..."}``, the shape of ``spec.alerts.policy.silences``, and read by the same spec parser.
    """
    if value is None or not value.strip():
        return []
    try:
        data = json.loads(value)
    except json.JSONDecodeError as error:
        raise SilenceFormatError(
            f"annotation {SILENCE_ANNOTATION} must be JSON: an object or a list of objects with rule and until"
        ) from error
    entries = data if isinstance(data, list) else [data]
    silences: list[Silence] = []
    for index, entry in enumerate(entries):
        try:
            silences.append(parse_part(Silence, entry, f"spec.alerts.policy.silences[{index}]"))
        except SpecError as error:
            where = error.field.replace("spec.alerts.policy.silences", f"annotation {SILENCE_ANNOTATION}", 1)
            raise SilenceFormatError(f"{where}: {error.message}") from None
    return silences


def _channel_repeat(channel: AlertChannel, policy: AlertPolicy) -> timedelta:
    override = channel.policy.repeat_interval if channel.policy is not None else None
    return override if override is not None else policy.repeat_interval


def _channel_sends_resolved(channel: AlertChannel, policy: AlertPolicy) -> bool:
    override = channel.policy.send_resolved if channel.policy is not None else None
    return override if override is not None else policy.send_resolved


# ---------------------------------------------------------------- reading the summary


def _evaluation_id(summary: Mapping[str, Any]) -> str:
    value = summary.get("runId") or summary.get("id")
    if not value:
        raise AlertPolicyError("the evaluation summary must have a runId")
    return str(value)


def _violations(summary: Mapping[str, Any]) -> list[Violation]:
    return [Violation.from_dict(item) for item in summary.get("violations") or [] if isinstance(item, Mapping)]


def _drifted_features(summary: Mapping[str, Any]) -> list[DriftedFeature]:
    drift = summary.get("drift") or {}
    if not isinstance(drift, Mapping):
        return []
    top = [DriftedFeature.from_dict(item) for item in drift.get("top") or [] if isinstance(item, Mapping)]
    drifted = drift.get("drifted")
    return top[:drifted] if isinstance(drifted, int) else top


def _error_message(summary: Mapping[str, Any]) -> str:
    error = summary.get("error")
    if isinstance(error, Mapping):
        reason = str(error.get("reason") or "")
        message = str(error.get("message") or "")
        return f"{reason}: {message}" if reason and message else reason or message
    return str(summary.get("outcome") or "error")


def _failed(summary: Mapping[str, Any]) -> bool:
    return summary.get("outcome", "evaluated") != "evaluated" or summary.get("verdict") == "error"


def _labels_pending(summary: Mapping[str, Any]) -> bool:
    labels = summary.get("labels")
    pending = isinstance(labels, Mapping) and bool(labels.get("pending"))
    return pending or summary.get("verdict") == "pending"


def _highest(severities: Sequence[str]) -> str:
    return max(severities, key=lambda severity: SEVERITY_RANK.get(severity, 1), default=Severity.WARNING)


# ---------------------------------------------------------------- deciding


@dataclass
class _Context:
    state: dict[str, Any]
    identity: MonitorIdentity
    policy: AlertPolicy
    channels: Sequence[AlertChannel]
    silences: Sequence[Silence]
    now: datetime
    evaluation_id: str
    summary: Mapping[str, Any]

    def silenced(self, rule: str) -> bool:
        return any(mutes(silence, rule, self.now) for silence in self.silences)

    def notification(
        self,
        kind: NotificationKind,
        group: str,
        severity: str,
        *,
        violations: Sequence[Violation] = (),
        drifted: Sequence[DriftedFeature] = (),
        message: str = "",
    ) -> Notification:
        drift = self.summary.get("drift")
        share = drift.get("share") if isinstance(drift, Mapping) else None
        return Notification(
            kind=kind,
            monitor_namespace=self.identity.namespace,
            monitor_name=self.identity.name,
            model_name=self.identity.model_name,
            model_version=str(self.summary.get("modelVersion") or self.identity.model_version),
            severity=severity,
            dedup_key=make_dedup_key(self.identity.namespace, self.identity.name, group),
            evaluation_id=self.evaluation_id,
            occurred_at=timestamp(self.now),
            violations=tuple(violations),
            drifted_features=tuple(drifted),
            drift_share=float(share) if isinstance(share, int | float) else None,
            report_uri=str(self.summary["reportUri"]) if self.summary.get("reportUri") else None,
            message=message,
        )


def _notify_problem(context: _Context, problem: dict[str, Any], notification: Notification) -> None:
    """Send ``notification`` to each channel that accepts its severity and is due (new, escalated or repeat)."""
    notified: dict[str, Any] = problem.setdefault("notified", {})
    recipients: list[str] = []
    for channel in context.channels:
        if not severity_at_least(notification.severity, channel.min_severity):
            continue
        previous = notified.get(channel.name)
        due = previous is None
        if previous is not None:
            escalated = SEVERITY_RANK.get(notification.severity, 1) > SEVERITY_RANK.get(previous.get("severity"), 1)
            last = read_time(previous.get("at"))
            repeat_due = last is None or context.now - last >= _channel_repeat(channel, context.policy)
            due = escalated or repeat_due
        if due:
            recipients.append(channel.name)
            notified[channel.name] = {"at": timestamp(context.now), "severity": notification.severity}
    enqueue(context.state, notification, recipients, context.now)


def _resolve_problem(context: _Context, group: str) -> None:
    problems: dict[str, Any] = context.state["problems"]
    problem = problems.pop(group, None)
    if not problem or problem.get("status") != "firing":
        return
    notified: Mapping[str, Any] = problem.get("notified") or {}
    if not notified:
        return
    recipients = [
        channel.name
        for channel in context.channels
        if channel.name in notified and _channel_sends_resolved(channel, context.policy)
    ]
    severity = _highest([str(entry.get("severity")) for entry in notified.values()])
    resolved = context.notification(
        NotificationKind.RESOLVED,
        group,
        severity,
        message=resolved_message(str(problem.get("summary") or group), context.evaluation_id),
    )
    enqueue(context.state, resolved, recipients, context.now)


def _raise_notice(context: _Context, group: str, kind: NotificationKind, rule: str, message: str) -> None:
    """Evaluation failed / labels pending: fires at once, repeats on the interval, resolves when it clears."""
    problems: dict[str, Any] = context.state["problems"]
    problem = problems.setdefault(group, {"status": "firing", "since": timestamp(context.now)})
    problem["status"] = "firing"
    problem["summary"] = message
    problem["lastEvaluationId"] = context.evaluation_id
    if context.silenced(rule):
        return
    notification = context.notification(kind, group, Severity.WARNING, message=message)
    _notify_problem(context, problem, notification)


def _streak_needed(policy: AlertPolicy) -> int:
    """``consecutiveViolations``, or its default when unset (the CRD cannot default it: it excludes ``mOfN``)."""
    return policy.consecutive_violations or DEFAULT_CONSECUTIVE_VIOLATIONS


def _condition_holds(history: Sequence[bool], policy: AlertPolicy) -> bool:
    """``mOfN`` when it is set (``violations`` of the last ``evaluations``), else the consecutive streak."""
    if policy.m_of_n is not None:
        return sum(history[-policy.m_of_n.evaluations :]) >= policy.m_of_n.violations
    streak = 0
    for violating in reversed(history):
        if not violating:
            break
        streak += 1
    return streak >= _streak_needed(policy)


def _evaluate_violations(context: _Context) -> None:
    policy = context.policy
    violations = _violations(context.summary)
    violating = bool(violations)
    history: list[bool] = context.state["history"]
    history.append(violating)
    keep = policy.m_of_n.evaluations if policy.m_of_n is not None else _streak_needed(policy)
    del history[: max(len(history) - keep, 0)]
    holds = _condition_holds(history, policy)
    problems: dict[str, Any] = context.state["problems"]
    problem = problems.get(_GROUP_VIOLATIONS)
    if not violating:
        if problem is not None and not (problem.get("status") == "firing" and holds):
            _resolve_problem(context, _GROUP_VIOLATIONS)
        return
    if problem is None:
        problem = problems[_GROUP_VIOLATIONS] = {"status": "pending", "since": timestamp(context.now)}
    problem["rules"] = sorted({violation.rule for violation in violations})
    problem["severity"] = _highest([violation.severity for violation in violations])
    problem["lastEvaluationId"] = context.evaluation_id
    problem["summary"] = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    if not holds:
        return
    if problem["status"] != "firing":
        problem["status"] = "firing"
        problem["firingSince"] = timestamp(context.now)
    audible = [violation for violation in violations if not context.silenced(violation.rule)]
    if not audible:
        return
    notification = context.notification(
        NotificationKind.FIRING,
        _GROUP_VIOLATIONS,
        _highest([violation.severity for violation in audible]),
        violations=audible,
        drifted=_drifted_features(context.summary),
    )
    _notify_problem(context, problem, notification)


def plan_alerts(
    state: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    policy: AlertPolicy,
    channels: Sequence[AlertChannel],
    now: datetime,
    *,
    monitor: MonitorIdentity,
    silences: Sequence[Silence] = (),
) -> AlertPlan:
    """Decide what one finished evaluation means for alerting (summary shape: docs/contracts.md §2).

    ``silences`` are extra silences (e.g. from the annotation) on top of ``policy.silences``. An evaluation
    already processed (by ``runId``) changes nothing: re-planning after a restart sends nothing twice.
    """
    now = check_now(now)
    new_state = normalised(state)
    evaluation_id = _evaluation_id(summary)
    processed: list[str] = new_state["processedEvaluations"]
    if evaluation_id in processed or evaluation_id == new_state["lastEvaluationId"]:
        return AlertPlan(new_state=new_state, deliveries=due_retries(new_state, now))
    context = _Context(
        state=new_state,
        identity=monitor,
        policy=policy,
        channels=channels,
        silences=(*policy.silences, *silences),
        now=now,
        evaluation_id=evaluation_id,
        summary=summary,
    )
    if _failed(summary):
        _raise_notice(
            context,
            _GROUP_EVALUATION,
            NotificationKind.EVALUATION_FAILED,
            EVALUATION_FAILED_RULE,
            _error_message(summary),
        )
    elif _labels_pending(summary):
        _resolve_problem(context, _GROUP_EVALUATION)
        _raise_notice(
            context,
            _GROUP_LABELS,
            NotificationKind.LABELS_PENDING,
            LABELS_PENDING_RULE,
            LABELS_PENDING_MESSAGE,
        )
    else:
        _resolve_problem(context, _GROUP_EVALUATION)
        _resolve_problem(context, _GROUP_LABELS)
        _evaluate_violations(context)
    new_state["lastEvaluationId"] = evaluation_id
    processed.append(evaluation_id)
    del processed[: max(len(processed) - _PROCESSED_LIMIT, 0)]
    return AlertPlan(new_state=new_state, deliveries=due_retries(new_state, now))


def plan_notification(
    state: Mapping[str, Any] | None,
    notification: Notification,
    channels: Sequence[AlertChannel],
    now: datetime,
    *,
    silences: Sequence[Silence] = (),
    rule: str = "rollback",
) -> AlertPlan:
    """Queue a one-off notification (e.g. ``rollback``) for the channels accepting its severity.

    Idempotent: the same notification (evaluation id, dedup key, kind) is queued once per channel, however
    often this is called; a silence matching ``rule`` mutes it.
    """
    now = check_now(now)
    new_state = normalised(state)
    if not any(mutes(silence, rule, now) for silence in silences):
        recipients = [
            channel.name for channel in channels if severity_at_least(notification.severity, channel.min_severity)
        ]
        enqueue(new_state, notification, recipients, now)
    return AlertPlan(new_state=new_state, deliveries=due_retries(new_state, now))


def plan_alerts_for_monitor(
    body: Mapping[str, Any],
    spec: MonitorSpec,
    state: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    now: datetime,
) -> AlertPlan:
    """``plan_alerts`` for a monitor: ``spec`` is its parsed spec, ``body`` gives metadata and the annotation.

    A malformed silence annotation does not stop alerting: it is ignored and reported in ``warnings``.
    """
    metadata = body.get("metadata") or {}
    warnings: list[str] = []
    try:
        extra = parse_silence_annotation((metadata.get("annotations") or {}).get(SILENCE_ANNOTATION))
    except SilenceFormatError as error:
        warnings.append(error.message)
        extra = []
    plan = plan_alerts(
        state,
        summary,
        spec.alerts.policy,
        spec.alerts.channels,
        now,
        monitor=MonitorIdentity(
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            model_name=spec.model.name,
            model_version=spec.model.version or "",
        ),
        silences=extra,
    )
    return AlertPlan(new_state=plan.new_state, deliveries=plan.deliveries, warnings=warnings)
