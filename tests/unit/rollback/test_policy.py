"""The rollback policy matrix: when a rollback is executed, proposed, refused or deferred, and why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from modelmonitor.api import SpecError, parse_part
from modelmonitor.api.model import RollbackSpec
from modelmonitor.reconcile.rollback_policy import (
    APPROVE_ROLLBACK_ANNOTATION,
    RollbackAction,
    RollbackDecision,
    TargetState,
    decide_rollback,
    record_rollback,
    violated_rules,
)
from modelmonitor.reconcile.versions import VersionRecord, record_evaluation

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
AUTOMATIC: dict[str, Any] = {"enabled": True, "mode": "Automatic", "consecutiveViolations": 2, "cooldown": "1h"}
SETTLED_ON_2 = TargetState(current_version="2", description="Deployment risk/scorer")


def hours(count: float) -> datetime:
    return START + timedelta(hours=count)


def summary(version: str, verdict: str, run: str, rules: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "runId": run,
        "outcome": "evaluated",
        "modelVersion": version,
        "verdict": verdict,
        "violations": [{"rule": rule, "severity": severity} for rule, severity in rules],
    }


class Monitor:
    """A monitor's status driven through evaluations, the way the operator will drive it."""

    def __init__(self, rollback_spec: dict[str, Any]) -> None:
        self.spec = parse_part(RollbackSpec, rollback_spec, "spec.rollback")
        self.versions: list[VersionRecord] = []
        self.rollback: dict[str, Any] = {}
        self.clock = 0.0
        self.runs = 0

    @property
    def status(self) -> dict[str, Any]:
        return {"versions": self.versions, "rollback": self.rollback}

    def evaluate(
        self,
        version: str,
        verdict: str,
        target: TargetState | None = None,
        rules: Sequence[tuple[str, str]] = (),
        annotations: dict[str, str] | None = None,
    ) -> RollbackDecision:
        self.clock += 1
        self.runs += 1
        evaluation = summary(version, verdict, f"run-{self.runs}", rules)
        self.versions = record_evaluation(
            self.versions, version, verdict, evaluation["runId"], self.now, violated_rules=violated_rules(evaluation)
        )
        state = target or TargetState(current_version=version, description="Deployment risk/scorer")
        decision = decide_rollback(self.spec, self.status, evaluation, state, annotations or {}, self.now)
        self.rollback = record_rollback(self.rollback, decision, self.now)
        return decision

    def annotate(self, annotations: dict[str, str], target: TargetState) -> RollbackDecision:
        self.clock += 0.1
        decision = decide_rollback(self.spec, self.status, None, target, annotations, self.now)
        self.rollback = record_rollback(self.rollback, decision, self.now)
        return decision

    @property
    def now(self) -> datetime:
        return hours(self.clock)


def healthy_then(spec: dict[str, Any], *verdicts: str) -> tuple[Monitor, RollbackDecision]:
    monitor = Monitor(spec)
    monitor.evaluate("1", "healthy")
    decision = RollbackDecision(RollbackAction.NONE, "", "")
    for verdict in verdicts:
        decision = monitor.evaluate("2", verdict)
    return monitor, decision


