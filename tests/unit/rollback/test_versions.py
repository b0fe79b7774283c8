"""Version memory: what is remembered per version, how it stays bounded, which version is 'last healthy'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelmonitor.reconcile.versions import (
    VersionRecord,
    evaluation_timeline,
    last_healthy_version,
    record_evaluation,
)

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def hours(count: int) -> datetime:
    return START + timedelta(hours=count)


def test_first_evaluation_creates_a_record() -> None:
    versions = record_evaluation([], "1", "healthy", "run-1", START, violated_rules=["metric:f1"])

    assert versions == [
        {
            "version": "1",
            "firstSeen": "2026-11-23T17:00:00Z",
            "lastEvaluated": "2026-11-23T17:00:00Z",
            "evaluations": 1,
            "everHealthy": True,
            "lastHealthyAt": "2026-11-23T17:00:00Z",
            "recentVerdicts": [
                {"evaluationId": "run-1", "verdict": "healthy", "at": "2026-11-23T17:00:00Z", "rules": ["metric:f1"]}
            ],
        }
    ]


def test_later_evaluations_update_the_record_and_keep_first_seen() -> None:
    versions = record_evaluation([], "2", "warning", "run-1", START)
    versions = record_evaluation(versions, "2", "critical", "run-2", hours(1))

    (record,) = versions
    assert record["firstSeen"] == "2026-11-23T17:00:00Z"
    assert record["lastEvaluated"] == "2026-11-23T18:00:00Z"
    assert record["evaluations"] == 2
    assert record["everHealthy"] is False
    assert "lastHealthyAt" not in record
    assert [entry["verdict"] for entry in record["recentVerdicts"]] == ["warning", "critical"]


def test_recording_the_same_evaluation_twice_changes_nothing() -> None:
    once = record_evaluation([], "1", "critical", "run-1", START)
    twice = record_evaluation(once, "1", "critical", "run-1", hours(1))

    assert twice == once


def test_input_list_is_not_mutated() -> None:
    original = record_evaluation([], "1", "healthy", "run-1", START)
    snapshot = [dict(record) for record in original]
    record_evaluation(original, "1", "critical", "run-2", hours(1))

    assert [dict(record) for record in original] == snapshot
    assert len(original[0]["recentVerdicts"]) == 1


def test_recent_verdicts_are_bounded() -> None:
    versions: list[VersionRecord] = []
    for index in range(15):
        versions = record_evaluation(versions, "1", "healthy", f"run-{index}", hours(index), verdict_limit=10)

    (record,) = versions
    assert len(record["recentVerdicts"]) == 10
    assert record["recentVerdicts"][0]["evaluationId"] == "run-5"
    assert record["evaluations"] == 15


def test_version_count_is_bounded_dropping_never_healthy_before_healthy() -> None:
    versions = record_evaluation([], "healthy-old", "healthy", "run-0", hours(0))
    versions = record_evaluation(versions, "bad-newer", "critical", "run-1", hours(1))
    versions = record_evaluation(versions, "healthy-newer", "healthy", "run-2", hours(2))
    versions = record_evaluation(versions, "current", "critical", "run-3", hours(3), limit=3)

    assert [record["version"] for record in versions] == ["healthy-old", "healthy-newer", "current"]
    versions = record_evaluation(versions, "next", "critical", "run-4", hours(4), limit=3)
    assert [record["version"] for record in versions] == ["healthy-old", "healthy-newer", "next"]
    versions = record_evaluation(versions, "newest", "healthy", "run-5", hours(5), limit=3)
    assert [record["version"] for record in versions] == ["healthy-old", "healthy-newer", "newest"]
    versions = record_evaluation(versions, "latest", "healthy", "run-6", hours(6), limit=3)
    assert [record["version"] for record in versions] == ["healthy-newer", "newest", "latest"]


def test_the_version_just_evaluated_is_never_dropped() -> None:
    versions = record_evaluation([], "1", "healthy", "run-1", hours(0))
    versions = record_evaluation(versions, "2", "critical", "run-2", hours(1), limit=1)

    assert [record["version"] for record in versions] == ["2"]


def test_last_healthy_version_prefers_the_most_recently_healthy_and_excludes_current() -> None:
    versions = record_evaluation([], "1", "healthy", "run-1", hours(0))
    versions = record_evaluation(versions, "2", "healthy", "run-2", hours(1))
    versions = record_evaluation(versions, "3", "critical", "run-3", hours(2))

    assert last_healthy_version(versions, excluding="3") == "2"
    assert last_healthy_version(versions, excluding="2") == "1"
    assert last_healthy_version(versions, excluding="3", servable=frozenset({"1", "3"})) == "1"


def test_a_version_that_turned_critical_is_not_a_candidate_but_pending_does_not_hide_health() -> None:
    versions = record_evaluation([], "1", "healthy", "run-1", hours(0))
    versions = record_evaluation(versions, "2", "healthy", "run-2", hours(1))
    versions = record_evaluation(versions, "2", "critical", "run-3", hours(2))
    versions = record_evaluation(versions, "1", "pending", "run-4", hours(3))
    versions = record_evaluation(versions, "3", "critical", "run-5", hours(4))

    assert last_healthy_version(versions, excluding="3") == "1"


def test_no_candidate_when_nothing_else_was_healthy() -> None:
    versions = record_evaluation([], "1", "warning", "run-1", hours(0))
    versions = record_evaluation(versions, "2", "healthy", "run-2", hours(1))

    assert last_healthy_version(versions, excluding="2") is None
    assert last_healthy_version([], excluding="2") is None


def test_timeline_interleaves_versions_in_time_order() -> None:
    versions = record_evaluation([], "1", "healthy", "run-1", hours(0))
    versions = record_evaluation(versions, "2", "critical", "run-2", hours(1))
    versions = record_evaluation(versions, "1", "critical", "run-3", hours(2))

    assert [(version, record["evaluationId"]) for _, version, record in evaluation_timeline(versions)] == [
        ("1", "run-1"),
        ("2", "run-2"),
        ("1", "run-3"),
    ]


def test_naive_timestamps_and_empty_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        record_evaluation([], "1", "healthy", "run-1", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="version"):
        record_evaluation([], "", "healthy", "run-1", START)
