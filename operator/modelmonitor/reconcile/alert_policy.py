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

A crash between a successful send and persisting its record re-sends that one message (at-least-once);
PagerDuty's ``dedup_key`` and the e-mail ``X-ModelMonitor-Dedup-Key`` header make that visible as a duplicate.

Problems are grouped: ``violations`` (metric and drift rules of a completed evaluation), ``evaluation`` (the
evaluation failed) and ``labels`` (ground truth not there yet). While an evaluation failed or labels are
pending, the violation problem is neither raised nor cleared (inhibition): those evaluations say nothing
about the model, and the evaluation / labels notice is sent instead.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.alerts.base import DeliveryResult
from modelmonitor.alerts.errors import AlertPolicyError, ChannelConfigError, SilenceFormatError
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
from modelmonitor.alerts.spec import parse_duration

__all__ = [
    "EVALUATION_FAILED_RULE",
    "LABELS_PENDING_RULE",
    "SILENCE_ANNOTATION",
    "AlertPlan",
    "ChannelTarget",
    "Delivery",
    "MonitorIdentity",
    "Policy",
    "RetrySchedule",
    "Silence",
    "channel_failing",
    "describe_delivery",
    "due_retries",
    "next_retry_at",
    "parse_channel_targets",
    "parse_policy",
    "parse_silence_annotation",
    "plan_alerts",
    "plan_alerts_for_monitor",
    "plan_notification",
    "record_delivery",
]

SILENCE_ANNOTATION = "modelmonitor.io/silence"
#: Rule names of the inhibiting problems, so silences can match them like any evaluator rule.
EVALUATION_FAILED_RULE = "evaluation:failed"
LABELS_PENDING_RULE = "labels:pending"

_GROUP_VIOLATIONS = "violations"
_GROUP_EVALUATION = "evaluation"
_GROUP_LABELS = "labels"
_PROCESSED_LIMIT = 20
_PENDING_LIMIT = 100
_DEFAULT_REPEAT_INTERVAL = timedelta(hours=6)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Silence:
    """Mutes notifications for rules matching ``rule`` (a glob: ``metric:f1``, ``drift:*``, ``*``) until ``until``."""

    rule: str
    until: datetime
    reason: str = ""

    def mutes(self, rule: str, now: datetime) -> bool:
        return now < self.until and fnmatch.fnmatchcase(rule, self.rule)


@dataclass(frozen=True)
class ChannelTarget:
    """What the policy needs of a channel: its name, minimum severity and policy overrides."""

    name: str
    min_severity: str = Severity.WARNING
    repeat_interval: timedelta | None = None
    send_resolved: bool | None = None


@dataclass(frozen=True)
class Policy:
    """``spec.alerts.policy``: fire after ``consecutive_violations`` in a row, or per ``m_of_n``.

    ``m_of_n`` is ``(violations, evaluations)``: fire when that many of the last ``evaluations`` violated.
    """

    consecutive_violations: int = 1
    m_of_n: tuple[int, int] | None = None
    repeat_interval: timedelta = _DEFAULT_REPEAT_INTERVAL
    send_resolved: bool = True
    silences: tuple[Silence, ...] = ()


@dataclass(frozen=True)
class MonitorIdentity:
    """Who the notifications are about (from the monitor's metadata and ``spec.model``)."""

    namespace: str
    name: str
    model_name: str
    model_version: str = ""


@dataclass(frozen=True)
class RetrySchedule:
    """Retries across reconciles: exponential from ``base`` to ``maximum``, given up after ``max_attempts``."""

    base: timedelta = timedelta(minutes=1)
    maximum: timedelta = timedelta(hours=1)
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        delay: timedelta = min(self.maximum, self.base * 2 ** max(attempts - 1, 0))
        return delay


@dataclass(frozen=True)
class Delivery:
    """One notification to one channel; ``id`` is stable, so recording it twice is harmless."""

    id: str
    channel: str
    notification: Notification
    attempts: int = 0


