"""From one finished evaluation Job to the monitor's new status: pure, so every rule is unit-tested.

The evaluator's summary (docs/contracts.md §2) is the input when it exists. A Job that died before writing one
(deadline, OOM, image error) is described by a `JobOutcome` instead, and becomes an `EvaluationFailed` condition
with the reason Kubernetes gave. Processing is idempotent: an evaluation already recorded in `status.history`
changes nothing, which is what makes "a restart never processes a Job twice" hold even when the operator dies
between writing the status and marking the Job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelmonitor.reconcile.attribution import is_mixed
from modelmonitor.reconcile.comparison import apply_comparison
from modelmonitor.reconcile.versions import format_timestamp, record_evaluation

HISTORY_LIMIT = 20

PHASE_BY_VERDICT = {
    "healthy": "Healthy",
    "warning": "Warning",
    "critical": "Degraded",
    "pending": "Pending",
    "error": "Error",
}

OUTCOME_REASONS = {
    "config_error": "InvalidConfiguration",
    "data_error": "DataError",
    "storage_error": "StorageError",
    "internal_error": "EvaluatorError",
}


@dataclass(frozen=True)
class JobOutcome:
    """What Kubernetes says about a finished evaluation Job (used when its summary is missing)."""

    name: str
    succeeded: bool
    reason: str  # e.g. DeadlineExceeded, BackoffLimitExceeded, Completed
    message: str
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None


def already_recorded(status: Mapping[str, Any], evaluation_id: str) -> bool:
    history = status.get("history") or []
    return any(entry.get("id") == evaluation_id for entry in history) or (
        (status.get("lastEvaluation") or {}).get("id") == evaluation_id
    )


def failure_summary(job: JobOutcome, model_version: str | None) -> dict[str, Any]:
    """A summary for a Job that left none: the evaluation failed for the reason Kubernetes reports."""
    return {
        "schemaVersion": 1,
        "runId": job.name,
        "outcome": "internal_error",
        "error": {"reason": job.reason or "JobFailed", "message": job.message or f"job {job.name} failed"},
        "modelVersion": model_version,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
        "verdict": "error",
        "metrics": {},
        "drift": {},
        "violations": [],
    }


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Conditions with `type_` set; `lastTransitionTime` changes only when the status flips."""
    value = "True" if status else "False"
    result: list[dict[str, Any]] = []
    found = False
    for condition in conditions:
        if condition.get("type") != type_:
            result.append(dict(condition))
            continue
        found = True
        transition = condition.get("lastTransitionTime") if condition.get("status") == value else None
        result.append(_condition(type_, value, reason, message, generation, transition or format_timestamp(now)))
    if not found:
        result.append(_condition(type_, value, reason, message, generation, format_timestamp(now)))
    return result


def _condition(type_: str, value: str, reason: str, message: str, generation: int | None,
               transition: str) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": type_, "status": value, "reason": reason, "message": message[:32768],
                                 "lastTransitionTime": transition}
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


def first_metric(metric_names: Sequence[str], metrics: Mapping[str, Any]) -> str:
    """`accuracy=0.912` for the first configured metric that has a value (the printer column)."""
    for name in [*metric_names, *sorted(metrics)]:
        value = metrics.get(name)
        if isinstance(value, int | float):
            return f"{name}={value:.4g}"
    return ""


