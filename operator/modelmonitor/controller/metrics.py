"""Prometheus metrics of the operator: per monitor, the last evaluation's numbers; for the operator itself, how
fast and how busy it is.

Load metrics, and why they are measured this way:
- kopf has no public event queue. What we can see is (a) handler invocations running now, per handler, and sync
  handler calls waiting for a thread of kopf's executor; (b) the lag from a Job's completion (its Complete /
  Failed condition, as the Job controller stamped it) to its monitor's status written: this includes every wait
  inside kopf (per-object workers beyond `worker_limit` wait in kopf's scheduler), so it is the queue seen from
  outside. The API server stamps times in whole seconds, so that lag has a resolution of 1 s.
- API requests are counted per handler, verb and kind of object as the operator's own code makes them (the
  `KubeStore` edge); kopf's own requests (watches, finalizer and progress patches) are not in it.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prometheus_client import Counter, Gauge, Histogram

from modelmonitor.controller import fencing

METRIC_VALUE = Gauge("modelmonitor_metric_value", "Last value of a quality metric",
                     ["namespace", "monitor", "metric"])
SEGMENT_METRIC_VALUE = Gauge(
    "modelmonitor_segment_metric_value",
    "Last value of a quality metric in a segment (the summary's largest segments only, so bounded)",
    ["namespace", "monitor", "segment", "metric"])
DRIFT_SHARE = Gauge("modelmonitor_drift_share", "Share of drifted features in the last evaluation",
                    ["namespace", "monitor"])
DRIFTED_FEATURES = Gauge("modelmonitor_drifted_features", "Drifted features in the last evaluation",
                         ["namespace", "monitor"])
EVALUATIONS = Counter("modelmonitor_evaluations", "Evaluations processed, by verdict and outcome",
                      ["namespace", "monitor", "verdict", "outcome"])
EVALUATION_SECONDS = Gauge("modelmonitor_evaluation_duration_seconds", "Duration of the last evaluation",
                           ["namespace", "monitor"])
ALERTS = Counter("modelmonitor_alerts", "Alert deliveries by channel and outcome",
                 ["namespace", "monitor", "channel", "outcome"])

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
RECONCILE_SECONDS = Histogram("modelmonitor_reconcile_seconds", "Time spent in a handler, by handler id",
                              ["handler"], buckets=_LATENCY_BUCKETS)
HANDLERS_IN_FLIGHT = Gauge("modelmonitor_handlers_in_flight", "Handler invocations running now, by handler id",
                           ["handler"])
EXECUTOR_QUEUE = Gauge("modelmonitor_executor_queue_depth",
                       "Sync handler calls waiting for a thread of kopf's executor")
STATUS_LATENCY_SECONDS = Histogram(
    "modelmonitor_job_to_status_seconds", "From seeing a finished Job to its monitor's status being written",
    buckets=_LATENCY_BUCKETS)
COMPLETION_LAG_SECONDS = Histogram(
    "modelmonitor_job_completion_to_status_seconds",
    "From a Job's completion (condition time, 1 s resolution) to its monitor's status being written",
    buckets=(0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300))
API_REQUESTS = Counter("modelmonitor_kube_api_requests",
                       "Kubernetes API requests made by the operator's code, by handler, verb and kind",
                       ["handler", "verb", "kind"])

_current_handler: contextvars.ContextVar[str] = contextvars.ContextVar("modelmonitor_handler", default="none")
F = TypeVar("F", bound=Callable[..., Any])


def instrumented(handler: str) -> Callable[[F], F]:
    """Time a (sync) handler, count it in flight, and attribute its API requests to it. First of all, a replica
    that is no longer sure to lead exits instead of running the handler (controller/fencing.py)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            fencing.ensure_leader()
            in_flight = HANDLERS_IN_FLIGHT.labels(handler)
            in_flight.inc()
            token = _current_handler.set(handler)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                RECONCILE_SECONDS.labels(handler).observe(time.perf_counter() - started)
                _current_handler.reset(token)
                in_flight.dec()

        return cast(F, wrapper)

    return decorate


def count_api_request(verb: str, kind: str) -> None:
    """The `KubeStore` request observer."""
    API_REQUESTS.labels(_current_handler.get(), verb, kind).inc()


def watch_executor(executor: Executor) -> None:
    """Report the queue of kopf's thread pool (a ThreadPoolExecutor keeps its waiting calls in `_work_queue`)."""
    queue = getattr(executor, "_work_queue", None)
    if queue is not None:
        EXECUTOR_QUEUE.set_function(queue.qsize)