class TestAutomatic:
    def test_rolls_back_after_n_consecutive_critical_evaluations(self) -> None:
        monitor, first = healthy_then(AUTOMATIC, "critical")
        assert first.action is RollbackAction.NONE
        assert first.reason == "BelowConsecutiveViolations"
        assert "1 of 2 consecutive critical evaluations" in first.message

        second = monitor.evaluate("2", "critical")
        assert second.action is RollbackAction.EXECUTE
        assert second.reason == "RollbackTriggered"
        assert (second.from_version, second.to_version) == ("2", "1")
        assert second.evaluation_id == "run-3"
        assert second.changes_target
        assert monitor.rollback["history"][-1]["fromVersion"] == "2"
        assert monitor.rollback["history"][-1]["dryRun"] is False

    def test_consecutive_violations_of_one(self) -> None:
        _, decision = healthy_then({**AUTOMATIC, "consecutiveViolations": 1}, "critical")
        assert decision.action is RollbackAction.EXECUTE

    def test_warning_does_not_trigger_on_critical_but_does_on_warning(self) -> None:
        _, decision = healthy_then(AUTOMATIC, "warning", "warning")
        assert (decision.action, decision.reason) == (RollbackAction.NONE, "NotTriggered")

        _, decision = healthy_then({**AUTOMATIC, "minSeverity": "warning"}, "warning", "critical")
        assert decision.action is RollbackAction.EXECUTE

    def test_a_healthy_evaluation_breaks_the_run(self) -> None:
        _, decision = healthy_then(AUTOMATIC, "critical", "healthy", "critical")
        assert decision.reason == "BelowConsecutiveViolations"

    def test_inconclusive_evaluations_neither_count_nor_break_the_run(self) -> None:
        monitor, pending = healthy_then(AUTOMATIC, "critical", "pending")
        assert pending.reason == "InconclusiveVerdict"
        assert monitor.evaluate("2", "critical").action is RollbackAction.EXECUTE

    def test_an_evaluation_of_another_version_in_between_breaks_the_run(self) -> None:
        monitor, _ = healthy_then(AUTOMATIC, "critical")
        monitor.evaluate("3", "critical", target=TargetState(current_version="3"))
        decision = monitor.evaluate("2", "critical")
        assert decision.reason == "BelowConsecutiveViolations"

    def test_named_rules_trigger_whatever_their_severity_and_others_do_not(self) -> None:
        spec = {**AUTOMATIC, "rules": ["drift:*"]}
        monitor = Monitor(spec)
        monitor.evaluate("1", "healthy")
        other = monitor.evaluate("2", "critical", rules=[("metric:accuracy", "critical")])
        assert other.reason == "NotTriggered"
        monitor.evaluate("2", "warning", rules=[("drift:dataset", "warning")])
        decision = monitor.evaluate("2", "warning", rules=[("drift:age", "warning")])
        assert decision.action is RollbackAction.EXECUTE
        assert "violations of drift:*" in decision.message

    def test_the_count_restarts_after_a_rollback(self) -> None:
        monitor, executed = healthy_then({**AUTOMATIC, "cooldown": "0s"}, "critical", "critical")
        assert executed.action is RollbackAction.EXECUTE
        monitor.evaluate("1", "healthy")
        monitor.evaluate("2", "critical")  # redeployed by someone: its older violations do not count
        assert monitor.evaluate("2", "healthy").reason == "NotTriggered"

    def test_the_same_evaluation_is_never_acted_on_twice(self) -> None:
        monitor, executed = healthy_then(AUTOMATIC, "critical", "critical")
        assert executed.action is RollbackAction.EXECUTE
        again = decide_rollback(
            monitor.spec, monitor.status, summary("2", "critical", "run-3"), SETTLED_ON_2, {}, monitor.now
        )
        assert (again.action, again.reason) == (RollbackAction.NONE, "AlreadyDecided")


