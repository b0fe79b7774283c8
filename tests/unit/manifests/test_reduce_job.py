"""The reduce Job is the shards' pod with the reduce command, owned by the monitor, under a bounded fixed name."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelmonitor.manifests import (
    CONTAINER_NAME,
    REDUCE_COMMAND,
    ManifestError,
    build_reduce_job,
    reduce_job_name,
)
from tests.unit.manifests.builders import UID, build_all, sample_monitor

SHARDED_SAMPLE = "valid-regression.yaml"  # evaluation.shards: 4


def _shards_job_as_stored() -> tuple[dict[str, Any], dict[str, Any]]:
    """The run-now Job of a sharded monitor, with what the API server and Job controller add to it."""
    monitor = sample_monitor(SHARDED_SAMPLE)
    job = copy.deepcopy(build_all(monitor)[2])
    job["metadata"]["uid"] = "job-uid"
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}}
    job["spec"]["template"]["metadata"]["labels"].update({
        "batch.kubernetes.io/controller-uid": "job-uid", "batch.kubernetes.io/job-name": job["metadata"]["name"],
        "controller-uid": "job-uid", "job-name": job["metadata"]["name"]})
    return job, monitor


def _evaluator(job: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == CONTAINER_NAME)


def test_the_shards_job_is_labelled_as_partial() -> None:
    job, _ = _shards_job_as_stored()
    assert job["metadata"]["labels"]["modelmonitor.io/role"] == "shards"
    assert job["spec"]["completionMode"] == "Indexed"


def test_reduce_job_runs_the_shards_pod_with_the_reduce_command_and_the_runs_id() -> None:
    shards_job, monitor = _shards_job_as_stored()
    reduce = build_reduce_job(shards_job, monitor)
    name = shards_job["metadata"]["name"]
    assert reduce["metadata"]["name"] == f"{name}-reduce"
    assert reduce["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "modelmonitor-operator", "modelmonitor.io/monitor": "house-prices",
        "modelmonitor.io/role": "reduce", "modelmonitor.io/trigger": "run-now"}
    assert reduce["metadata"]["ownerReferences"][0]["uid"] == UID
    assert reduce["metadata"]["annotations"] == {"modelmonitor.io/shards-job": name}
    spec = reduce["spec"]
    assert "completionMode" not in spec and "completions" not in spec and "selector" not in spec
    assert spec["backoffLimit"] == shards_job["spec"]["backoffLimitPerIndex"]
    assert spec["podFailurePolicy"] == shards_job["spec"]["podFailurePolicy"]
    assert spec["activeDeadlineSeconds"] == shards_job["spec"]["activeDeadlineSeconds"]
    assert spec["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "modelmonitor-operator", "modelmonitor.io/monitor": "house-prices"}
    container, original = _evaluator(reduce), _evaluator(shards_job)
    assert container["command"] == [*REDUCE_COMMAND, "--run-id", name]
    env = {item["name"]: item for item in container["env"]}
    assert env["MODELMONITOR_RUN_ID"] == {"name": "MODELMONITOR_RUN_ID", "value": name}
    assert "MODELMONITOR_SHARD_INDEX" not in env and "MODELMONITOR_SHARD_COUNT" not in env
    replaced = ("MODELMONITOR_SHARD_", "MODELMONITOR_RUN_ID")
    kept = [item for item in original["env"] if not item["name"].startswith(replaced)]
    assert container["env"][1:] == kept and len(kept) >= 3
    for same in ("image", "securityContext", "volumeMounts", "resources"):
        assert container[same] == original[same], same
    assert spec["template"]["spec"]["volumes"] == shards_job["spec"]["template"]["spec"]["volumes"]
    assert _evaluator(shards_job)["command"][1] == "evaluate"  # the input is not changed


def test_reduce_job_names_stay_within_the_label_limit_and_distinct() -> None:
    first, second = "m" * 47 + "-eval-29012345", "m" * 47 + "-eval-29012346"
    assert len(reduce_job_name(first)) <= 63 and len(reduce_job_name(second)) <= 63
    assert reduce_job_name(first) != reduce_job_name(second)
    assert reduce_job_name(first).endswith("-reduce")
    assert reduce_job_name("short-now-1") == "short-now-1-reduce"


def test_a_job_of_another_monitor_is_refused() -> None:
    shards_job, monitor = _shards_job_as_stored()
    shards_job["metadata"]["labels"]["modelmonitor.io/monitor"] = "someone-else"
    with pytest.raises(ManifestError, match="someone-else"):
        build_reduce_job(shards_job, monitor)
    with pytest.raises(ManifestError, match="containers"):
        build_reduce_job({"metadata": {"name": "x"}, "spec": {}}, monitor)
