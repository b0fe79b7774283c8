"""Properties every evaluation object must have, whatever the monitor: ownership, lock-down, no secrets."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelmonitor.api import MAX_MONITOR_NAME_LENGTH, parse_spec
from modelmonitor.manifests import (
    CONFIG_KEY,
    EVALUATOR_COMMAND,
    ManifestError,
    S3CredentialKeys,
    build_config,
    build_config_map,
    build_cron_job,
    build_job_from_cron_job,
    choose_credential_keys,
    cron_job_name,
    run_now_job_name,
)
from tests.unit.manifests.builders import IMAGE, SAMPLES, UID, build_all, sample_monitor

#: What the Secrets named by the samples would hold; none of it may reach a built object.
SECRET_VALUES = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "smtp-pa55word",
    "https://hooks.slack.com/services/T000/B000/XXXX",
]


def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cron_job, job = objects[1], objects[2]
    return [cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"], job["spec"]["template"]["spec"]]


@pytest.mark.parametrize("sample", SAMPLES)
def test_objects_are_owned_by_the_monitor_and_labelled(sample: str) -> None:
    monitor = sample_monitor(sample)
    name = monitor["metadata"]["name"]
    for built in build_all(monitor):
        metadata = built["metadata"]
        assert metadata["namespace"] == "risk"
        assert metadata["ownerReferences"] == [
            {
                "apiVersion": "modelmonitor.io/v1alpha1",
                "kind": "ModelMonitor",
                "name": name,
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "modelmonitor-operator"
        assert metadata["labels"]["modelmonitor.io/monitor"] == name


@pytest.mark.parametrize("sample", SAMPLES)
def test_pods_are_locked_down(sample: str) -> None:
    for pod in _pod_specs(build_all(sample_monitor(sample))):
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert (
            container["command"]
            == EVALUATOR_COMMAND
            == ["modelmonitor", "evaluate", "--config", "/etc/modelmonitor/config.json"]
        )
        assert container["terminationMessagePath"] == "/dev/termination-log"
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert mounts == {"/etc/modelmonitor": "config", "/tmp": "tmp"}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"]
        env = {variable["name"]: variable for variable in container["env"]}
        assert env["MODELMONITOR_RUN_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}


@pytest.mark.parametrize("sample", SAMPLES)
def test_no_secret_value_reaches_any_object(sample: str) -> None:
    rendered = json.dumps(build_all(sample_monitor(sample)))
    for value in SECRET_VALUES:
        assert value not in rendered
    for pod in _pod_specs(build_all(sample_monitor(sample))):
        for variable in pod["containers"][0]["env"]:
            if variable["name"].startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION")):
                assert "value" not in variable, variable
                assert "secretKeyRef" in variable["valueFrom"], variable


def test_credentials_come_from_the_named_secret_by_key() -> None:
    monitor = sample_monitor("valid-binary-classification.yaml")
    spec = parse_spec(monitor["spec"])
    keys = choose_credential_keys({"accessKeyId", "secretAccessKey"})
    cron_job = build_cron_job(monitor, spec, IMAGE, credential_keys=keys)
    env = {v["name"]: v for v in cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": "accessKeyId"}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": "secretAccessKey"}
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["AWS_ENDPOINT_URL_S3"] == {"name": "AWS_ENDPOINT_URL_S3", "value": "http://127.0.0.1:9000"}
    assert env["AWS_REGION"] == {"name": "AWS_REGION", "value": "eu-west-1"}


def test_credential_keys_default_to_the_aws_names() -> None:
    assert choose_credential_keys({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) == S3CredentialKeys()
    assert choose_credential_keys(set()) == S3CredentialKeys()


def test_no_store_secret_means_no_credential_variables() -> None:
    monitor = sample_monitor("valid-drift-only.yaml")
    cron_job = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE)
    names = {v["name"] for v in cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"}


def test_the_operators_evaluator_service_account_is_used_unless_the_spec_names_one() -> None:
    """The chart's evaluator.serviceAccount.name reaches the pods (--evaluator-service-account); it was ignored."""
    monitor = sample_monitor("valid-drift-only.yaml")
    built = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE, service_account="ml-evaluator")
    assert built["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "ml-evaluator"
    monitor["spec"]["evaluation"] = {"serviceAccountName": "team-a"}
    named = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE, service_account="ml-evaluator")
    assert named["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "team-a"


def test_evaluation_settings_reach_the_job() -> None:
    monitor = sample_monitor("valid-binary-classification.yaml")
    monitor["spec"]["evaluation"].update(timeout="45m", backoffLimit=4, serviceAccountName="team-a")
    monitor["spec"].update(suspend=True, schedule="*/15 * * * *", timeZone="Europe/Berlin")
    cron_job = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE)
    assert cron_job["spec"]["suspend"] is True
    assert cron_job["spec"]["schedule"] == "*/15 * * * *"
    assert cron_job["spec"]["timeZone"] == "Europe/Berlin"
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"
    job_spec = cron_job["spec"]["jobTemplate"]["spec"]
    assert job_spec["activeDeadlineSeconds"] == 45 * 60
    assert job_spec["backoffLimit"] == 4
    assert "completionMode" not in job_spec
    pod = job_spec["template"]["spec"]
    assert pod["serviceAccountName"] == "team-a"
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert pod["containers"][0]["image"] == IMAGE


