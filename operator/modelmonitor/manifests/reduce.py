"""The reduce Job of a sharded run: built from the finished Indexed Job, so both run the same pod.

The reduce pod is the shards' pod (image, config mount, credentials, lock-down, resources) with another
command, ``modelmonitor reduce --run-id <shards Job>``, and with the run id fixed to the Indexed Job's name,
so the evaluation it writes has the run's id, and its partials are found where the shards wrote them. It
is owned by the monitor (not by the Indexed Job, which the CronJob's history limit may delete first), and
its name is derived from the Indexed Job's, so creating it twice is a 409, never a second reduce.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

from modelmonitor.manifests.config_map import CONFIG_FILE
from modelmonitor.manifests.evaluation import CONTAINER_NAME, RUN_ID_ENV
from modelmonitor.manifests.metadata import (
    MONITOR_LABEL,
    REDUCE_ROLE,
    ROLE_LABEL,
    TRIGGER_LABEL,
    ManifestError,
    object_metadata,
)

__all__ = ["REDUCE_COMMAND", "SHARDS_JOB_ANNOTATION", "build_reduce_job", "reduce_job_name"]

REDUCE_COMMAND = ["modelmonitor", "reduce", "--config", CONFIG_FILE]
#: On the reduce Job: the Indexed Job whose partial results it merges.
SHARDS_JOB_ANNOTATION = "modelmonitor.io/shards-job"
_SHARD_ENV = frozenset({"MODELMONITOR_SHARD_INDEX", "MODELMONITOR_SHARD_COUNT"})
_MAX_JOB_NAME = 63  # the pods' job-name label is a label value
_SUFFIX = "-reduce"
#: Labels and annotations the Job controller adds to a Job's template; a new Job must not inherit them.
_CONTROLLER_KEYS = ("controller-uid", "job-name", "batch.kubernetes.io/")


def reduce_job_name(shards_job_name: str) -> str:
    """``<shards Job>-reduce``; a name that would exceed 63 characters keeps a digest of the whole instead."""
    name = f"{shards_job_name}{_SUFFIX}"
    if len(name) <= _MAX_JOB_NAME:
        return name
    digest = hashlib.sha256(shards_job_name.encode("utf-8")).hexdigest()[:8]
    keep = _MAX_JOB_NAME - len(_SUFFIX) - len(digest) - 1
    return f"{shards_job_name[:keep].rstrip('-')}-{digest}{_SUFFIX}"


def _without_controller_keys(values: Mapping[str, str] | None) -> dict[str, str]:
    return {key: value for key, value in (values or {}).items() if not key.startswith(_CONTROLLER_KEYS)}


def _reduce_container(container: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    reduced = copy.deepcopy(dict(container))
    reduced["command"] = [*REDUCE_COMMAND, "--run-id", run_id]
    reduced.pop("args", None)
    env = [item for item in reduced.get("env") or [] if item.get("name") not in _SHARD_ENV | {RUN_ID_ENV}]
    reduced["env"] = [{"name": RUN_ID_ENV, "value": run_id}, *env]
    return reduced


def build_reduce_job(shards_job: Mapping[str, Any], monitor: Mapping[str, Any]) -> dict[str, Any]:
    """The Job that merges the partial results of the finished Indexed Job ``shards_job``."""
    try:
        shards_name = str(shards_job["metadata"]["name"])
        shards_spec = shards_job["spec"]
        template = shards_spec["template"]
        containers = template["spec"]["containers"]
    except (KeyError, TypeError):
        raise ManifestError("shards_job must have metadata.name and spec.template.spec.containers") from None
    if not any(container.get("name") == CONTAINER_NAME for container in containers):
        raise ManifestError(f"shards_job {shards_name} has no {CONTAINER_NAME!r} container to reduce with")
    pod_spec = copy.deepcopy(dict(template["spec"]))
    pod_spec["containers"] = [
        _reduce_container(container, shards_name) if container.get("name") == CONTAINER_NAME
        else copy.deepcopy(dict(container))
        for container in containers
    ]
    pod_metadata: dict[str, Any] = {"labels": _without_controller_keys(template.get("metadata", {}).get("labels"))}
    pod_annotations = _without_controller_keys(template.get("metadata", {}).get("annotations"))
    if pod_annotations:
        pod_metadata["annotations"] = pod_annotations
    shards_labels = shards_job["metadata"].get("labels") or {}
    labels = {ROLE_LABEL: REDUCE_ROLE}
    if TRIGGER_LABEL in shards_labels:
        labels[TRIGGER_LABEL] = shards_labels[TRIGGER_LABEL]
    metadata = object_metadata(monitor, reduce_job_name(shards_name), labels)
    if shards_labels.get(MONITOR_LABEL) not in (None, metadata["labels"][MONITOR_LABEL]):
        raise ManifestError(f"shards_job {shards_name} belongs to monitor {shards_labels[MONITOR_LABEL]!r}")
    metadata["annotations"] = {SHARDS_JOB_ANNOTATION: shards_name}
    spec: dict[str, Any] = {
        "backoffLimit": int(shards_spec.get("backoffLimitPerIndex", shards_spec.get("backoffLimit", 2)) or 0),
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }
    for field in ("activeDeadlineSeconds", "podFailurePolicy", "ttlSecondsAfterFinished"):
        if field in shards_spec:
            spec[field] = copy.deepcopy(shards_spec[field])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}
