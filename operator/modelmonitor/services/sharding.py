"""From a finished Indexed Job of shards to the reduce Job, or to an EvaluationFailed naming the shards.

The shards of a sharded run write partial results only (``modelmonitor.io/role: shards``): the
evaluation-finished path skips them. When the Indexed Job completes, a reduce Job is created (fixed name,
so a second attempt after a restart is a 409, not a second reduce) and the shards Job is marked processed;
the reduce Job's own completion is then an ordinary evaluation. When the Indexed Job fails (an index used up
its per-index retries, a pod failure policy failed it, its deadline passed) there is nothing to reduce: a
failure summary naming the failed shards and their reasons is recorded through the ordinary path
(``process_finished_job``), so status, conditions, history and alerts treat it like any failed evaluation.

Why the reduce is a Job and not the operator: merging reads every partial (a few MB each) and renders the
report; the operator's memory and CPU are sized for a thousand monitors and must stay flat, and the reduce
needs the store credentials that only evaluation pods receive (as secretKeyRef env).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelmonitor.api import parse_spec
from modelmonitor.kube.errors import Conflict, NotFound
from modelmonitor.kube.store import PROCESSED_ANNOTATION, KubeStore
from modelmonitor.manifests import MONITOR_LABEL, ROLE_LABEL, SHARDS_ROLE, build_reduce_job
from modelmonitor.services.evaluations import EvaluationRecord, job_finished, process_finished_job, read_summary

__all__ = [
    "COMPLETION_INDEX_ANNOTATION",
    "ShardAttempt",
    "ShardsOutcome",
    "failed_shards",
    "parse_indexes",
    "process_finished_shards",
    "shards_failure_summary",
    "shards_need_processing",
]

COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
MAX_MESSAGE = 900


@dataclass(frozen=True)
class ShardAttempt:
    """One terminated pod of the Indexed Job: which shard, how it ended, what it said."""

    index: int
    exit_code: int | None
    message: str | None
    finished_at: str = ""
    reason: str | None = None


@dataclass
class ShardsOutcome:
    """What processing a finished Indexed Job did."""

    job: str
    reduce_job: str | None = None  # created (or found already created) when every shard completed
    record: EvaluationRecord | None = None  # the failure recorded when the shards could not all finish


def shards_need_processing(job: Mapping[str, Any]) -> bool:
    metadata = job.get("metadata") or {}
    labels = metadata.get("labels") or {}
    if labels.get(ROLE_LABEL) != SHARDS_ROLE or MONITOR_LABEL not in labels:
        return False
    if PROCESSED_ANNOTATION in (metadata.get("annotations") or {}):
        return False
    return job_finished(job)[0]


def parse_indexes(text: str | None) -> set[int]:
    """Indexes in the Job status' notation: ``"1,3-5"`` -> {1, 3, 4, 5}."""
    found: set[int] = set()
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        first, _, last = item.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return found


def failed_shards(job: Mapping[str, Any], attempts: Iterable[ShardAttempt]) -> dict[int, ShardAttempt | None]:
    """Each shard that did not finish, with its last failed attempt (``None`` when no pod of it ended)."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    completed = parse_indexes(status.get("completedIndexes"))
    failed = parse_indexes(status.get("failedIndexes"))
    last: dict[int, ShardAttempt] = {}
    for attempt in attempts:
        if attempt.exit_code == 0 or attempt.index in completed:
            continue
        failed.add(attempt.index)
        if attempt.index not in last or attempt.finished_at >= last[attempt.index].finished_at:
            last[attempt.index] = attempt
    if not failed:  # e.g. the deadline passed: every shard that had not completed is to blame
        failed = set(range(int(spec.get("completions") or 0))) - completed
    return {index: last.get(index) for index in sorted(failed)}


def _attempt_text(attempt: ShardAttempt | None) -> tuple[str | None, str, str]:
    """(outcome, reason, message) of one shard's last attempt, from its summary when it wrote one."""
    if attempt is None:
        return None, "", "it did not finish"
    summary = read_summary(attempt.message)
    if summary is not None and isinstance(summary.get("error"), Mapping):
        error = summary["error"]
        return str(summary.get("outcome")), str(error.get("reason") or ""), str(error.get("message") or "")
    tail = (attempt.message or "").strip()[-300:]
    message = f"exit code {attempt.exit_code}" + (f" ({attempt.reason})" if attempt.reason else "")
    return None, attempt.reason or "ShardFailed", f"{message}: {tail}" if tail else message


