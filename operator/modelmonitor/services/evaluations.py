"""From a finished evaluation Job to the monitor's status, exactly once.

Order of writes: the monitor's status first (guarded by its resourceVersion, retried on conflict), the Job's
`processed` annotation last. If the operator dies in between, the Job is seen again after the restart, the
evaluation is found in `status.history`, and only the annotation is written: nothing is counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelmonitor import faults
from modelmonitor.alerts.outbound import OutboundPolicy
from modelmonitor.api import parse_spec
from modelmonitor.kube.errors import Conflict, NotFound
from modelmonitor.kube.store import PROCESSED_ANNOTATION, KubeStore
from modelmonitor.reconcile.alert_policy import Delivery, plan_alerts_for_monitor, plan_notification
from modelmonitor.reconcile.attribution import attribute
from modelmonitor.reconcile.comparison import comparison_notification
from modelmonitor.reconcile.status import (
    JobOutcome,
    already_recorded,
    apply_evaluation,
    failure_summary,
    replacing_patch,
)
from modelmonitor.services import registry, rollbacks

MONITOR_LABEL = "modelmonitor.io/monitor"
# Jobs whose result is not an evaluation of their own (the shards of a sharded run, whose partial results a
# reduce Job merges) carry this label; only the Job that writes the evaluation's summary is processed here.
ROLE_LABEL = "modelmonitor.io/role"
PARTIAL_ROLES = frozenset({"shards"})
MAX_CONFLICT_RETRIES = 8

EventPoster = Callable[[Mapping[str, Any], str, str, str], None]  # (monitor, type, reason, message)


@dataclass
class EvaluationRecord:
    """What processing one Job did, for metrics and logs."""

    monitor: str
    job: str
    evaluation_id: str
    summary: dict[str, Any]
    recorded: bool  # False when the evaluation was already in status (a reprocessed Job)
    status_patch: dict[str, Any] = field(default_factory=dict)
    monitor_body: dict[str, Any] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)  # planned alerts, queued in status.alerts
    warnings: list[str] = field(default_factory=list)


def job_finished(job: Mapping[str, Any]) -> tuple[bool, bool]:
    """(finished, succeeded) from the Job's conditions."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return True, condition["type"] == "Complete"
    return False, False


def needs_processing(job: Mapping[str, Any]) -> bool:
    metadata = job.get("metadata") or {}
    if PROCESSED_ANNOTATION in (metadata.get("annotations") or {}):
        return False
    labels = metadata.get("labels") or {}
    if MONITOR_LABEL not in labels or labels.get(ROLE_LABEL) in PARTIAL_ROLES:
        return False
    return job_finished(job)[0]


def read_summary(message: str | None) -> dict[str, Any] | None:
    if not message:
        return None
    try:
        summary = json.loads(message)
    except ValueError:
        return None
    return summary if isinstance(summary, dict) and "outcome" in summary else None


def job_outcome(job: Mapping[str, Any], exit_code: int | None, reason: str | None, message: str | None) -> JobOutcome:
    status = job.get("status") or {}
    _, succeeded = job_finished(job)
    job_reason, job_message = "", ""
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Failed", "Complete"):
            job_reason, job_message = condition.get("reason") or "", condition.get("message") or ""
    if not succeeded and exit_code is not None:
        job_message = f"{job_message} (evaluator exit code {exit_code}: {(message or '').strip()[-500:]})".strip()
    if not succeeded and reason == "OOMKilled":
        # Why the retries ran out: the kernel killed the evaluator at its memory limit (the Job only says
        # BackoffLimitExceeded). Raise spec.evaluation.resources.limits.memory or sample the data.
        job_reason = "OOMKilled"
        job_message = f"the evaluator was killed at its memory limit (OOMKilled); {job_message}"
    return JobOutcome(
        name=job["metadata"]["name"], succeeded=succeeded,
        reason=job_reason or (reason or ("Completed" if succeeded else "JobFailed")),
        message=job_message or ("the evaluator wrote no summary" if succeeded else "the evaluation Job failed"),
        started_at=status.get("startTime"), finished_at=status.get("completionTime"), exit_code=exit_code,
    )