class TestSafety:
    def test_no_healthy_version_refuses_with_a_reason(self) -> None:
        monitor = Monitor(AUTOMATIC)
        monitor.evaluate("1", "warning")
        monitor.evaluate("2", "critical")
        decision = monitor.evaluate("2", "critical")
        assert (decision.action, decision.reason) == (RollbackAction.REFUSE, "NoHealthyVersion")
        assert "no other version is known to have been healthy" in decision.message
        assert decision.to_version is None
        assert "history" not in monitor.rollback

    def test_a_version_the_target_cannot_express_is_not_chosen(self) -> None:
        monitor, _ = healthy_then(AUTOMATIC, "critical")
        target = TargetState(current_version="2", servable_versions=frozenset({"2", "3"}))
        decision = monitor.evaluate("2", "critical", target=target)
        assert decision.reason == "NoHealthyVersion"

    def test_mid_rollout_waits(self) -> None:
        monitor, _ = healthy_then(AUTOMATIC, "critical")
        target = TargetState(current_version="2", mid_rollout_reason="1 of 2 replicas are available")
        decision = monitor.evaluate("2", "critical", target=target)
        assert (decision.action, decision.reason) == (RollbackAction.WAIT, "TargetMidRollout")
        assert "1 of 2 replicas are available" in decision.message

    def test_unreadable_target_refuses_and_says_why(self) -> None:
        monitor, _ = healthy_then(AUTOMATIC, "critical")
        target = TargetState(current_version=None, description="Deployment risk/scorer", problem="forbidden")
        decision = monitor.evaluate("2", "critical", target=target)
        assert (decision.action, decision.reason) == (RollbackAction.REFUSE, "TargetVersionUnknown")
        assert decision.message == "cannot roll back Deployment risk/scorer: forbidden"

    def test_a_target_that_moved_on_waits_for_an_evaluation_of_the_new_version(self) -> None:
        monitor, _ = healthy_then(AUTOMATIC, "critical")
        decision = monitor.evaluate("2", "critical", target=TargetState(current_version="3"))
        assert (decision.action, decision.reason) == (RollbackAction.WAIT, "TargetVersionChanged")

    def test_disabled_does_nothing(self) -> None:
        _, decision = healthy_then({**AUTOMATIC, "enabled": False}, "critical", "critical")
        assert (decision.action, decision.reason) == (RollbackAction.NONE, "RollbackDisabled")

    @pytest.mark.parametrize(
        ("spec", "field"),
        [
            ({"mode": "Sometimes"}, "spec.rollback.mode"),
            ({"minSeverity": "info"}, "spec.rollback.minSeverity"),
            ({"cooldown": "soon"}, "spec.rollback.cooldown"),
            ({"consecutiveViolations": 0}, "spec.rollback.consecutiveViolations"),
            ({"maxRollbacks": {"count": 1, "window": "1w"}}, "spec.rollback.maxRollbacks.window"),
        ],
    )
    def test_an_invalid_spec_is_refused_by_the_spec_parser_naming_the_field(
        self, spec: dict[str, Any], field: str
    ) -> None:
        """The policy reads only the parsed spec: a bad value never reaches it (parse_spec names the field)."""
        with pytest.raises(SpecError) as refused:
            parse_part(RollbackSpec, {**AUTOMATIC, **spec}, "spec.rollback")
        assert refused.value.field == field


class TestRateLimits:
    def test_cooldown_blocks_a_second_rollback(self) -> None:
        spec = {**AUTOMATIC, "cooldown": "6h", "consecutiveViolations": 1}
        monitor, first = healthy_then(spec, "critical")
        assert first.action is RollbackAction.EXECUTE
        monitor.evaluate("1", "healthy")
        monitor.evaluate("3", "healthy", target=TargetState(current_version="3"))
        second = monitor.evaluate("3", "critical", target=TargetState(current_version="3"))
        assert (second.action, second.reason) == (RollbackAction.WAIT, "CooldownActive")
        assert "spec.rollback.cooldown allows the next one from 2026-11-23T08:00:00Z" in second.message

        monitor.clock += 6
        third = monitor.evaluate("3", "critical", target=TargetState(current_version="3"))
        assert (third.action, third.to_version) == (RollbackAction.EXECUTE, "1")

    def test_max_rollbacks_per_window(self) -> None:
        spec = {**AUTOMATIC, "cooldown": "0s", "consecutiveViolations": 1, "maxRollbacks": {"count": 2, "window": "1d"}}
        monitor = Monitor(spec)
        monitor.evaluate("1", "healthy")
        actions = []
        for _ in range(3):
            actions.append(monitor.evaluate("2", "critical").action)
            monitor.evaluate("1", "healthy")
        assert actions == [RollbackAction.EXECUTE, RollbackAction.EXECUTE, RollbackAction.REFUSE]
        assert monitor.rollback["lastDecision"]["reason"] == "NotTriggered"
        refused = monitor.evaluate("2", "critical")
        assert refused.reason == "MaxRollbacksReached"
        assert "reach spec.rollback.maxRollbacks (count 2)" in refused.message

        monitor.clock += 24
        assert monitor.evaluate("2", "critical").action is RollbackAction.EXECUTE