@dataclass(frozen=True)
class AlertPlan:
    """The state to persist, the deliveries due now (new ones and due retries), and non-fatal warnings."""

    new_state: dict[str, Any]
    deliveries: list[Delivery]
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- parsing


def _parse_time(value: Any, field_name: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise SilenceFormatError(f"{field_name} must be an RFC 3339 time, not {value!r}") from error
    else:
        raise SilenceFormatError(f"{field_name} must be an RFC 3339 time such as 2026-11-24T08:00:00Z")
    if parsed.tzinfo is None:
        raise SilenceFormatError(f"{field_name} must include a time zone (e.g. a trailing Z)")
    return parsed.astimezone(UTC)


def _parse_silence(entry: Any, where: str) -> Silence:
    if not isinstance(entry, Mapping):
        raise SilenceFormatError(f"{where} must be an object with rule and until")
    rule = entry.get("rule")
    if not isinstance(rule, str) or not rule:
        raise SilenceFormatError(f"{where}.rule must be a non-empty rule name or pattern")
    reason = entry.get("reason") or ""
    return Silence(rule=rule, until=_parse_time(entry.get("until"), f"{where}.until"), reason=str(reason))


def parse_silence_annotation(value: str | None) -> list[Silence]:
    """Read the ``modelmonitor.io/silence`` annotation.

    Its value is JSON: one object or a list of objects ``{"rule": "<glob>", "until": "<RFC 3339>",
    "reason": "..."}``, the same shape as ``spec.alerts.policy.silences``.
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
    return [_parse_silence(entry, f"annotation {SILENCE_ANNOTATION}[{index}]") for index, entry in enumerate(entries)]


def _positive_int(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AlertPolicyError(f"{field_name} must be a whole number of at least 1")
    return value


def _duration(value: Any, field_name: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(value, field_name))
    except ChannelConfigError as error:
        raise AlertPolicyError(error.message) from error


def parse_policy(policy_spec: Mapping[str, Any] | None) -> Policy:
    """Read ``spec.alerts.policy`` (camelCase, as in the CRD); absent fields take their defaults."""
    spec = policy_spec or {}
    consecutive = spec.get("consecutiveViolations")
    m_of_n_spec = spec.get("mOfN")
    m_of_n: tuple[int, int] | None = None
    if m_of_n_spec is not None:
        if not isinstance(m_of_n_spec, Mapping):
            raise AlertPolicyError("alerts.policy.mOfN must be an object with violations and evaluations")
        violations = _positive_int(m_of_n_spec.get("violations"), "alerts.policy.mOfN.violations")
        evaluations = _positive_int(m_of_n_spec.get("evaluations"), "alerts.policy.mOfN.evaluations")
        if violations > evaluations:
            raise AlertPolicyError("alerts.policy.mOfN.violations must not exceed alerts.policy.mOfN.evaluations")
        m_of_n = (violations, evaluations)
    repeat = spec.get("repeatInterval")
    send_resolved = spec.get("sendResolved", True)
    if not isinstance(send_resolved, bool):
        raise AlertPolicyError("alerts.policy.sendResolved must be true or false")
    silences = tuple(
        _parse_silence(entry, f"alerts.policy.silences[{index}]")
        for index, entry in enumerate(spec.get("silences") or [])
    )
    return Policy(
        consecutive_violations=(
            _positive_int(consecutive, "alerts.policy.consecutiveViolations") if consecutive is not None else 1
        ),
        m_of_n=m_of_n,
        repeat_interval=(
            _duration(repeat, "alerts.policy.repeatInterval") if repeat is not None else _DEFAULT_REPEAT_INTERVAL
        ),
        send_resolved=send_resolved,
        silences=silences,
    )


def parse_channel_targets(channel_specs: Sequence[Mapping[str, Any]]) -> list[ChannelTarget]:
    """Read the policy-relevant fields of ``spec.alerts.channels``: name, minSeverity, policy overrides."""
    targets: list[ChannelTarget] = []
    for index, spec in enumerate(channel_specs):
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise AlertPolicyError(f"alerts.channels[{index}].name must be a non-empty string")
        min_severity = str(spec.get("minSeverity") or Severity.WARNING)
        if min_severity not in SEVERITY_RANK:
            raise AlertPolicyError(f"alerts.channels[{index}].minSeverity must be warning or critical")
        override = spec.get("policy") or {}
        repeat = override.get("repeatInterval")
        send_resolved = override.get("sendResolved")
        targets.append(
            ChannelTarget(
                name=name,
                min_severity=min_severity,
                repeat_interval=(
                    _duration(repeat, f"alerts.channels[{index}].policy.repeatInterval") if repeat is not None else None
                ),
                send_resolved=bool(send_resolved) if send_resolved is not None else None,
            )
        )
    return targets


# ---------------------------------------------------------------- state helpers


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _normalised(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy with every section present, so callers never mutate the status they were given."""
    result: dict[str, Any] = copy.deepcopy(dict(state or {}))
    result.setdefault("lastEvaluationId", None)
    result.setdefault("processedEvaluations", [])
    result.setdefault("history", [])
    result.setdefault("problems", {})
    result.setdefault("channels", {})
    result.setdefault("pending", [])
    return result


def _check_now(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    return now.astimezone(UTC)


def _channel_repeat(channel: ChannelTarget, policy: Policy) -> timedelta:
    return channel.repeat_interval if channel.repeat_interval is not None else policy.repeat_interval


def _channel_sends_resolved(channel: ChannelTarget, policy: Policy) -> bool:
    return channel.send_resolved if channel.send_resolved is not None else policy.send_resolved


def _enqueue(state: dict[str, Any], notification: Notification, channels: Sequence[str], now: datetime) -> None:
    pending: list[dict[str, Any]] = state["pending"]
    known = {entry.get("id") for entry in pending}
    for channel in channels:
        delivery_id = f"{notification.evaluation_id}/{notification.dedup_key}/{notification.kind}/{channel}"
        if delivery_id in known:
            continue
        pending.append(
            {
                "id": delivery_id,
                "channel": channel,
                "notification": notification.to_dict(),
                "attempts": 0,
                "createdAt": _timestamp(now),
                "nextAttemptAt": _timestamp(now),
                "lastError": None,
            }
        )
        known.add(delivery_id)
    del pending[: max(len(pending) - _PENDING_LIMIT, 0)]


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
    policy: Policy
    channels: Sequence[ChannelTarget]
    silences: Sequence[Silence]
    now: datetime
    evaluation_id: str
    summary: Mapping[str, Any]

    def silenced(self, rule: str) -> bool:
        return any(silence.mutes(rule, self.now) for silence in self.silences)

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
            occurred_at=_timestamp(self.now),
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
            last = _read_time(previous.get("at"))
            repeat_due = last is None or context.now - last >= _channel_repeat(channel, context.policy)
            due = escalated or repeat_due
        if due:
            recipients.append(channel.name)
            notified[channel.name] = {"at": _timestamp(context.now), "severity": notification.severity}
    _enqueue(context.state, notification, recipients, context.now)


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
        message=f"{problem.get('summary') or group} cleared with evaluation {context.evaluation_id}",
    )
    _enqueue(context.state, resolved, recipients, context.now)


def _raise_notice(context: _Context, group: str, kind: NotificationKind, rule: str, message: str) -> None:
    """Evaluation failed / labels pending: fires at once, repeats on the interval, resolves when it clears."""
    problems: dict[str, Any] = context.state["problems"]
    problem = problems.setdefault(group, {"status": "firing", "since": _timestamp(context.now)})
    problem["status"] = "firing"
    problem["summary"] = message
    problem["lastEvaluationId"] = context.evaluation_id
    if context.silenced(rule):
        return
    notification = context.notification(kind, group, Severity.WARNING, message=message)
    _notify_problem(context, problem, notification)


def _condition_holds(history: Sequence[bool], policy: Policy) -> bool:
    streak = 0
    for violating in reversed(history):
        if not violating:
            break
        streak += 1
    if streak >= policy.consecutive_violations:
        return True
    if policy.m_of_n is not None:
        violations, evaluations = policy.m_of_n
        return sum(history[-evaluations:]) >= violations
    return False


def _evaluate_violations(context: _Context) -> None:
    policy = context.policy
    violations = _violations(context.summary)
    violating = bool(violations)
    history: list[bool] = context.state["history"]
    history.append(violating)
    keep = max(policy.consecutive_violations, policy.m_of_n[1] if policy.m_of_n else 1)
    del history[: max(len(history) - keep, 0)]
    holds = _condition_holds(history, policy)
    problems: dict[str, Any] = context.state["problems"]
    problem = problems.get(_GROUP_VIOLATIONS)
    if not violating:
        if problem is not None and not (problem.get("status") == "firing" and holds):
            _resolve_problem(context, _GROUP_VIOLATIONS)
        return
    if problem is None:
        problem = problems[_GROUP_VIOLATIONS] = {"status": "pending", "since": _timestamp(context.now)}
    problem["rules"] = sorted({violation.rule for violation in violations})
    problem["severity"] = _highest([violation.severity for violation in violations])
    problem["lastEvaluationId"] = context.evaluation_id
    problem["summary"] = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    if not holds:
        return
    if problem["status"] != "firing":
        problem["status"] = "firing"
        problem["firingSince"] = _timestamp(context.now)
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
    policy: Policy,
    channels: Sequence[ChannelTarget],
    now: datetime,
    *,
    monitor: MonitorIdentity,
    silences: Sequence[Silence] = (),
) -> AlertPlan:
    """Decide what one finished evaluation means for alerting (summary shape: docs/contracts.md §2).

    ``silences`` are extra silences (e.g. from the annotation) on top of ``policy.silences``. An evaluation
    already processed (by ``runId``) changes nothing: re-planning after a restart sends nothing twice.
    """
    now = _check_now(now)
    new_state = _normalised(state)
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
            "ground-truth labels have not arrived yet; quality metrics and drift alerts wait for them",
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
    channels: Sequence[ChannelTarget],
    now: datetime,
    *,
    silences: Sequence[Silence] = (),
    rule: str = "rollback",
) -> AlertPlan:
    """Queue a one-off notification (e.g. ``rollback``) for the channels accepting its severity.

    Idempotent: the same notification (evaluation id, dedup key, kind) is queued once per channel, however
    often this is called; a silence matching ``rule`` mutes it.
    """
    now = _check_now(now)
    new_state = _normalised(state)
    if not any(silence.mutes(rule, now) for silence in silences):
        recipients = [
            channel.name for channel in channels if severity_at_least(notification.severity, channel.min_severity)
        ]
        _enqueue(new_state, notification, recipients, now)
    return AlertPlan(new_state=new_state, deliveries=due_retries(new_state, now))


