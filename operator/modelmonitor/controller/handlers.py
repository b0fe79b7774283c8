"""kopf handlers: thin. Each takes the store from `memo`, calls a service, and reports what happened.

Handler ids are pinned (`id=`) so that kopf's progress annotations survive code changes; kopf keeps its own
bookkeeping under the `kopf.modelmonitor.io` prefix (see `configure`): not `modelmonitor.io`, because kopf
ignores changes of annotations under its own prefix, and users talk to us through `modelmonitor.io/run-now`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from modelmonitor.alerts.errors import HostNotAllowedError
from modelmonitor.api.errors import SpecError
from modelmonitor.controller import metrics
from modelmonitor.kube.errors import Conflict, KubeError
from modelmonitor.kube.store import GROUP, PLURAL, VERSION, KubeStore
from modelmonitor.reconcile.comparison import comparison_event
from modelmonitor.services import alerting, registry, rollbacks
from modelmonitor.services.evaluations import MONITOR_LABEL, EvaluationRecord, needs_processing, process_finished_job
from modelmonitor.services.monitors import RUN_NOW_ANNOTATION, reconcile_monitor, run_now
from modelmonitor.services.promotions import APPROVE_PROMOTION_ANNOTATION, promote_if_better, promotion_enabled
from modelmonitor.services.rollbacks import APPROVE_ANNOTATION

log = logging.getLogger("modelmonitor.operator")
FINALIZER = "modelmonitor.io/finalizer"
WORKERS_PER_THREAD = 10  # kopf workers per executor thread: 200 by default, a cap of 40 objects/s
ALERT_RETRY_SECONDS = 10.0  # how often queued alerts are looked at (the first time 5 s after startup)


@kopf.on.startup(id="configure")
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.modelmonitor.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.modelmonitor.io", key="last-handled-configuration")
    settings.posting.level = logging.WARNING  # events are posted explicitly, not from every log line
    # kopf's per-object workers, per resource kind: an object's worker holds its slot for idle_timeout (5 s)
    # after its last event, so the limit caps throughput at limit / 5 s objects per second (with 20, 1,000
    # monitors took 265 s to resume instead of 52 s). Without a limit, resuming 5,000 monitors started 5,000
    # workers at once, each holding its object while waiting for an executor thread: RSS 550-600 MiB after
    # startup instead of 240 (bench/operator_load/README.md). The executor's threads bound the work done at once.
    settings.queueing.worker_limit = WORKERS_PER_THREAD * memo.operator_settings.max_workers
    settings.watching.server_timeout = 300
    settings.execution.max_workers = memo.operator_settings.max_workers
    if not memo.operator_settings.all_namespaces:
        # Watching listed namespaces only: no cluster-wide namespace scanning, which the namespaced RBAC refuses.
        settings.scanning.disabled = True
    metrics.watch_executor(settings.execution.executor)
    memo.store.observe_request = metrics.count_api_request
    global _store
    _store = memo.store


@kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec")
@kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile")
@metrics.instrumented("reconcile")
def reconcile(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    result = reconcile_monitor(memo.store, body, memo.operator_settings, outbound=memo.channel_settings.outbound)
    patch.status.update(result.status)
    if not result.ready:
        condition = next(c for c in result.status.get("conditions", []) if c["type"] == "Ready")
        _post_event(body, "Warning", condition["reason"], condition["message"])
        if result.retry_after:
            raise kopf.TemporaryError(condition["message"], delay=result.retry_after)


@kopf.on.resume(GROUP, VERSION, PLURAL, id="restore-metrics")
def restore_metrics(body: kopf.Body, **_: Any) -> None:
    """After a restart or a leader failover, export the last evaluation's numbers again (from status)."""
    metrics.restore_from_status(body["metadata"]["namespace"], body["metadata"]["name"], body.get("status"))