def observe_completion_lag(job: Mapping[str, Any], now: datetime | None = None) -> None:
    """Seconds from the Job's finishing condition to now (called once its monitor's status is written)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            stamp = condition.get("lastTransitionTime")
            try:
                finished = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                return
            COMPLETION_LAG_SECONDS.observe(max(0.0, ((now or datetime.now(UTC)) - finished).total_seconds()))
            return


def observe_evaluation(namespace: str, monitor: str, summary: Mapping[str, Any]) -> None:
    set_last_evaluation(namespace, monitor, summary)
    EVALUATIONS.labels(namespace, monitor, str(summary.get("verdict")), str(summary.get("outcome"))).inc()


def set_last_evaluation(namespace: str, monitor: str, evaluation: Mapping[str, Any]) -> None:
    """The per-monitor gauges from an evaluation: the summary just processed, or `status.lastEvaluation`."""
    for name, value in (evaluation.get("metrics") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            METRIC_VALUE.labels(namespace, monitor, name).set(value)
    _set_segments(namespace, monitor, evaluation.get("segments"))
    drift = evaluation.get("drift") or {}
    if isinstance(drift.get("share"), int | float):
        DRIFT_SHARE.labels(namespace, monitor).set(drift["share"])
    if isinstance(drift.get("drifted"), int):
        DRIFTED_FEATURES.labels(namespace, monitor).set(drift["drifted"])
    try:
        started = datetime.fromisoformat(str(evaluation["startedAt"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(evaluation["finishedAt"]).replace("Z", "+00:00"))
        EVALUATION_SECONDS.labels(namespace, monitor).set((finished - started).total_seconds())
    except (KeyError, ValueError):
        pass


#: The segment series each monitor exports now, so an evaluation replaces its own without scanning every
#: monitor's (5,000 monitors with their top segments and metrics: ~100k samples collected per evaluation).
_SEGMENT_SERIES: dict[tuple[str, str], set[tuple[str, str]]] = {}
_SEGMENT_SERIES_LOCK = threading.Lock()


def _set_segments(namespace: str, monitor: str, segments: Any) -> None:
    """One series per segment of the summary's bounded `segments.top` and metric; the monitor's earlier
    segment series that are not set again are removed, so a segment that left the top stops being exported."""
    values: dict[tuple[str, str], float] = {}
    for entry in (segments or {}).get("top") or [] if isinstance(segments, Mapping) else []:
        for name, value in (entry.get("metrics") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[(str(entry.get("segment")), name)] = value
    with _SEGMENT_SERIES_LOCK:
        for segment, metric in _SEGMENT_SERIES.pop((namespace, monitor), set()) - values.keys():
            SEGMENT_METRIC_VALUE.remove(namespace, monitor, segment, metric)
        for (segment, metric), value in values.items():
            SEGMENT_METRIC_VALUE.labels(namespace, monitor, segment, metric).set(value)
        if values:
            _SEGMENT_SERIES[(namespace, monitor)] = set(values)


def restore_from_status(namespace: str, monitor: str, status: Mapping[str, Any] | None) -> bool:
    """After a restart or a leader failover the gauges start empty: set them again from the monitor's status
    (the API server is the operator's only memory). Counters restart from zero, as Prometheus expects of a new
    process. Returns whether there was an evaluation to restore."""
    last = (status or {}).get("lastEvaluation")
    if not isinstance(last, Mapping) or last.get("outcome", "evaluated") != "evaluated":
        return False
    set_last_evaluation(namespace, monitor, last)
    return True


# Each per-monitor metric with its label names, in the order `remove` takes their values.
PER_MONITOR: tuple[tuple[Gauge | Counter, tuple[str, ...]], ...] = (
    (METRIC_VALUE, ("namespace", "monitor", "metric")),
    (SEGMENT_METRIC_VALUE, ("namespace", "monitor", "segment", "metric")),
    (DRIFT_SHARE, ("namespace", "monitor")),
    (DRIFTED_FEATURES, ("namespace", "monitor")),
    (EVALUATIONS, ("namespace", "monitor", "verdict", "outcome")),
    (EVALUATION_SECONDS, ("namespace", "monitor")),
    (ALERTS, ("namespace", "monitor", "channel", "outcome")),
)


def forget_monitor(namespace: str, monitor: str) -> int:
    """Remove every series of a deleted monitor (else its last values are exported forever); returns how many."""
    removed = 0
    with _SEGMENT_SERIES_LOCK:
        _SEGMENT_SERIES.pop((namespace, monitor), None)
    for metric, names in PER_MONITOR:
        label_sets = {tuple(sample.labels.get(name, "") for name in names)
                      for family in metric.collect() for sample in family.samples
                      if sample.labels.get("namespace") == namespace and sample.labels.get("monitor") == monitor}
        for labels in label_sets:
            metric.remove(*labels)
            removed += 1
    return removed