def plan_alerts_for_monitor(
    body: Mapping[str, Any], state: Mapping[str, Any] | None, summary: Mapping[str, Any], now: datetime
) -> AlertPlan:
    """``plan_alerts`` with everything read from the monitor object (metadata, spec.alerts, annotation).

    A malformed silence annotation does not stop alerting: it is ignored and reported in ``warnings``.
    """
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    alerts = spec.get("alerts") or {}
    model = spec.get("model") or {}
    warnings: list[str] = []
    try:
        extra = parse_silence_annotation((metadata.get("annotations") or {}).get(SILENCE_ANNOTATION))
    except SilenceFormatError as error:
        warnings.append(error.message)
        extra = []
    plan = plan_alerts(
        state,
        summary,
        parse_policy(alerts.get("policy")),
        parse_channel_targets(alerts.get("channels") or []),
        now,
        monitor=MonitorIdentity(
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            model_name=str(model.get("name", "")),
            model_version=str(model.get("version", "")),
        ),
        silences=extra,
    )
    return AlertPlan(new_state=plan.new_state, deliveries=plan.deliveries, warnings=warnings)


# ---------------------------------------------------------------- delivering


def due_retries(state: Mapping[str, Any] | None, now: datetime) -> list[Delivery]:
    """Queued deliveries whose next attempt is due, oldest first (never-attempted ones included)."""
    now = _check_now(now)
    deliveries: list[Delivery] = []
    for entry in (state or {}).get("pending") or []:
        next_attempt = _read_time(entry.get("nextAttemptAt"))
        if next_attempt is not None and next_attempt > now:
            continue
        deliveries.append(
            Delivery(
                id=str(entry["id"]),
                channel=str(entry["channel"]),
                notification=Notification.from_dict(entry["notification"]),
                attempts=int(entry.get("attempts") or 0),
            )
        )
    return deliveries


