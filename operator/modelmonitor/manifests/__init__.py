"""Pure builders of the Kubernetes objects that run evaluations: ConfigMap, CronJob, run-now and reduce Jobs.

They take everything they need as arguments (the monitor object, its typed spec, the evaluator image) and
return plain dicts ready for the API; ``modelmonitor.kube`` sends them. No secret value ever passes through
here: credentials reach the evaluation pod only as ``secretKeyRef`` environment variables.
"""

from modelmonitor.manifests.config_map import CONFIG_FILE, CONFIG_KEY, CONFIG_MOUNT_PATH, build_config, build_config_map
from modelmonitor.manifests.evaluation import (
    CONTAINER_NAME,
    EVALUATOR_COMMAND,
    S3CredentialKeys,
    build_cron_job,
    build_job_from_cron_job,
    build_pod_template,
    choose_credential_keys,
)
from modelmonitor.manifests.metadata import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MONITOR_LABEL,
    REDUCE_ROLE,
    ROLE_LABEL,
    RUN_NOW_ANNOTATION,
    SHARDS_ROLE,
    TRIGGER_LABEL,
    ManifestError,
    config_map_name,
    cron_job_name,
    owner_reference,
    run_now_job_name,
    selector_labels,
)
from modelmonitor.manifests.reduce import REDUCE_COMMAND, SHARDS_JOB_ANNOTATION, build_reduce_job, reduce_job_name

__all__ = [
    "CONFIG_FILE",
    "CONFIG_KEY",
    "CONFIG_MOUNT_PATH",
    "CONTAINER_NAME",
    "EVALUATOR_COMMAND",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "MONITOR_LABEL",
    "REDUCE_COMMAND",
    "REDUCE_ROLE",
    "ROLE_LABEL",
    "RUN_NOW_ANNOTATION",
    "SHARDS_JOB_ANNOTATION",
    "SHARDS_ROLE",
    "TRIGGER_LABEL",
    "ManifestError",
    "S3CredentialKeys",
    "build_config",
    "build_config_map",
    "build_cron_job",
    "build_job_from_cron_job",
    "build_pod_template",
    "build_reduce_job",
    "choose_credential_keys",
    "config_map_name",
    "cron_job_name",
    "owner_reference",
    "reduce_job_name",
    "run_now_job_name",
    "selector_labels",
]