class TestDryRun:
    def test_dry_run_plans_only_and_is_rate_limited_by_dry_runs(self) -> None:
        spec = {**AUTOMATIC, "dryRun": True, "cooldown": "6h"}
        monitor, decision = healthy_then(spec, "critical", "critical")
        assert (decision.action, decision.reason) == (RollbackAction.DRY_RUN, "RollbackDryRun")
        assert not decision.changes_target
        assert decision.needs_patch_plan
        assert "nothing was changed" in decision.message
        assert monitor.rollback["history"][-1]["dryRun"] is True

        again = monitor.evaluate("2", "critical")
        assert again.reason == "CooldownActive"

    def test_a_dry_run_does_not_restart_the_count_or_block_a_real_rollback(self) -> None:
        monitor, _ = healthy_then({**AUTOMATIC, "dryRun": True}, "critical", "critical")
        monitor.spec = parse_part(RollbackSpec, {**AUTOMATIC, "dryRun": False}, "spec.rollback")
        assert monitor.evaluate("2", "critical").action is RollbackAction.EXECUTE


class TestManual:
    SPEC: ClassVar[dict[str, Any]] = {**AUTOMATIC, "mode": "Manual"}

    def test_propose_then_execute_on_approval(self) -> None:
        monitor, proposal = healthy_then(self.SPEC, "critical", "critical")
        assert (proposal.action, proposal.reason) == (RollbackAction.PROPOSE, "RollbackProposed")
        assert f"{APPROVE_ROLLBACK_ANNOTATION}=1" in proposal.message
        assert monitor.rollback["proposal"]["toVersion"] == "1"
        proposed_at = monitor.rollback["proposal"]["proposedAt"]

        repeated = monitor.evaluate("2", "critical")
        assert repeated.repeated
        assert monitor.rollback["proposal"]["proposedAt"] == proposed_at

        approved = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "1"}, SETTLED_ON_2)
        assert (approved.action, approved.reason) == (RollbackAction.EXECUTE, "RollbackApproved")
        assert approved.approved and approved.remove_approval_annotation
        assert (approved.from_version, approved.to_version) == ("2", "1")
        assert "proposal" not in monitor.rollback
        assert monitor.rollback["history"][-1]["approved"] is True

    def test_approval_naming_another_version_is_refused(self) -> None:
        monitor, _ = healthy_then(self.SPEC, "critical", "critical")
        decision = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "7"}, SETTLED_ON_2)
        assert (decision.action, decision.reason) == (RollbackAction.REFUSE, "ApprovalMismatch")
        assert decision.remove_approval_annotation
        assert "does not name the proposed version 1" in decision.message

    def test_approval_without_proposal_is_removed(self) -> None:
        monitor, _ = healthy_then(self.SPEC, "healthy")
        decision = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "1"}, SETTLED_ON_2)
        assert (decision.action, decision.reason) == (RollbackAction.NONE, "ApprovalWithoutProposal")
        assert decision.remove_approval_annotation

    def test_approval_waits_for_a_rollout_and_keeps_the_annotation(self) -> None:
        monitor, _ = healthy_then(self.SPEC, "critical", "critical")
        rolling = TargetState(current_version="2", mid_rollout_reason="0 of 2 replicas are available")
        decision = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "1"}, rolling)
        assert (decision.action, decision.reason) == (RollbackAction.WAIT, "TargetMidRollout")
        assert not decision.remove_approval_annotation
        assert monitor.rollback["proposal"]["toVersion"] == "1"

    def test_approval_is_refused_when_the_target_moved_on(self) -> None:
        monitor, _ = healthy_then(self.SPEC, "critical", "critical")
        decision = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "1"}, TargetState(current_version="3"))
        assert (decision.action, decision.reason) == (RollbackAction.REFUSE, "TargetVersionChanged")
        assert "proposal" not in monitor.rollback

    def test_approval_in_dry_run_reports_only(self) -> None:
        monitor, _ = healthy_then({**self.SPEC, "dryRun": True}, "critical", "critical")
        decision = monitor.annotate({APPROVE_ROLLBACK_ANNOTATION: "1"}, SETTLED_ON_2)
        assert decision.action is RollbackAction.DRY_RUN and decision.approved

    def test_recovery_withdraws_the_proposal(self) -> None:
        monitor, _ = healthy_then(self.SPEC, "critical", "critical")
        decision = monitor.evaluate("2", "healthy")
        assert decision.withdraw_proposal
        assert "proposal" not in monitor.rollback