def process_finished_job(store: KubeStore, job: Mapping[str, Any], now: datetime | None = None,
                         after_status: Callable[[EvaluationRecord], None] | None = None,
                         summary: Mapping[str, Any] | None = None,
                         outbound: OutboundPolicy | None = None) -> EvaluationRecord | None:
    """Record a finished Job's evaluation in its monitor's status (once) and mark the Job processed.

    The summary is read from the Job's pod unless given (a sharded run's failure is described by the operator).
    """
    now = now or datetime.now(UTC)
    namespace, job_name = job["metadata"]["namespace"], job["metadata"]["name"]
    monitor_name = job["metadata"]["labels"][MONITOR_LABEL]
    message, exit_code, reason = (None, None, None) if summary else store.job_termination(namespace, job_name)
    summary = dict(summary) if summary else read_summary(message)
    record: EvaluationRecord | None = None
    resolution: registry.Resolution | None = None
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            monitor = store.read_monitor(namespace, monitor_name)
        except NotFound:
            break  # the monitor is gone; its Jobs are being garbage-collected
        spec = parse_spec(monitor.get("spec") or {})  # the one reader of the spec; below only its typed parts
        if summary is None:
            summary = failure_summary(job_outcome(job, exit_code, reason, message), spec.model.version)
        evaluation_id = str(summary.get("runId") or job_name)
        status = monitor.get("status") or {}
        record = EvaluationRecord(monitor_name, job_name, evaluation_id, summary, recorded=False, monitor_body=monitor)
        if already_recorded(status, evaluation_id):
            break
        # With spec.model.registry, the registry's alias names the version in service (issue 13).
        resolution = resolution or registry.resolve_version(store, monitor, outbound=outbound, now=now)
        served = resolution.version if resolution is not None and resolution.version else None
        served = served or registry.external_version(store, monitor, outbound=outbound) \
            or rollbacks.target_version(store.api_client, monitor)
        if served and (summary.get("outcome") == "evaluated" or resolution is not None):
            # With a rollback target, the version in service is what was evaluated (after a rollback the spec
            # still names the newer version).
            summary = {**summary, "modelVersion": served}
            record.summary = summary
        if summary.get("outcome") == "evaluated":
            # Credited only to the one version that served the window (issue 14): else labelled mixed.
            history = (status.get("rollback") or {}).get("history") or []
            attribution = attribute(summary, str(summary.get("modelVersion") or "") or None, history)
            summary = attribution.annotate(summary)
            record.summary = summary
        metric_names = [metric.name for metric in spec.metrics]
        patch = apply_evaluation(status, summary, job_name, monitor["metadata"].get("generation"), metric_names, now)
        if resolution is not None:
            registry.with_resolution(patch, status, resolution, monitor["metadata"].get("generation"))
        # The alerts this evaluation calls for are queued in the same write as the evaluation itself.
        plan = plan_alerts_for_monitor(monitor, spec, status.get("alerts"), summary, now)
        patch["alerts"] = plan.new_state
        record.deliveries, record.warnings = plan.deliveries, plan.warnings
        notice = comparison_notification(monitor, status, patch, now)  # spec.challenger's decision changed
        if notice is not None:
            alerts = parse_spec(monitor.get("spec") or {}).alerts
            told = plan_notification(patch["alerts"], notice, alerts.channels, now,
                                     silences=alerts.policy.silences, rule="challenger")
            patch["alerts"], record.deliveries = told.new_state, told.deliveries
        try:
            # Explicit nulls for what the new values left out (a resolved problem must leave status.alerts).
            store.patch_monitor_status(namespace, monitor_name, replacing_patch(status, patch),
                                       monitor["metadata"]["resourceVersion"])
        except Conflict:
            continue
        record.recorded, record.status_patch = True, patch
        break
    else:
        raise Conflict(f"modelmonitor {namespace}/{monitor_name} kept changing; will retry job {job_name}")
    faults.reached("evaluations.after-status")
    if record is not None and after_status is not None:
        after_status(record)
    store.mark_job_processed(namespace, job_name, record.evaluation_id if record else job_name)
    faults.reached("evaluations.after-mark")
    return record
