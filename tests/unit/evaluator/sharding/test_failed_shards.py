"""The operator's side of a failed sharded run: which shards failed, and a summary that names them and why."""

from __future__ import annotations

import json
from typing import Any

from modelmonitor.services.sharding import (
    ShardAttempt,
    failed_shards,
    parse_indexes,
    shards_failure_summary,
    shards_need_processing,
)


def _job(status: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "credit-now-1", "namespace": "risk",
                     "labels": labels or {"modelmonitor.io/monitor": "credit", "modelmonitor.io/role": "shards"}},
        "spec": {"completions": 4, "completionMode": "Indexed"},
        "status": status,
    }


FAILED = {"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "Job has failed indexes",
          "lastTransitionTime": "2026-11-23T17:05:00Z"}


def test_indexes_in_the_job_status_notation() -> None:
    assert parse_indexes("1,3-5") == {1, 3, 4, 5}
    assert parse_indexes("") == set() and parse_indexes(None) == set()


def test_only_finished_unprocessed_shards_jobs_need_processing() -> None:
    assert shards_need_processing(_job({"conditions": [FAILED]}))
    assert not shards_need_processing(_job({}))
    assert not shards_need_processing(_job({"conditions": [FAILED]}, {"modelmonitor.io/monitor": "credit"}))
    processed = _job({"conditions": [FAILED]})
    processed["metadata"]["annotations"] = {"modelmonitor.io/processed": "x"}
    assert not shards_need_processing(processed)


def test_failed_indexes_with_their_last_attempt() -> None:
    job = _job({"completedIndexes": "0,2-3", "failedIndexes": "1", "conditions": [FAILED]})
    attempts = [
        ShardAttempt(1, 137, None, "2026-11-23T17:01:00Z", "Error"),
        ShardAttempt(1, 4, '{"outcome": "storage_error", "error": {"reason": "AccessDenied", "message": "no"}}',
                     "2026-11-23T17:03:00Z"),
        ShardAttempt(0, 0, "{}", "2026-11-23T17:02:00Z"),
        ShardAttempt(2, 137, None, "2026-11-23T17:00:00Z"),  # failed once, then completed: not to blame
    ]
    failures = failed_shards(job, attempts)
    assert list(failures) == [1] and failures[1] is not None and failures[1].exit_code == 4
    summary = shards_failure_summary(job, failures, "7")
    assert summary["outcome"] == "storage_error" and summary["verdict"] == "error"
    assert summary["error"]["reason"] == "AccessDenied"
    assert "shard(s) 1 of 4" in summary["error"]["message"] and "shard 1 of 4: AccessDenied: no" in (
        summary["error"]["message"])
    assert summary["runId"] == "credit-now-1" and summary["failedShards"] == [1] and summary["modelVersion"] == "7"
    assert len(json.dumps(summary)) < 4096


def test_a_shard_killed_without_a_summary_is_named_with_its_exit_code_and_log_tail() -> None:
    job = _job({"completedIndexes": "0-2", "failedIndexes": "3", "conditions": [FAILED]})
    failures = failed_shards(job, [ShardAttempt(3, 137, "Traceback ... MemoryError", "t", "OOMKilled")])
    summary = shards_failure_summary(job, failures, None)
    assert summary["outcome"] == "internal_error" and summary["error"]["reason"] == "OOMKilled"
    assert "exit code 137 (OOMKilled): Traceback ... MemoryError" in summary["error"]["message"]


def test_a_deadline_blames_every_shard_that_had_not_completed() -> None:
    deadline = dict(FAILED, reason="DeadlineExceeded", message="Job was active longer than specified deadline")
    job = _job({"completedIndexes": "0,2", "conditions": [deadline]})
    failures = failed_shards(job, [])
    assert failures == {1: None, 3: None}
    summary = shards_failure_summary(job, failures, None)
    assert summary["error"]["reason"] == "DeadlineExceeded"
    assert "shard 1 of 4: it did not finish" in summary["error"]["message"]
    assert summary["finishedAt"] == "2026-11-23T17:05:00Z"