class TestNotifyOnly:
    def test_recommends_but_never_executes_or_honours_approval(self) -> None:
        spec = {**AUTOMATIC, "mode": "NotifyOnly"}
        monitor, decision = healthy_then(spec, "critical", "critical")
        assert (decision.action, decision.reason) == (RollbackAction.NOTIFY, "RollbackRecommended")
        assert decision.to_version == "1"
        assert "mode NotifyOnly: nothing was changed" in decision.message
        assert "proposal" not in monitor.rollback

        approved = monitor.evaluate("2", "critical", annotations={APPROVE_ROLLBACK_ANNOTATION: "1"})
        assert approved.action is RollbackAction.NOTIFY


class TestParsedSpec:
    def test_the_api_model_is_accepted_with_its_defaults(self) -> None:
        spec = RollbackSpec(enabled=True, consecutive_violations=2, cooldown=timedelta(hours=1))
        monitor, _ = healthy_then({}, "critical", "critical")
        decision = decide_rollback(
            spec, monitor.status, summary("2", "critical", "run-3"), SETTLED_ON_2, {}, monitor.now
        )
        assert (decision.action, decision.to_version) == (RollbackAction.EXECUTE, "1")

    def test_the_api_models_min_severity_warning_triggers_on_a_warning(self) -> None:
        monitor, _ = healthy_then({}, "warning", "warning")
        summary_of_warning = summary("2", "warning", "run-3")
        decisions = [
            decide_rollback(
                RollbackSpec(enabled=True, min_severity=severity),
                monitor.status,
                summary_of_warning,
                SETTLED_ON_2,
                {},
                monitor.now,
            )
            for severity in ("critical", "warning")
        ]
        assert [(decision.action, decision.reason) for decision in decisions] == [
            (RollbackAction.NONE, "NotTriggered"),
            (RollbackAction.EXECUTE, "RollbackTriggered"),
        ]

    def test_raw_spec_defaults_match_the_crd(self) -> None:
        _, decision = healthy_then({"enabled": True}, "critical")
        assert decision.action is RollbackAction.EXECUTE  # consecutiveViolations defaults to 1, mode Automatic


class TestRecord:
    def test_history_is_bounded_and_keeps_patch_and_error(self) -> None:
        decision = RollbackDecision(
            RollbackAction.EXECUTE,
            "RollbackTriggered",
            "rolling back",
            from_version="2",
            to_version="1",
            evaluation_id="run-9",
        )
        rollback: dict[str, Any] = {}
        for index in range(5):
            rollback = record_rollback(rollback, decision, hours(index), limit=3)
        assert [entry["at"] for entry in rollback["history"]] == [
            "2026-11-23T02:00:00Z",
            "2026-11-23T03:00:00Z",
            "2026-11-23T04:00:00Z",
        ]

        patch = {"type": "json", "patch": [{"op": "replace", "path": "/x", "value": "1"}]}
        rollback = record_rollback(rollback, decision, hours(6), patch=patch, error="forbidden")
        last = rollback["history"][-1]
        assert last["patch"] == patch
        assert last["error"] == "forbidden"
        assert rollback["lastDecision"]["reason"] == "RollbackFailed"
        assert "the patch failed: forbidden" in rollback["lastDecision"]["message"]

    def test_a_failed_rollback_counts_for_the_cooldown_but_not_as_a_restart(self) -> None:
        monitor, executed = healthy_then({**AUTOMATIC, "cooldown": "6h"}, "critical", "critical")
        monitor.rollback["history"][-1]["error"] = "forbidden"
        again = monitor.evaluate("2", "critical")
        assert again.reason == "CooldownActive"
        monitor.clock += 6
        assert monitor.evaluate("2", "critical").action is RollbackAction.EXECUTE
        assert executed.action is RollbackAction.EXECUTE

    def test_input_is_not_mutated(self) -> None:
        original: dict[str, Any] = {"history": []}
        decision = RollbackDecision(RollbackAction.DRY_RUN, "RollbackDryRun", "m", from_version="2", to_version="1")
        record_rollback(original, decision, START)
        assert original == {"history": []}
