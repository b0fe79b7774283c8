"""Keeping a monitor's owned objects — its ConfigMap and CronJob — as its spec says, and run-now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelmonitor.api.errors import SpecError
from modelmonitor.api.parsing import parse_spec
from modelmonitor.api.secrets import secret_references
from modelmonitor.controller.settings import OperatorSettings
from modelmonitor.kube.errors import KubeError
from modelmonitor.kube.store import KubeStore
from modelmonitor.manifests import (
    build_config_map,
    build_cron_job,
    build_job_from_cron_job,
    choose_credential_keys,
    cron_job_name,
    run_now_job_name,
)
from modelmonitor.reconcile.status import configured_status

RUN_NOW_ANNOTATION = "modelmonitor.io/run-now"


@dataclass(frozen=True)
class ReconcileResult:
    status: dict[str, Any]
    ready: bool
    retry_after: float | None = None  # seconds; set when something outside the spec must change first


def reconcile_monitor(store: KubeStore, monitor: Mapping[str, Any], settings: OperatorSettings,
                      now: datetime | None = None) -> ReconcileResult:
    now = now or datetime.now(UTC)
    namespace = monitor["metadata"]["namespace"]
    generation = monitor["metadata"].get("generation")
    status = monitor.get("status") or {}
    try:
        spec = parse_spec(monitor.get("spec") or {})
    except SpecError as error:
        return ReconcileResult(configured_status(status, generation, False, "InvalidSpec", str(error), now), False)
    missing = [(path, name) for path, name in secret_references(spec) if not store.secret_exists(namespace, name)]
    if missing:
        message = "; ".join(f"{path}: Secret {namespace}/{name} does not exist" for path, name in missing)
        return ReconcileResult(configured_status(status, generation, False, "SecretNotFound", message, now),
                               False, retry_after=30)
    credential_keys = None
    if spec.data.store.credentials_secret:  # only the key names are used: which naming convention it follows
        credential_keys = choose_credential_keys(store.read_secret(namespace, spec.data.store.credentials_secret))
    try:
        store.apply(build_config_map(dict(monitor), spec))
        store.apply(build_cron_job(dict(monitor), spec, settings.evaluator_image, credential_keys=credential_keys,
                                   service_account=settings.evaluator_service_account))
    except KubeError as error:
        if error.status != 422:
            raise
        # The spec passed the CRD but an object built from it did not (e.g. a schedule the CronJob refuses):
        # a condition naming the field, not a handler failing on every retry.
        return ReconcileResult(configured_status(status, generation, False, "Rejected",
                                                 f"the API server refused an object built from this spec: {error}",
                                                 now), False)
    message = "evaluations are suspended" if spec.suspend else f"evaluations scheduled at '{spec.schedule}'"
    return ReconcileResult(configured_status(status, generation, True, "Scheduled", message, now), True)


def run_now(store: KubeStore, monitor: Mapping[str, Any], now: datetime | None = None) -> str:
    """Start one evaluation now: a Job from the monitor's CronJob template. Returns the Job's name."""
    now = now or datetime.now(UTC)
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    cron_job = store.read_cron_job(namespace, cron_job_name(name))
    job_name = run_now_job_name(name, now)
    store.create_job(build_job_from_cron_job(cron_job, job_name, monitor))
    return job_name