@kopf.on.event(GROUP, VERSION, PLURAL, id="forget-deleted")
def forget_deleted(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
    """A deleted monitor's series leave /metrics (else its last values would be exported forever)."""
    if event.get("type") == "DELETED":
        metrics.forget_monitor(body["metadata"]["namespace"], body["metadata"]["name"])


@kopf.on.create(GROUP, VERSION, PLURAL, id="run-now", annotations={RUN_NOW_ANNOTATION: kopf.PRESENT})
@kopf.on.update(GROUP, VERSION, PLURAL, id="run-now", annotations={RUN_NOW_ANNOTATION: kopf.PRESENT})
@kopf.on.resume(GROUP, VERSION, PLURAL, id="run-now", annotations={RUN_NOW_ANNOTATION: kopf.PRESENT})
@metrics.instrumented("run-now")
def run_now_requested(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    store: KubeStore = memo.store
    try:
        job_name = run_now(store, body, outbound=memo.channel_settings.outbound)
    except KubeError as error:
        raise kopf.TemporaryError(f"cannot start an evaluation now: {error}", delay=5) from error
    except (HostNotAllowedError, SpecError) as error:  # the monitor's Ready condition says the same
        patch.metadata.annotations[RUN_NOW_ANNOTATION] = None
        reason = error.reason if isinstance(error, HostNotAllowedError) else "InvalidSpec"
        _post_event(body, "Warning", reason, f"run-now refused: {error}")
        return
    patch.metadata.annotations[RUN_NOW_ANNOTATION] = None
    _post_event(body, "Normal", "EvaluationStarted", f"started evaluation job {job_name} (run-now)")


@kopf.on.event("batch", "v1", "jobs", id="evaluation-finished", labels={MONITOR_LABEL: kopf.PRESENT})
@metrics.instrumented("evaluation-finished")
def evaluation_finished(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if not needs_processing(body):
        return
    started = datetime.now(UTC)
    try:
        record = process_finished_job(memo.store, body, after_status=report_evaluation,
                                      outbound=memo.channel_settings.outbound)
    except Conflict as error:
        log.warning("%s", error)
        return
    if record is not None:
        metrics.STATUS_LATENCY_SECONDS.observe((datetime.now(UTC) - started).total_seconds())
        metrics.observe_completion_lag(body)
        act_on_evaluation(memo, body["metadata"]["namespace"], record)


def act_on_evaluation(memo: kopf.Memo, namespace: str, record: EvaluationRecord) -> None:
    """After an evaluation is in status: deliver the alerts it queued, then roll back if the policy says so."""
    if record.deliveries:
        alerting.deliver(memo.store, namespace, record.monitor, record.deliveries, memo.channel_settings,
                         _post_event, _count_delivery,
                         claim_seconds=memo.operator_settings.delivery_claim_seconds)
    if record.recorded and registry.has_registry(record.monitor_body):
        # The evaluation as an MLflow run of the version it measured (no-op without spec.model.registry).
        registry.log_evaluation_run(memo.store, namespace, record.monitor, record.summary,
                                    outbound=memo.channel_settings.outbound)
    if record.recorded and record.summary.get("outcome") == "evaluated" and rollbacks.enabled(record.monitor_body):
        _roll_back_if_needed(memo, namespace, record.monitor, record.summary)
    if record.recorded and record.summary.get("outcome") == "evaluated" and promotion_enabled(record.monitor_body):
        _promote_if_needed(memo, namespace, record.monitor)


@kopf.on.create(GROUP, VERSION, PLURAL, id="approve-rollback", annotations={APPROVE_ANNOTATION: kopf.PRESENT})
@kopf.on.update(GROUP, VERSION, PLURAL, id="approve-rollback", annotations={APPROVE_ANNOTATION: kopf.PRESENT})
@kopf.on.resume(GROUP, VERSION, PLURAL, id="approve-rollback", annotations={APPROVE_ANNOTATION: kopf.PRESENT})
@metrics.instrumented("approve-rollback")
def rollback_approved(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A person approved a proposed rollback (Manual mode) by naming the version in the annotation."""
    _roll_back_if_needed(memo, body["metadata"]["namespace"], body["metadata"]["name"], None)


@kopf.on.create(GROUP, VERSION, PLURAL, id="approve-promotion",
                annotations={APPROVE_PROMOTION_ANNOTATION: kopf.PRESENT})
@kopf.on.update(GROUP, VERSION, PLURAL, id="approve-promotion",
                annotations={APPROVE_PROMOTION_ANNOTATION: kopf.PRESENT})
@kopf.on.resume(GROUP, VERSION, PLURAL, id="approve-promotion",
                annotations={APPROVE_PROMOTION_ANNOTATION: kopf.PRESENT})
@metrics.instrumented("approve-promotion")
def promotion_approved(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A person approved a proposed promotion (Manual mode) by naming the challenger's version."""
    _promote_if_needed(memo, body["metadata"]["namespace"], body["metadata"]["name"])


def _promote_if_needed(memo: kopf.Memo, namespace: str, name: str) -> None:
    outcome = promote_if_better(memo.store, namespace, name, _post_event)
    if outcome is not None and outcome.deliveries:
        alerting.deliver(memo.store, namespace, name, outcome.deliveries, memo.channel_settings, _post_event,
                         _count_delivery, claim_seconds=memo.operator_settings.delivery_claim_seconds)


def _roll_back_if_needed(memo: kopf.Memo, namespace: str, name: str, summary: Any) -> None:
    outcome = rollbacks.after_evaluation(memo.store, memo.store.api_client, namespace, name, summary, _post_event,
                                         outbound=memo.channel_settings.outbound)
    if outcome is not None and outcome.deliveries:
        alerting.deliver(memo.store, namespace, name, outcome.deliveries, memo.channel_settings, _post_event,
                         _count_delivery, claim_seconds=memo.operator_settings.delivery_claim_seconds)


@kopf.on.event(GROUP, VERSION, PLURAL, id="pending-alerts")
async def track_pending_alerts(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep `memo.pending_alerts` (the retry loop's work list): the monitors with queued alerts, each with its
    latest body.

    Not a kopf timer: with any timer or daemon on ModelMonitors, kopf keeps every monitor's latest body in
    memory for as long as the operator runs (about 22 KB each in the load bench, more with a long history).
    Not a kopf index either: kopf holds every object's worker until all objects are indexed, which never
    happens once the workers are limited (`worker_limit`) below the number of monitors. Async: it runs on
    kopf's event loop (where the retry loop reads it), not in a thread."""
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    if event.get("type") != "DELETED" and alerting.has_pending(body.get("status")):
        memo.pending_alerts[key] = dict(body)
    else:
        memo.pending_alerts.pop(key, None)


@kopf.on.startup(id="alert-retries")
async def start_alert_retries(memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any) -> None:
    # Before any object is seen (kopf watches once every startup handler succeeded), so that every object's
    # memo, a shallow copy of this one, shares the dict.
    memo.pending_alerts = {}
    memo.alert_retry_task = asyncio.get_running_loop().create_task(
        retry_alerts_forever(memo, memo.pending_alerts, settings.execution.executor))


@kopf.on.cleanup(id="stop-alert-retries")
async def stop_alert_retries(memo: kopf.Memo, **_: Any) -> None:
    task = memo.get("alert_retry_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def retry_alerts_forever(memo: kopf.Memo, pending: Mapping[tuple[str, str], Mapping[str, Any]],
                               executor: Executor, first_delay: float = 5.0) -> None:
    """Every ALERT_RETRY_SECONDS, each monitor with queued alerts gets its due retries sent in a thread of
    kopf's executor. `pending` is read on the event loop, where `track_pending_alerts` updates it."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(first_delay)
    while True:
        monitors = list(pending.values())
        for monitor in monitors:
            try:
                await loop.run_in_executor(executor, alert_retries, monitor, memo)
            except Exception:  # one monitor's failure must not stop the retries of the others
                log.exception("alert retries of %s/%s failed", monitor["metadata"]["namespace"],
                              monitor["metadata"]["name"])
        await asyncio.sleep(ALERT_RETRY_SECONDS)


@metrics.instrumented("alert-retries")
def alert_retries(body: Mapping[str, Any], memo: kopf.Memo) -> None:
    """Queued alerts whose delivery failed (or was interrupted by a restart) are retried when due."""
    alerting.retry_due(memo.store, body, memo.channel_settings, _post_event, _count_delivery,
                       claim_seconds=memo.operator_settings.delivery_claim_seconds)


_store: KubeStore | None = None  # set at startup: events are posted through our own API edge


def _post_event(monitor: Any, type_: str, reason: str, message: str) -> None:
    if _store is not None:
        _store.post_event(monitor, type_, reason, message)


def _count_delivery(namespace: str, monitor: str, channel: str, outcome: str) -> None:
    metrics.ALERTS.labels(namespace, monitor, channel, outcome).inc()


def report_evaluation(record: EvaluationRecord) -> None:
    """Events and metrics for one recorded evaluation (also used for sharded runs)."""
    summary, monitor = record.summary, cast(Any, record.monitor_body)
    namespace = monitor["metadata"]["namespace"]
    if not record.recorded:
        return
    metrics.observe_evaluation(namespace, record.monitor, summary)
    for warning in record.warnings:
        _post_event(monitor, "Warning", "InvalidSilence", warning)
    verdict = summary.get("verdict")
    if summary.get("outcome") != "evaluated":
        error = summary.get("error") or {}
        kopf.warn(monitor, reason="EvaluationFailed",
                  message=f"evaluation {record.evaluation_id} failed: {error.get('reason')}: {error.get('message')}")
        return
    decision_change = comparison_event(monitor.get("status"), record.status_patch)
    if decision_change is not None:  # spec.challenger's decision changed (or its versions did)
        _post_event(monitor, *decision_change)
    violations = summary.get("violations") or []
    message = f"evaluation {record.evaluation_id}: {verdict}"
    if violations:
        message += "; " + "; ".join(str(v.get("reason") or v.get("rule")) for v in violations[:5])
    if verdict in ("warning", "critical"):
        _post_event(monitor, "Warning", "ThresholdViolated", message)
    else:
        _post_event(monitor, "Normal", "Evaluated", message)