def test_image_in_the_spec_overrides_the_operator_image() -> None:
    monitor = sample_monitor("valid-drift-only.yaml")
    monitor["spec"]["evaluation"] = {"image": "registry.local/evaluator:custom"}
    cron_job = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE)
    assert cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.local/evaluator:custom"
    )


def test_shards_make_an_indexed_job() -> None:
    monitor = sample_monitor("valid-regression.yaml")
    job_spec = build_cron_job(monitor, parse_spec(monitor["spec"]), IMAGE)["spec"]["jobTemplate"]["spec"]
    assert job_spec["completionMode"] == "Indexed"
    assert job_spec["completions"] == 4
    assert job_spec["parallelism"] == 2
    assert job_spec["backoffLimitPerIndex"] == 2
    assert "backoffLimit" not in job_spec
    env = {v["name"]: v for v in job_spec["template"]["spec"]["containers"][0]["env"]}
    assert env["MODELMONITOR_SHARD_COUNT"]["value"] == "4"
    assert "job-completion-index" in env["MODELMONITOR_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]


def test_config_map_holds_the_contract_config() -> None:
    monitor = sample_monitor("valid-binary-classification.yaml")
    spec = parse_spec(monitor["spec"])
    config_map = build_config_map(monitor, spec)
    assert config_map["metadata"]["name"] == "credit-scoring-config"
    config = json.loads(config_map["data"][CONFIG_KEY])
    assert config == build_config(monitor, spec)
    assert config["apiVersion"] == "modelmonitor.io/v1alpha1"
    assert config["monitor"] == {"namespace": "risk", "name": "credit-scoring", "uid": UID}
    assert parse_spec(config["spec"]) == spec  # the typed spec with its defaults filled in
    assert config["spec"]["data"]["reference"]["format"] == "parquet"
    assert config["output"] == {"uri": "s3://ml/credit/reports/"}
    assert "output" not in build_config(
        sample_monitor("valid-drift-only.yaml"), parse_spec(sample_monitor("valid-drift-only.yaml")["spec"])
    )


def test_config_map_text_is_stable() -> None:
    monitor = sample_monitor("valid-binary-classification.yaml")
    reordered = copy.deepcopy(monitor)
    reordered["spec"] = dict(reversed(list(monitor["spec"].items())))
    spec = parse_spec(monitor["spec"])
    assert build_config_map(monitor, spec) == build_config_map(reordered, spec)


def test_run_now_job_is_the_template_owned_by_the_monitor() -> None:
    monitor = sample_monitor("valid-binary-classification.yaml")
    _, cron_job, job = build_all(monitor)
    assert job["kind"] == "Job"
    assert job["spec"] == cron_job["spec"]["jobTemplate"]["spec"]
    assert job["spec"] is not cron_job["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["labels"]["modelmonitor.io/trigger"] == "run-now"
    assert cron_job["spec"]["jobTemplate"]["metadata"]["labels"]["modelmonitor.io/trigger"] == "schedule"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "ModelMonitor"


def test_derived_names_fit_their_limits() -> None:
    longest = "m" * MAX_MONITOR_NAME_LENGTH
    assert len(cron_job_name(longest)) <= 52
    assert len(run_now_job_name(longest, datetime(2286, 11, 20, tzinfo=UTC))) <= 63


def test_monitor_without_uid_is_refused() -> None:
    monitor = sample_monitor("valid-drift-only.yaml")
    del monitor["metadata"]["uid"]
    with pytest.raises(ManifestError, match=r"metadata\.uid must be set"):
        build_config_map(monitor, parse_spec(monitor["spec"]))


def test_run_now_needs_a_job_template() -> None:
    with pytest.raises(ManifestError, match=r"spec\.jobTemplate must be set"):
        build_job_from_cron_job({"spec": {}}, "x-now-1", sample_monitor("valid-drift-only.yaml"))
