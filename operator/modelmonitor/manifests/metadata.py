"""Names, labels and owner references shared by every object built for a monitor.

Owner references make the API server's garbage collector delete a monitor's CronJob, ConfigMap and Jobs with
it; the labels let the operator watch only its own Jobs (``modelmonitor.io/monitor``) and let people find them.
Names are derived from the monitor's name, which the CRD limits so that every derived name fits its limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelmonitor.api import API_VERSION, KIND, MAX_MONITOR_NAME_LENGTH

__all__ = [
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "MONITOR_LABEL",
    "REDUCE_ROLE",
    "ROLE_LABEL",
    "RUN_NOW_ANNOTATION",
    "SHARDS_ROLE",
    "TRIGGER_LABEL",
    "ManifestError",
    "config_map_name",
    "cron_job_name",
    "monitor_metadata_field",
    "object_metadata",
    "owner_reference",
    "run_now_job_name",
    "selector_labels",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "modelmonitor-operator"
MONITOR_LABEL = "modelmonitor.io/monitor"
#: ``schedule`` on Jobs the CronJob starts, ``run-now`` on Jobs started through the annotation.
TRIGGER_LABEL = "modelmonitor.io/trigger"
RUN_NOW_ANNOTATION = "modelmonitor.io/run-now"
#: On the Jobs of a sharded run: ``shards`` on the Indexed Job (partial results only), ``reduce`` on the Job
#: that merges them and writes the evaluation's summary.
ROLE_LABEL = "modelmonitor.io/role"
SHARDS_ROLE = "shards"
REDUCE_ROLE = "reduce"


class ManifestError(ValueError):
    """The monitor object lacks what a builder needs (e.g. ``metadata.uid``); the message names it."""


def monitor_metadata_field(monitor: Mapping[str, Any], field: str) -> str:
    value = monitor.get("metadata", {}).get(field)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"monitor metadata.{field} must be set to build its objects")
    return value


def _monitor_name(monitor: Mapping[str, Any]) -> str:
    name = monitor_metadata_field(monitor, "name")
    if len(name) > MAX_MONITOR_NAME_LENGTH:
        raise ManifestError(f"monitor metadata.name must be at most {MAX_MONITOR_NAME_LENGTH} characters: {name!r}")
    return name


def config_map_name(monitor_name: str) -> str:
    return f"{monitor_name}-config"


def cron_job_name(monitor_name: str) -> str:
    """At most 52 characters (the CronJob limit) for names the CRD allows."""
    return f"{monitor_name}-eval"


def run_now_job_name(monitor_name: str, now: datetime) -> str:
    """``<monitor>-now-<unix seconds>``: at most 63 characters, the limit of the pods' ``job-name`` label."""
    return f"{monitor_name}-now-{int(now.timestamp())}"


def selector_labels(monitor_name: str) -> dict[str, str]:
    """Labels on every object built for the monitor; select the monitor's Jobs and pods with them."""
    return {MANAGED_BY_LABEL: MANAGED_BY, MONITOR_LABEL: monitor_name}


def owner_reference(monitor: Mapping[str, Any]) -> dict[str, Any]:
    """The monitor as the controlling owner: deleting it deletes the object (blockOwnerDeletion for foreground)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": _monitor_name(monitor),
        "uid": monitor_metadata_field(monitor, "uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_metadata(
    monitor: Mapping[str, Any], name: str, extra_labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Metadata of an object owned by the monitor, in its namespace."""
    monitor_name = _monitor_name(monitor)
    return {
        "name": name,
        "namespace": monitor_metadata_field(monitor, "namespace"),
        "labels": {**selector_labels(monitor_name), **(extra_labels or {})},
        "ownerReferences": [owner_reference(monitor)],
    }