def apply_evaluation(
    status: Mapping[str, Any],
    summary: Mapping[str, Any],
    job_name: str,
    generation: int | None,
    metric_names: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """The status fields to write after one evaluation (a merge patch of `status`)."""
    evaluation_id = str(summary.get("runId") or job_name)
    outcome = str(summary.get("outcome") or "internal_error")
    verdict = str(summary.get("verdict") or ("error" if outcome != "evaluated" else "healthy"))
    metrics = dict(summary.get("metrics") or {})
    drift = dict(summary.get("drift") or {})
    violations = list(summary.get("violations") or [])
    model_version = summary.get("modelVersion")
    finished_at = summary.get("finishedAt") or format_timestamp(now)

    last_evaluation = {
        "id": evaluation_id, "job": job_name, "outcome": outcome, "verdict": verdict,
        "startedAt": summary.get("startedAt"), "finishedAt": finished_at, "modelVersion": model_version,
        "rows": summary.get("rows"), "labels": summary.get("labels"), "metrics": metrics,
        "estimated": summary.get("estimated"), "drift": drift, "checks": summary.get("checks"),
        "violations": violations,
        "reportUri": summary.get("reportUri"), "resultUri": summary.get("resultUri"),
        "error": summary.get("error"),
        "segments": summary.get("segments"),
        "attribution": summary.get("attribution"), "attributionSource": summary.get("attributionSource"),
        "versionsSeen": summary.get("versionsSeen"),
        "servedVersions": summary.get("servedVersions"),
    }
    last_evaluation = {key: value for key, value in last_evaluation.items() if value is not None}

    history_entry = {"id": evaluation_id, "job": job_name, "finishedAt": finished_at, "verdict": verdict,
                     "modelVersion": model_version, "violations": len(violations),
                     "driftShare": drift.get("share"), "firstMetric": first_metric(metric_names, metrics),
                     "attribution": summary.get("attribution") if is_mixed(summary) else None,
                     "versionsSeen": summary.get("versionsSeen") if is_mixed(summary) else None}
    history = [{k: v for k, v in history_entry.items() if v is not None},
               *list(status.get("history") or [])][:HISTORY_LIMIT]

    conditions = list(status.get("conditions") or [])
    failed = outcome != "evaluated"
    error = summary.get("error") or {}
    if failed:
        reason = str(error.get("reason") or OUTCOME_REASONS.get(outcome, "EvaluationFailed"))
        conditions = set_condition(conditions, "EvaluationFailed", True, _camel(reason),
                                   str(error.get("message") or "the evaluation failed"), generation, now)
        conditions = set_condition(conditions, "Ready", False, "EvaluationFailed",
                                   f"evaluation {evaluation_id} failed: {error.get('message', '')}", generation, now)
    else:
        conditions = set_condition(conditions, "EvaluationFailed", False, "EvaluationSucceeded",
                                   f"evaluation {evaluation_id} succeeded", generation, now)
        conditions = set_condition(conditions, "Ready", True, "Evaluated",
                                   f"evaluation {evaluation_id}: {verdict}", generation, now)
        metric_violations = [v for v in violations if str(v.get("rule", "")).startswith("metric:")]
        drift_violations = [v for v in violations if not str(v.get("rule", "")).startswith("metric:")]
        if (summary.get("labels") or {}).get("pending"):
            conditions = set_condition(conditions, "PerformanceDegraded", False, "LabelsPending",
                                       "labels have not arrived for enough rows; performance is pending",
                                       generation, now)
        else:
            conditions = set_condition(
                conditions, "PerformanceDegraded", bool(metric_violations),
                "ThresholdViolated" if metric_violations else "WithinThresholds",
                "; ".join(str(v.get("reason", v.get("rule"))) for v in metric_violations)
                or "every metric is within its thresholds", generation, now)
        drifted = bool(drift.get("datasetDrift")) or bool(drift_violations)
        conditions = set_condition(
            conditions, "DataDrift", drifted, "DatasetDrift" if drifted else "NoDrift",
            _drift_message(drift, drift_violations), generation, now)

    patch: dict[str, Any] = {
        "phase": PHASE_BY_VERDICT.get(verdict, "Error"),
        "conditions": conditions,
        "lastEvaluation": last_evaluation,
        "history": history,
        "summary": {
            "modelVersion": str(model_version) if model_version is not None else "",
            "firstMetric": first_metric(metric_names, metrics),
            "driftShare": drift.get("share"),
            "verdict": verdict,
            "lastEvaluated": finished_at,
        },
    }
    if generation is not None:
        patch["observedGeneration"] = generation
    patch["summary"] = {k: v for k, v in patch["summary"].items() if v is not None}
    if model_version and not failed and not is_mixed(summary):  # a mixed window is no version's verdict
        patch["versions"] = record_evaluation(
            status.get("versions") or [], str(model_version), verdict, evaluation_id, now,
            violated_rules=[str(v.get("rule")) for v in violations])
    apply_comparison(patch, status, summary, generation, now)  # spec.challenger: status.comparison + condition
    return patch


def _drift_message(drift: Mapping[str, Any], violations: Sequence[Mapping[str, Any]]) -> str:
    if not drift:
        return "no drift tests ran"
    top = ", ".join(str(item.get("feature")) for item in (drift.get("top") or [])[:5])
    message = f"{drift.get('drifted', 0)} of {drift.get('features', 0)} features drifted (share {drift.get('share')})"
    if top:
        message += f": {top}"
    if violations:
        message += "; " + "; ".join(str(v.get("reason", v.get("rule"))) for v in violations)
    return message


def _camel(reason: str) -> str:
    if reason and reason[0].isupper() and " " not in reason and "_" not in reason:
        return reason
    return "".join(part.capitalize() for part in reason.replace("-", "_").replace(" ", "_").split("_")) or "Failed"


def configured_status(status: Mapping[str, Any], generation: int | None, ready: bool, reason: str, message: str,
                      now: datetime) -> dict[str, Any]:
    """The status after the monitor's CronJob and ConfigMap were (or could not be) put in place."""
    conditions = list(status.get("conditions") or [])
    patch: dict[str, Any] = {"observedGeneration": generation} if generation is not None else {}
    if not status.get("lastEvaluation") or not ready:
        conditions = set_condition(conditions, "Ready", ready, reason, message, generation, now)
        patch["conditions"] = conditions
    if not status.get("phase") or not ready:
        patch["phase"] = "Pending" if ready else "Error"
    return patch


def replacing_patch(current: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch that turns `current` into a status whose `fields` are exactly the given values.

    A merge patch (RFC 7386) merges objects key by key and deletes a key only when the patch says `null`: a
    key left out of a new object is kept from the old one. Every status writer builds whole new values
    (`status.alerts`, `status.rollback`, `lastEvaluation`, ...), so a key that vanished from them (a resolved
    problem, a withdrawn proposal, an error that is no more) must be written as an explicit null. Lists are
    replaced whole by a merge patch and need nothing. Apply the result only against the `current` it was
    computed from (a resourceVersion-guarded patch), or a key written meanwhile could survive.
    """
    base = current or {}
    return {key: _replacing(base.get(key), value) for key, value in fields.items()}


def _replacing(current: Any, new: Any) -> Any:
    if not isinstance(new, Mapping):
        return new
    if not isinstance(current, Mapping):
        return {key: _replacing(None, value) for key, value in new.items()}
    patch: dict[str, Any] = {key: None for key in current if key not in new}
    for key, value in new.items():
        patch[key] = _replacing(current.get(key), value)
    return patch