def shards_failure_summary(
    job: Mapping[str, Any], failures: Mapping[int, ShardAttempt | None], model_version: str | None
) -> dict[str, Any]:
    """The evaluation summary of a sharded run whose shards could not all finish (contracts §2 shape)."""
    name = job["metadata"]["name"]
    status = job.get("status") or {}
    count = int((job.get("spec") or {}).get("completions") or 0)
    job_reason, job_message = "", ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            job_reason, job_message = condition.get("reason") or "", condition.get("message") or ""
    described = []
    outcome, reason = None, ""
    for index, attempt in failures.items():
        shard_outcome, shard_reason, shard_message = _attempt_text(attempt)
        outcome, reason = outcome or shard_outcome, reason or shard_reason
        described.append(f"shard {index} of {count}: " + (f"{shard_reason}: " if shard_reason else "") + shard_message)
    indexes = ", ".join(str(index) for index in failures) or "unknown"
    message = f"sharded run {name}: shard(s) {indexes} of {count} could not finish"
    if job_reason:
        message += f" (Job {job_reason}{': ' + job_message if job_message else ''})"
    message = (message + "; " + "; ".join(described))[:MAX_MESSAGE]
    return {
        "schemaVersion": 1,
        "runId": name,
        "outcome": outcome if outcome and outcome not in ("evaluated", "partial") else "internal_error",
        "error": {"reason": reason or job_reason or "ShardsFailed", "message": message},
        "modelVersion": model_version,
        "startedAt": status.get("startTime"),
        "finishedAt": _finished_at(status),
        "verdict": "error",
        "metrics": {},
        "drift": {},
        "violations": [],
        "failedShards": sorted(failures),
    }


def _finished_at(status: Mapping[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime") or "") or None
    return status.get("completionTime") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shard_attempts(store: KubeStore, namespace: str, job_name: str) -> list[ShardAttempt]:
    """Every terminated attempt of the Indexed Job's shards."""
    attempts = []
    for pod_annotations, terminated in store.pod_terminations(namespace, job_name):
        index_text = pod_annotations.get(COMPLETION_INDEX_ANNOTATION)
        if index_text is None or not index_text.isdigit():
            continue
        attempts.append(ShardAttempt(
            index=int(index_text), exit_code=terminated.exit_code, message=terminated.message,
            finished_at=str(terminated.finished_at or ""), reason=terminated.reason,
        ))
    return attempts


def process_finished_shards(
    store: KubeStore,
    job: Mapping[str, Any],
    after_status: Callable[[EvaluationRecord], None] | None = None,
) -> ShardsOutcome:
    """Start the reduce of a completed Indexed Job, or record the failure of one that failed; mark it processed."""
    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    outcome = ShardsOutcome(job=name)
    _, succeeded = job_finished(job)
    try:
        monitor = store.read_monitor(namespace, job["metadata"]["labels"][MONITOR_LABEL])
    except NotFound:
        return outcome  # the monitor is gone; its Jobs are being garbage-collected
    if succeeded:
        reduce_job = build_reduce_job(job, monitor)
        outcome.reduce_job = reduce_job["metadata"]["name"]
        with contextlib.suppress(Conflict):  # created before a restart: the fixed name makes this idempotent
            store.create_job(reduce_job)
        store.mark_job_processed(namespace, name, f"reduce:{outcome.reduce_job}")
        return outcome
    failures = failed_shards(job, _shard_attempts(store, namespace, name))
    summary = shards_failure_summary(job, failures, parse_spec(monitor.get("spec") or {}).model.version)
    outcome.record = process_finished_job(store, job, after_status=after_status, summary=summary)
    return outcome
