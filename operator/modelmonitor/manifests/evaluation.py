"""The evaluation workload: the pod template, the owned CronJob, and run-now Jobs made from it.

Kubernetes does the scheduling (CronJob), the retries (``backoffLimit``) and the time limits
(``activeDeadlineSeconds``); the operator only builds these objects and reads the finished Jobs.

The pod is locked down (non-root, read-only root filesystem with a writable ``/tmp``, no privilege escalation,
no capabilities, seccomp RuntimeDefault, no Kubernetes API token: the evaluator needs no API access) and gets
credentials only as ``secretKeyRef`` environment variables. Exit codes 2 (configuration) and 3 (data) fail the
Job at once through a pod failure policy: retrying cannot fix them, while storage errors (4) may be transient.

``spec.evaluation.shards > 1`` makes the Job Indexed: one pod per shard with a per-index retry budget; each
pod learns its shard from ``MODELMONITOR_SHARD_INDEX`` / ``MODELMONITOR_SHARD_COUNT``, and the Job is labelled
``modelmonitor.io/role: shards``; when it completes, the operator starts the reduce Job (``manifests.reduce``).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from modelmonitor.api import MonitorSpec
from modelmonitor.api.model import DEFAULT_EVALUATOR_SERVICE_ACCOUNT
from modelmonitor.manifests.config_map import CONFIG_FILE, CONFIG_MOUNT_PATH
from modelmonitor.manifests.metadata import (
    ROLE_LABEL,
    SHARDS_ROLE,
    TRIGGER_LABEL,
    ManifestError,
    config_map_name,
    cron_job_name,
    monitor_metadata_field,
    object_metadata,
    owner_reference,
    selector_labels,
)

__all__ = [
    "CONTAINER_NAME",
    "EVALUATOR_COMMAND",
    "RUN_ID_ENV",
    "S3CredentialKeys",
    "build_cron_job",
    "build_job_from_cron_job",
    "build_pod_template",
    "choose_credential_keys",
]

CONTAINER_NAME = "evaluator"
EVALUATOR_COMMAND = ["modelmonitor", "evaluate", "--config", CONFIG_FILE]
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
RUN_ID_ENV = "MODELMONITOR_RUN_ID"
#: The evaluator image's unprivileged user (any non-zero id works: the image needs no home of its own).
RUN_AS_USER = 10001
HISTORY_LIMIT = 3
#: A scheduled run that could not start within this long (operator or control plane down) is skipped.
STARTING_DEADLINE_SECONDS = 300
_NOT_RETRIED_EXIT_CODES = [2, 3]  # configuration error, data error (docs/contracts.md §3)


@dataclass(frozen=True)
class S3CredentialKeys:
    """Which keys of ``spec.data.store.credentialsSecret`` hold the credentials (contract: two spellings)."""

    access_key_id: str = "AWS_ACCESS_KEY_ID"
    secret_access_key: str = "AWS_SECRET_ACCESS_KEY"
    session_token: str = "AWS_SESSION_TOKEN"


def choose_credential_keys(secret_keys: Collection[str]) -> S3CredentialKeys:
    """The spelling the Secret uses, from its key names (the operator reads the names, never the values)."""
    if "AWS_ACCESS_KEY_ID" not in secret_keys and "accessKeyId" in secret_keys:
        return S3CredentialKeys("accessKeyId", "secretAccessKey", "sessionToken")
    return S3CredentialKeys()


def _secret_env(name: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    reference: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        reference["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": reference}}


def _environment(spec: MonitorSpec, credential_keys: S3CredentialKeys) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": RUN_ID_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}},
        {"name": "MODELMONITOR_TERMINATION_LOG", "value": TERMINATION_MESSAGE_PATH},
        # The root filesystem is read-only: libraries that cache in $HOME must use the writable /tmp.
        {"name": "HOME", "value": "/tmp"},
        {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"},
    ]
    store = spec.data.store
    if store.endpoint:
        env.append({"name": "AWS_ENDPOINT_URL_S3", "value": store.endpoint})
    if store.region:
        env.append({"name": "AWS_REGION", "value": store.region})
    if store.credentials_secret:
        secret = store.credentials_secret
        env.append(_secret_env("AWS_ACCESS_KEY_ID", secret, credential_keys.access_key_id))
        env.append(_secret_env("AWS_SECRET_ACCESS_KEY", secret, credential_keys.secret_access_key))
        env.append(_secret_env("AWS_SESSION_TOKEN", secret, credential_keys.session_token, optional=True))
    if spec.evaluation.shards > 1:
        env.append(
            {
                "name": "MODELMONITOR_SHARD_INDEX",
                "valueFrom": {
                    "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
                },
            }
        )
        env.append({"name": "MODELMONITOR_SHARD_COUNT", "value": str(spec.evaluation.shards)})
    return env


def build_pod_template(
    monitor: Mapping[str, Any],
    spec: MonitorSpec,
    image: str,
    *,
    image_pull_policy: str = "IfNotPresent",
    credential_keys: S3CredentialKeys | None = None,
    service_account: str = DEFAULT_EVALUATOR_SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """The evaluation pod template (``image`` is the operator's configured one unless the spec names one).

    ``service_account`` is the operator's ``--evaluator-service-account``, used unless the spec names one.
    """
    monitor_name = monitor_metadata_field(monitor, "name")
    resources = spec.evaluation.resources
    container_resources: dict[str, Any] = {}
    # Quantities as strings: the spec allows `cpu: 2`, typed API clients accept only "2".
    if resources.requests:
        container_resources["requests"] = {name: str(amount) for name, amount in resources.requests.items()}
    if resources.limits:
        container_resources["limits"] = {name: str(amount) for name, amount in resources.limits.items()}
    return {
        "metadata": {"labels": selector_labels(monitor_name)},
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": spec.evaluation.service_account_name or service_account,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "runAsGroup": RUN_AS_USER,
                "fsGroup": RUN_AS_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": CONTAINER_NAME,
                    "image": spec.evaluation.image or image,
                    "imagePullPolicy": image_pull_policy,
                    "command": list(EVALUATOR_COMMAND),
                    "env": _environment(spec, credential_keys or S3CredentialKeys()),
                    "resources": container_resources,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "privileged": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": CONFIG_MOUNT_PATH, "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                    "terminationMessagePath": TERMINATION_MESSAGE_PATH,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": config_map_name(monitor_name)}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
        },
    }


def _job_spec(spec: MonitorSpec, pod_template: dict[str, Any]) -> dict[str, Any]:
    evaluation = spec.evaluation
    job: dict[str, Any] = {
        "activeDeadlineSeconds": int(evaluation.timeout.total_seconds()),
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": CONTAINER_NAME,
                        "operator": "In",
                        "values": list(_NOT_RETRIED_EXIT_CODES),
                    },
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]
        },
        "template": pod_template,
    }
    if evaluation.shards > 1:
        job.update(
            completionMode="Indexed",
            completions=evaluation.shards,
            parallelism=evaluation.parallelism or evaluation.shards,
            backoffLimitPerIndex=evaluation.backoff_limit,
        )
    else:
        job["backoffLimit"] = evaluation.backoff_limit
    return job


def _job_labels(monitor_name: str, spec: MonitorSpec) -> dict[str, str]:
    labels = {**selector_labels(monitor_name), TRIGGER_LABEL: "schedule"}
    if spec.evaluation.shards > 1:
        # The Indexed Job writes partial results only: the operator reduces them instead of reading a summary.
        labels[ROLE_LABEL] = SHARDS_ROLE
    return labels


def build_cron_job(
    monitor: Mapping[str, Any],
    spec: MonitorSpec,
    image: str,
    *,
    image_pull_policy: str = "IfNotPresent",
    credential_keys: S3CredentialKeys | None = None,
    service_account: str = DEFAULT_EVALUATOR_SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """The owned CronJob ``<monitor>-eval`` that runs the evaluator on ``spec.schedule``."""
    monitor_name = monitor_metadata_field(monitor, "name")
    pod_template = build_pod_template(
        monitor,
        spec,
        image,
        image_pull_policy=image_pull_policy,
        credential_keys=credential_keys,
        service_account=service_account,
    )
    cron_spec: dict[str, Any] = {
        "schedule": spec.schedule,
        "suspend": spec.suspend,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
        "successfulJobsHistoryLimit": HISTORY_LIMIT,
        "failedJobsHistoryLimit": HISTORY_LIMIT,
        "jobTemplate": {
            "metadata": {"labels": _job_labels(monitor_name, spec)},
            "spec": _job_spec(spec, pod_template),
        },
    }
    if spec.time_zone:
        cron_spec["timeZone"] = spec.time_zone
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_metadata(monitor, cron_job_name(monitor_name)),
        "spec": cron_spec,
    }


def build_job_from_cron_job(cron_job: Mapping[str, Any], name: str, monitor: Mapping[str, Any]) -> dict[str, Any]:
    """A Job made now from the CronJob's template (what ``kubectl create job --from=cronjob/...`` does).

    It is owned by the monitor rather than by the CronJob, so the CronJob's history limits and concurrency
    policy leave it alone, and it is still deleted with the monitor.
    """
    try:
        template = cron_job["spec"]["jobTemplate"]
    except (KeyError, TypeError):
        raise ManifestError("cron_job spec.jobTemplate must be set to make a run-now Job from it") from None
    labels = {**template.get("metadata", {}).get("labels", {}), TRIGGER_LABEL: "run-now"}
    metadata = object_metadata(monitor, name, labels)
    metadata["annotations"] = {"cronjob.kubernetes.io/instantiate": "manual"}
    metadata["ownerReferences"] = [owner_reference(monitor)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": copy.deepcopy(dict(template["spec"])),
    }
