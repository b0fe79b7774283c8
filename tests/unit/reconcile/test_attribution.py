"""Version attribution (issue 14): an evaluation is credited to a version only when that one version served
its whole window; a mixed window (the version column says so, or a rollback happened inside it) is labelled,
kept out of ``status.versions`` and out of the rollback policy's count, and still recorded in history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelmonitor.api import parse_part
from modelmonitor.api.model import RollbackSpec
from modelmonitor.reconcile.attribution import MIXED, SINGLE, attribute, window_start
from modelmonitor.reconcile.rollback_policy import RollbackAction, TargetState, decide_rollback
from modelmonitor.reconcile.status import apply_evaluation

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(run: str, verdict: str = "critical", *, window_hours: float = 1.0, end: datetime = NOW,
            **extra: Any) -> dict[str, Any]:
    return {"runId": run, "outcome": "evaluated", "verdict": verdict, "modelVersion": "8",
            "startedAt": stamp(end), "window": {"start": stamp(end - timedelta(hours=window_hours)),
                                                "end": stamp(end)},
            "violations": [{"rule": "metric:accuracy", "severity": "critical"}] if verdict == "critical" else [],
            **extra}


ROLLBACK_8_TO_7 = {"fromVersion": "8", "toVersion": "7", "at": stamp(NOW - timedelta(minutes=30)),
                   "dryRun": False, "reason": "RollbackTriggered"}


class TestRule:
    def test_one_version_in_the_column_is_credited_even_if_the_target_names_another(self) -> None:
        result = attribute(summary("r", servedVersions={"7": 1200}), "8", [])
        assert (result.label, result.version, result.source) == (SINGLE, "7", "column")

    def test_two_versions_in_the_column_are_mixed(self) -> None:
        result = attribute(summary("r", servedVersions={"7": 1200, "8": 30}), "7", [])
        assert (result.label, result.version, result.versions) == (MIXED, None, ["7", "8"])

    def test_versions_with_no_rows_do_not_count(self) -> None:
        assert attribute(summary("r", servedVersions={"7": 10, "8": 0}), "8", []).version == "7"

    def test_empty_version_cells_next_to_a_version_make_the_window_mixed(self) -> None:
        assert attribute(summary("r", servedVersions={"7": 10, "(null)": 3}), "7", []).label == MIXED

    def test_a_rollback_after_the_window_start_makes_it_mixed_without_a_column(self) -> None:
        result = attribute(summary("r"), "7", [ROLLBACK_8_TO_7])
        assert (result.label, result.versions, result.source) == (MIXED, ["7", "8"], "rollbacks")

    def test_a_rollback_before_the_window_start_does_not(self) -> None:
        result = attribute(summary("r", window_hours=0.25), "7", [ROLLBACK_8_TO_7])
        assert (result.label, result.version) == (SINGLE, "7")

    def test_dry_runs_and_failed_rollbacks_changed_nothing(self) -> None:
        history = [{**ROLLBACK_8_TO_7, "dryRun": True}, {**ROLLBACK_8_TO_7, "error": "forbidden"}]
        assert attribute(summary("r"), "8", history).label == SINGLE

    def test_the_column_decides_over_the_rollback_history(self) -> None:
        assert attribute(summary("r", servedVersions={"7": 5}), "7", [ROLLBACK_8_TO_7]).version == "7"

    def test_without_a_window_the_evaluation_start_is_the_window_start(self) -> None:
        plain = {"runId": "r", "startedAt": stamp(NOW)}
        assert window_start(plain) == NOW
        assert attribute(plain, "7", [ROLLBACK_8_TO_7]).label == SINGLE  # the rollback was before the run


class TestStatusAndRollback:
    policy = parse_part(RollbackSpec, {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2,
                                       "cooldown": "1h"}, "spec.rollback")

    def evaluate(self, status: dict[str, Any], evaluation: dict[str, Any], served: str,
                 now: datetime) -> tuple[dict[str, Any], Any]:
        history = (status.get("rollback") or {}).get("history") or []
        annotated = attribute(evaluation, served, history).annotate({**evaluation, "modelVersion": served})
        patch = apply_evaluation(status, annotated, f"job-{evaluation['runId']}", 1, ["accuracy"], now)
        status = {**status, **patch}
        decision = decide_rollback(self.policy, status, annotated, TargetState(current_version=served), {}, now)
        return status, decision

    def test_a_mixed_window_is_labelled_and_counts_for_no_version(self) -> None:
        status: dict[str, Any] = {"versions": [
            {"version": "7", "firstSeen": stamp(NOW - timedelta(days=2)),
             "lastEvaluated": stamp(NOW - timedelta(days=1)), "evaluations": 1, "everHealthy": True,
             "lastHealthyAt": stamp(NOW - timedelta(days=1)),
             "recentVerdicts": [{"evaluationId": "old", "verdict": "healthy",
                                 "at": stamp(NOW - timedelta(days=1)), "rules": []}]}],
            "rollback": {"history": [ROLLBACK_8_TO_7]}}
        before = [dict(record) for record in status["versions"]]
        # the restored version 7 is served now, but the window still holds version 8's bad traffic
        status, decision = self.evaluate(status, summary("mixed-1"), "7", NOW)
        assert status["versions"] == before  # neither 7 nor 8 gained a verdict
        assert status["lastEvaluation"]["attribution"] == MIXED
        assert status["lastEvaluation"]["versionsSeen"] == ["7", "8"]
        assert status["lastEvaluation"]["attributionSource"] == "rollbacks"
        assert status["history"][0]["attribution"] == MIXED and status["history"][0]["versionsSeen"] == ["7", "8"]
        assert status["phase"] == "Degraded"  # the quality was still bad: alerts and phase are unchanged
        assert (decision.action, decision.reason) == (RollbackAction.NONE, "MixedVersionWindow")
        assert "7, 8" in decision.message and "no version" in decision.message

        # two mixed critical windows in a row do not add up to the 2 consecutive violations rollback needs
        status, decision = self.evaluate(status, summary("mixed-2", end=NOW + timedelta(minutes=10)), "7",
                                         NOW + timedelta(minutes=10))
        assert decision.reason == "MixedVersionWindow" and status["versions"] == before

        # a window that starts after the rollback is version 7's alone
        later = NOW + timedelta(hours=2)
        status, decision = self.evaluate(status, summary("clean-1", end=later), "7", later)
        record = next(item for item in status["versions"] if item["version"] == "7")
        assert [item["evaluationId"] for item in record["recentVerdicts"]] == ["old", "clean-1"]
        assert status["lastEvaluation"]["attribution"] == SINGLE and "attribution" not in status["history"][0]
        assert decision.reason == "BelowConsecutiveViolations" and "1 of 2" in decision.message
