"""Keeping a monitor's owned objects — its ConfigMap and CronJob — as its spec says, and run-now.

The evaluation pods the operator starts for a tenant read ``spec.data.store.endpoint``: a URL the tenant chose,
reached from the cluster's network with the evaluator's identity. Like every other destination a tenant
configures, it must be on the operator's outbound allow-list (kind ``s3``; deny by default, so an endpoint at
the cloud metadata address, the API server or a cluster service is refused). An empty endpoint is the AWS S3
service itself, which the SDK chooses, not the tenant. A refused endpoint leaves the monitor not Ready with
the reason, its CronJob suspended (so nothing declared earlier keeps running in place of the refused spec),
and run-now refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from modelmonitor.alerts.errors import HostNotAllowedError
from modelmonitor.alerts.outbound import OutboundPolicy
from modelmonitor.api.errors import SpecError
from modelmonitor.api.model import MonitorSpec
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
ENDPOINT_FIELD = "spec.data.store.endpoint"
#: A name that did not resolve may resolve later; a refused destination stays refused until the allow-list or
#: the spec changes (either one reconciles again: an operator restart resumes every monitor).
UNRESOLVED_RETRY_SECONDS = 60.0


def check_store_endpoint(spec: MonitorSpec, outbound: OutboundPolicy | None) -> None:
    """Raise ``HostNotAllowedError`` (its ``reason`` for the condition) unless the evaluator may reach the spec's
    S3 endpoint.

    ``outbound`` None: not checked (library callers; the operator always passes its policy).
    """
    endpoint = spec.data.store.endpoint
    if outbound is not None and endpoint:
        outbound.check_url("s3", endpoint, channel=ENDPOINT_FIELD)


@dataclass(frozen=True)
class ReconcileResult:
    status: dict[str, Any]
    ready: bool
    retry_after: float | None = None  # seconds; set when something outside the spec must change first


def reconcile_monitor(store: KubeStore, monitor: Mapping[str, Any], settings: OperatorSettings,
                      now: datetime | None = None, *, outbound: OutboundPolicy | None = None) -> ReconcileResult:
    now = now or datetime.now(UTC)
    namespace = monitor["metadata"]["namespace"]
    generation = monitor["metadata"].get("generation")
    status = monitor.get("status") or {}
    try:
        spec = parse_spec(monitor.get("spec") or {})
    except SpecError as error:
        return ReconcileResult(configured_status(status, generation, False, "InvalidSpec", str(error), now), False)
    # One read per Secret the spec names (key names only): whether it exists, and for the S3 credentials which
    # naming convention its keys follow.
    references = secret_references(spec)
    secret_keys = {name: store.secret_keys(namespace, name) for name in {name for _, name in references}}
    missing = [(path, name) for path, name in references if secret_keys[name] is None]
    if missing:
        message = "; ".join(f"{path}: Secret {namespace}/{name} does not exist" for path, name in missing)
        return ReconcileResult(configured_status(status, generation, False, "SecretNotFound", message, now),
                               False, retry_after=30)
    refusal: HostNotAllowedError | None = None
    try:
        check_store_endpoint(spec, outbound)
    except HostNotAllowedError as error:
        refusal = error
        spec = replace(spec, suspend=True)  # the owned objects follow the spec, and nothing runs
    credential_keys = None
    if spec.data.store.credentials_secret:  # only the key names are used: which naming convention it follows
        credential_keys = choose_credential_keys(secret_keys.get(spec.data.store.credentials_secret) or [])
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
    if refusal is not None:
        retry = UNRESOLVED_RETRY_SECONDS if refusal.reason == "DestinationUnresolved" else None
        return ReconcileResult(configured_status(status, generation, False, refusal.reason, refusal.message, now),
                               False, retry_after=retry)
    message = "evaluations are suspended" if spec.suspend else f"evaluations scheduled at '{spec.schedule}'"
    return ReconcileResult(configured_status(status, generation, True, "Scheduled", message, now), True)


def run_now(store: KubeStore, monitor: Mapping[str, Any], now: datetime | None = None, *,
            outbound: OutboundPolicy | None = None) -> str:
    """Start one evaluation now: a Job from the monitor's CronJob template. Returns the Job's name.

    Raises ``SpecError`` or ``HostNotAllowedError`` when the spec may not run (nothing is started).
    """
    now = now or datetime.now(UTC)
    check_store_endpoint(parse_spec(monitor.get("spec") or {}), outbound)
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    cron_job = store.read_cron_job(namespace, cron_job_name(name))
    job_name = run_now_job_name(name, now)
    store.create_job(build_job_from_cron_job(cron_job, job_name, monitor))
    return job_name
