"""An evaluation as an MLflow run, linked to the model version it measured, logged exactly once.

Teams that keep models in MLflow look there first; so each recorded evaluation becomes a run in one experiment
per monitor (default ``modelmonitor/<namespace>/<monitor>``) with the metrics, the drift share, the verdict and
the report's URI, and the model version gets tags (``modelmonitor.status`` = the verdict, the last evaluation and
its run) so the registry page shows whether the version is healthy.

The link goes both ways through tags because MLflow has no "run evaluates model version" relation: the run
carries ``modelmonitor.model.name`` / ``modelmonitor.model.version`` (searchable), the version carries
``modelmonitor.lastRunId``. Logging is idempotent: the run is tagged with the evaluation's id and looked up by it
before one is created, so an operator that restarts between logging and recording does not log twice.

``build_evaluation_run`` is pure (tested without a server); ``log_evaluation`` makes the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelmonitor.registry.mlflow import MlflowClient, metric_items

__all__ = [
    "EVALUATION_ID_TAG",
    "STATUS_TAG",
    "EvaluationRun",
    "build_evaluation_run",
    "default_experiment",
    "log_evaluation",
]

EVALUATION_ID_TAG = "modelmonitor.evaluationId"
STATUS_TAG = "modelmonitor.status"
MAX_TAG_VALUE = 5000  # MLflow's limit on tag values (8000 on recent servers; stay under the older one)


@dataclass(frozen=True)
class EvaluationRun:
    """What one evaluation logs: the run and the model-version tags."""

    evaluation_id: str
    run_name: str
    start_ms: int
    end_ms: int
    run_tags: Mapping[str, str]
    metrics: Mapping[str, float]
    params: Mapping[str, str]
    version_tags: Mapping[str, str]


def default_experiment(namespace: str, monitor: str) -> str:
    return f"modelmonitor/{namespace}/{monitor}"


def _milliseconds(timestamp: Any, fallback: datetime) -> int:
    moment = fallback
    if isinstance(timestamp, str) and timestamp:
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            moment = fallback
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def build_evaluation_run(summary: Mapping[str, Any], *, namespace: str, monitor: str, model_name: str,
                         version: str, now: datetime) -> EvaluationRun:
    """The run and tags for one evaluation ``summary`` (the evaluator's summary, as recorded in status)."""
    evaluation_id = str(summary.get("runId") or "")
    verdict = str(summary.get("verdict") or "error")
    drift = summary.get("drift") or {}
    metric_values: list[tuple[str, Any]] = [
        (str(name), value) for name, value in (summary.get("metrics") or {}).items()
    ]
    metric_values += [("drift_share", drift.get("share")), ("drifted_features", drift.get("drifted")),
                      ("violations", len(summary.get("violations") or []))]
    rows = summary.get("rows")
    if isinstance(rows, Mapping):  # {"reference": n, "current": n, "labelled": n}
        metric_values += [(f"rows_{name}", value) for name, value in rows.items()]
    violated = sorted({str(item.get("rule")) for item in summary.get("violations") or [] if item.get("rule")})
    run_tags = {
        EVALUATION_ID_TAG: evaluation_id,
        "modelmonitor.monitor": f"{namespace}/{monitor}",
        "modelmonitor.model.name": model_name,
        "modelmonitor.model.version": version,
        "modelmonitor.verdict": verdict,
        "modelmonitor.outcome": str(summary.get("outcome") or "evaluated"),
        "modelmonitor.violatedRules": ",".join(violated)[:MAX_TAG_VALUE],
    }
    for key in ("reportUri", "resultUri"):
        if summary.get(key):
            run_tags[f"modelmonitor.{key}"] = str(summary[key])[:MAX_TAG_VALUE]
    error = summary.get("error") or {}
    if error:
        run_tags["modelmonitor.error"] = f"{error.get('reason')}: {error.get('message')}"[:MAX_TAG_VALUE]
    finished = _milliseconds(summary.get("finishedAt"), now)
    started = min(_milliseconds(summary.get("startedAt"), now), finished)
    return EvaluationRun(
        evaluation_id=evaluation_id,
        run_name=f"{monitor}-{evaluation_id}"[:250],
        start_ms=started,
        end_ms=finished,
        run_tags={key: value for key, value in run_tags.items() if value},
        metrics=metric_items(metric_values),
        params={"model_version": version, "verdict": verdict},
        version_tags={
            STATUS_TAG: verdict,
            "modelmonitor.lastEvaluation": evaluation_id,
            "modelmonitor.lastEvaluatedAt": str(summary.get("finishedAt") or ""),
        },
    )


def log_evaluation(client: MlflowClient, experiment: str, model_name: str, version: str,
                   run: EvaluationRun) -> str:
    """Log ``run`` (once: an existing run with the same evaluation id is reused) and tag the version.

    Returns the MLflow run id. Raises a RegistryError; the caller records it as a condition.
    """
    experiment_id = client.experiment_id(experiment)
    run_id = client.find_run_by_tag(experiment_id, EVALUATION_ID_TAG, run.evaluation_id) if run.evaluation_id else None
    if run_id is None:
        run_id = client.create_run(experiment_id, run.run_name, run.start_ms, run.run_tags)
        # Params are immutable in MLflow; they are only logged with a new run.
        client.log_batch(run_id, run.metrics, run.params, {}, run.end_ms)
        client.finish_run(run_id, run.end_ms, "FINISHED" if run.run_tags.get("modelmonitor.outcome") == "evaluated"
                          else "FAILED")
    for key, value in {**run.version_tags, "modelmonitor.lastRunId": run_id}.items():
        if value:
            client.set_version_tag(model_name, version, key, value)
    return run_id