def next_retry_at(state: Mapping[str, Any] | None) -> datetime | None:
    """When the earliest queued delivery is due (for the operator's requeue delay), or None."""
    times = [_read_time(entry.get("nextAttemptAt")) for entry in (state or {}).get("pending") or []]
    present = [moment for moment in times if moment is not None]
    return min(present) if present else None


def record_delivery(
    state: Mapping[str, Any] | None,
    delivery: Delivery,
    result: DeliveryResult,
    now: datetime,
    schedule: RetrySchedule | None = None,
) -> dict[str, Any]:
    """Record one send's outcome: channel statistics, and the queue (removed, rescheduled or given up)."""
    now = _check_now(now)
    schedule = schedule or RetrySchedule()
    new_state = _normalised(state)
    stats: dict[str, Any] = new_state["channels"].setdefault(
        delivery.channel, {"consecutiveFailures": 0, "sent": 0, "failed": 0}
    )
    stats["lastAttemptAt"] = _timestamp(now)
    pending: list[dict[str, Any]] = new_state["pending"]
    index = next((i for i, entry in enumerate(pending) if entry.get("id") == delivery.id), None)
    if result.ok:
        stats["lastSuccessAt"] = _timestamp(now)
        stats["consecutiveFailures"] = 0
        stats["sent"] = int(stats.get("sent") or 0) + 1
        if index is not None:
            del pending[index]
        return new_state
    stats["lastError"] = result.error or "delivery failed"
    stats["consecutiveFailures"] = int(stats.get("consecutiveFailures") or 0) + 1
    stats["failed"] = int(stats.get("failed") or 0) + 1
    if index is None:
        return new_state
    entry = pending[index]
    attempts = int(entry.get("attempts") or 0) + 1
    if not result.retryable or attempts >= schedule.max_attempts:
        del pending[index]
        stats["dropped"] = int(stats.get("dropped") or 0) + 1
        stats["lastDropped"] = {"id": delivery.id, "at": _timestamp(now), "attempts": attempts}
        return new_state
    entry["attempts"] = attempts
    entry["lastError"] = result.error
    entry["nextAttemptAt"] = _timestamp(now + schedule.delay(attempts))
    return new_state


def channel_failing(state: Mapping[str, Any] | None, threshold: int = 1) -> list[str]:
    """Channels whose last ``threshold`` or more deliveries failed: the ``AlertDeliveryFailed`` condition."""
    channels: Mapping[str, Any] = (state or {}).get("channels") or {}
    return sorted(name for name, stats in channels.items() if int(stats.get("consecutiveFailures") or 0) >= threshold)


def describe_delivery(delivery: Delivery, result: DeliveryResult) -> tuple[str, str]:
    """An Event's ``(reason, message)`` for one send: ``AlertSent`` or ``AlertDeliveryFailed`` (no secrets)."""
    notification = delivery.notification
    what = f"{notification.kind} alert ({notification.severity}) for evaluation {notification.evaluation_id}"
    if result.ok:
        return "AlertSent", f"{what} sent to channel {delivery.channel!r}"
    retry = "will retry" if result.retryable else "giving up"
    return "AlertDeliveryFailed", f"{what} not delivered ({retry}): {result.error or 'unknown error'}"
